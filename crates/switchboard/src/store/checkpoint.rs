//! The background WAL checkpoint.
//!
//! SQLite's automatic checkpoint runs inside whichever commit makes the WAL
//! reach [`BACKSTOP_PAGES`], and fsyncs there: a message's journal write
//! would now and then wait milliseconds on the disk. This task copies the
//! WAL back into the main file every [`EVERY`] with a PASSIVE checkpoint on
//! a reader connection, which never blocks a writer and never waits for
//! one; once it has copied everything, the next write starts the WAL over,
//! so under a chat's usual load the automatic one never fires. Under writes
//! without a pause a passive checkpoint never quite catches up (new frames
//! keep arriving) and the WAL would only grow, so the automatic checkpoint
//! stays on as the backstop: it runs in the writer, between two writes,
//! finds little left to copy, and bounds the WAL.
//!
//! The task must never run after the pools are closed; it ends when the
//! last [`Store`](super::Store) handle is dropped.

use std::time::Duration;

use sqlx::SqlitePool;
use tokio::task::AbortHandle;

/// How often the WAL is checkpointed (a no-op when nothing was written).
pub(super) const EVERY: Duration = Duration::from_secs(1);
/// WAL pages that make a commit checkpoint (SQLite's default threshold).
pub(super) const BACKSTOP_PAGES: u32 = 1000;

/// The running checkpoint task; dropping it stops the task.
#[derive(Debug)]
pub(super) struct Checkpointer(AbortHandle);

impl Checkpointer {
    /// Start checkpointing `pool`'s database every [`EVERY`].
    pub(super) fn start(pool: SqlitePool) -> Self {
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if pool.is_closed() {
                    return;
                }
                if let Err(err) = checkpoint(&pool).await {
                    // The next tick tries again; the WAL only grows meanwhile.
                    tracing::debug!(%err, "WAL checkpoint failed");
                }
            }
        });
        Self(task.abort_handle())
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One PASSIVE checkpoint: copies what it can without waiting for anyone.
pub(super) async fn checkpoint(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .execute(pool)
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestBackend, TestDb};
    use super::*;

    async fn temp_store() -> (TestDb, super::super::Store) {
        super::super::test_support::temp_store(TestBackend::Sqlite).await
    }

    /// Whether every page of the database is in the main file (that is,
    /// the WAL has been checkpointed), asked without checkpointing.
    async fn checkpointed(store: &super::super::Store) -> bool {
        let (pages, page_size): (i64, i64) =
            sqlx::query_as("SELECT page_count, page_size FROM pragma_page_count, pragma_page_size")
                .fetch_one(&store.sqlite().pool)
                .await
                .unwrap();
        let on_disk = std::fs::metadata(store.sqlite_path().unwrap())
            .unwrap()
            .len();
        on_disk >= (pages * page_size) as u64
    }

    fn wal_bytes(store: &super::super::Store) -> u64 {
        let mut wal = store.sqlite_path().unwrap().as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(wal).map_or(0, |m| m.len())
    }

    #[tokio::test]
    async fn the_background_task_checkpoints_what_writes_leave() {
        let (_dir, store) = temp_store().await;
        let backstop: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(&store.sqlite().writer)
            .await
            .unwrap();
        assert_eq!(backstop, i64::from(BACKSTOP_PAGES));
        // Far fewer pages than the backstop: no commit checkpoints these.
        for i in 0..50 {
            store
                .first_sighting("discord", &i.to_string(), 1)
                .await
                .unwrap();
        }
        // The new pages live in the WAL until a checkpoint copies them into
        // the main file; only the background task can do that here.
        let deadline = tokio::time::Instant::now() + EVERY * 5;
        while !checkpointed(&store).await {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no background checkpoint within {:?}",
                EVERY * 5
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_without_a_pause_keep_the_wal_bounded() {
        let (_dir, store) = temp_store().await;
        let bound = 2 * u64::from(BACKSTOP_PAGES) * 4096 + 64 * 1024;
        let mut largest = 0;
        for i in 0..4_000 {
            store
                .first_sighting("discord", &i.to_string(), 1)
                .await
                .unwrap();
            largest = largest.max(wal_bytes(&store));
        }
        assert!(
            largest < bound,
            "the WAL grew to {largest} bytes (bound {bound})"
        );
    }

    #[tokio::test]
    async fn the_task_ends_with_the_last_handle() {
        let (_dir, store) = temp_store().await;
        let handle = store.sqlite()._checkpoint.0.clone();
        let copy = store.clone();
        drop(store);
        tokio::task::yield_now().await;
        assert!(!handle.is_finished(), "a handle is still alive");
        drop(copy);
        tokio::time::timeout(Duration::from_secs(1), async {
            while !handle.is_finished() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the task stops once the last handle is gone");
    }
}
