//! The threads switchboard owns or has answered in, per platform.
//!
//! Owns the `threads` table: where each thread lives, when it was last
//! active, which agent session (and working directory) serves it, whether
//! that session can be loaded again after a restart, and whether the
//! one-time "earlier context was not kept" notice went out. It must never
//! invent a thread: the updates below fail with `NoSuchThread` rather than
//! create a half-filled row.

use std::sync::LazyLock;

use super::{JournalState, Store, StoreError};

/// One thread as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ThreadRecord {
    pub platform: String,
    pub thread_id: String,
    /// The channel the thread hangs off.
    pub channel_id: String,
    #[sqlx(rename = "created_at")]
    pub created_at_ms: i64,
    #[sqlx(rename = "last_active_at")]
    pub last_active_at_ms: i64,
    /// The agent's session id, once a session exists.
    pub session_id: Option<String>,
    /// The agent's working directory for that session.
    pub cwd: Option<String>,
    /// The agent can `session/load` this session after a restart.
    pub supports_load: bool,
    /// The one-time "earlier context was not kept" notice was sent.
    pub context_lost_notified: bool,
}

/// The `threads` row has a journal entry not yet finished; `first` is the
/// number of the first of its two parameters (the two finished states).
fn unfinished_in_thread(first: usize) -> String {
    let second = first + 1;
    format!(
        "EXISTS (SELECT 1 FROM journal j \
         WHERE j.platform = threads.platform AND j.thread_id = threads.thread_id \
         AND j.state NOT IN (${first}, ${second}))"
    )
}

const COLUMNS: &str = "platform, thread_id, channel_id, created_at, last_active_at, \
                       session_id, cwd, supports_load, context_lost_notified";

static THREADS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM threads WHERE platform = $1 \
         ORDER BY last_active_at DESC, thread_id"
    )
});

static ACTIVE_SINCE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM threads WHERE platform = $1 \
         AND (last_active_at >= $2 OR {}) \
         ORDER BY last_active_at DESC, thread_id",
        unfinished_in_thread(3)
    )
});

static PRUNE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "DELETE FROM threads WHERE last_active_at < $1 AND NOT {}",
        unfinished_in_thread(2)
    )
});

static THREAD_SQL: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM threads WHERE platform = $1 AND thread_id = $2")
});

impl Store {
    /// Insert the thread, or overwrite every field of the stored one except
    /// `created_at`, which keeps its first value.
    pub async fn upsert_thread(&self, t: &ThreadRecord) -> Result<(), StoreError> {
        on_backend!(self, writer, |pool| {
            sqlx::query(
                "INSERT INTO threads (platform, thread_id, channel_id, created_at, \
                                      last_active_at, session_id, cwd, supports_load, \
                                      context_lost_notified) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                 ON CONFLICT (platform, thread_id) DO UPDATE SET \
                     channel_id = excluded.channel_id, \
                     last_active_at = excluded.last_active_at, \
                     session_id = excluded.session_id, \
                     cwd = excluded.cwd, \
                     supports_load = excluded.supports_load, \
                     context_lost_notified = excluded.context_lost_notified",
            )
            .bind(&t.platform)
            .bind(&t.thread_id)
            .bind(&t.channel_id)
            .bind(t.created_at_ms)
            .bind(t.last_active_at_ms)
            .bind(&t.session_id)
            .bind(&t.cwd)
            .bind(t.supports_load)
            .bind(t.context_lost_notified)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(StoreError::query("upsert_thread"))
    }

    /// Every thread of `platform`, most recently active first.
    pub async fn threads(&self, platform: &str) -> Result<Vec<ThreadRecord>, StoreError> {
        on_backend!(self, reader, |pool| {
            sqlx::query_as(&THREADS_SQL)
                .bind(platform)
                .fetch_all(pool)
                .await
        })
        .map_err(StoreError::query("threads"))
    }

    /// The threads of `platform` worth loading at start: active at or
    /// after `since_ms`, or holding an unfinished journal entry (recovery
    /// answers those); most recently active first.
    pub async fn threads_active_since(
        &self,
        platform: &str,
        since_ms: i64,
    ) -> Result<Vec<ThreadRecord>, StoreError> {
        let [a, b] = JournalState::FINISHED;
        on_backend!(self, reader, |pool| {
            sqlx::query_as(&ACTIVE_SINCE_SQL)
                .bind(platform)
                .bind(since_ms)
                .bind(a.as_str())
                .bind(b.as_str())
                .fetch_all(pool)
                .await
        })
        .map_err(StoreError::query("threads_active_since"))
    }

    /// Forget threads last active before `older_than_ms` that hold no
    /// unfinished journal entry; returns how many. A follow-up there then
    /// needs a mention again (the bot adopts the thread anew).
    pub async fn prune_threads(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let [a, b] = JournalState::FINISHED;
        on_backend!(self, writer, |pool| {
            sqlx::query(&PRUNE_SQL)
                .bind(older_than_ms)
                .bind(a.as_str())
                .bind(b.as_str())
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("prune_threads"))
    }

    /// One thread, if stored.
    pub async fn thread(
        &self,
        platform: &str,
        thread_id: &str,
    ) -> Result<Option<ThreadRecord>, StoreError> {
        on_backend!(self, reader, |pool| {
            sqlx::query_as(&THREAD_SQL)
                .bind(platform)
                .bind(thread_id)
                .fetch_optional(pool)
                .await
        })
        .map_err(StoreError::query("thread"))
    }

    /// Record (or clear, with `None`) the agent session serving the thread.
    pub async fn set_thread_session(
        &self,
        platform: &str,
        thread_id: &str,
        session_id: Option<&str>,
        cwd: Option<&str>,
        supports_load: bool,
    ) -> Result<(), StoreError> {
        let updated = on_backend!(self, writer, |pool| {
            sqlx::query(
                "UPDATE threads SET session_id = $1, cwd = $2, supports_load = $3 \
                 WHERE platform = $4 AND thread_id = $5",
            )
            .bind(session_id)
            .bind(cwd)
            .bind(supports_load)
            .bind(platform)
            .bind(thread_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("set_thread_session"))?;
        found(updated, "set_thread_session", platform, thread_id)
    }

    /// Remember that the "earlier context was not kept" notice was sent.
    pub async fn mark_context_lost_notified(
        &self,
        platform: &str,
        thread_id: &str,
    ) -> Result<(), StoreError> {
        let updated = on_backend!(self, writer, |pool| {
            sqlx::query(
                "UPDATE threads SET context_lost_notified = $1 \
                 WHERE platform = $2 AND thread_id = $3",
            )
            .bind(true)
            .bind(platform)
            .bind(thread_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("mark_context_lost_notified"))?;
        found(updated, "mark_context_lost_notified", platform, thread_id)
    }

    /// Move `last_active_at` to `now_ms`; never backwards.
    pub async fn touch_thread(
        &self,
        platform: &str,
        thread_id: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        // Never backwards: `$1` only if it is later.
        let updated = on_backend!(self, writer, |pool| {
            sqlx::query(
                "UPDATE threads SET last_active_at = \
                     CASE WHEN last_active_at < $1 THEN $1 ELSE last_active_at END \
                 WHERE platform = $2 AND thread_id = $3",
            )
            .bind(now_ms)
            .bind(platform)
            .bind(thread_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("touch_thread"))?;
        found(updated, "touch_thread", platform, thread_id)
    }
}

/// `NoSuchThread` when an update matched no row.
fn found(rows: u64, op: &'static str, platform: &str, thread_id: &str) -> Result<(), StoreError> {
    if rows == 0 {
        return Err(StoreError::NoSuchThread {
            op,
            platform: platform.to_owned(),
            thread_id: thread_id.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestBackend, temp_store};
    use super::*;

    both_backends!(
        upsert_inserts_then_updates_keeping_created_at,
        old_threads_are_pruned_and_not_loaded_unless_they_hold_unfinished_work,
        list_is_per_platform_most_recent_first,
        session_notice_and_touch,
        updates_of_unknown_threads_fail,
    );

    fn record(thread_id: &str, last_active_at_ms: i64) -> ThreadRecord {
        ThreadRecord {
            platform: "discord".into(),
            thread_id: thread_id.into(),
            channel_id: "c1".into(),
            created_at_ms: 1_000,
            last_active_at_ms,
            session_id: None,
            cwd: None,
            supports_load: false,
            context_lost_notified: false,
        }
    }

    async fn upsert_inserts_then_updates_keeping_created_at(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        let t = record("t1", 2_000);
        store.upsert_thread(&t).await.unwrap();
        assert_eq!(
            store.thread("discord", "t1").await.unwrap(),
            Some(t.clone())
        );

        let changed = ThreadRecord {
            channel_id: "c2".into(),
            created_at_ms: 9_999,
            last_active_at_ms: 3_000,
            session_id: Some("s1".into()),
            cwd: Some("/w".into()),
            supports_load: true,
            context_lost_notified: true,
            ..t.clone()
        };
        store.upsert_thread(&changed).await.unwrap();
        let got = store.thread("discord", "t1").await.unwrap().unwrap();
        assert_eq!(
            got,
            ThreadRecord {
                created_at_ms: 1_000,
                ..changed
            }
        );
        assert_eq!(store.thread("discord", "nope").await.unwrap(), None);
        assert_eq!(store.thread("slack", "t1").await.unwrap(), None);
    }

    fn unfinished_in(thread_id: &str, message_id: &str) -> crate::store::JournalEntry {
        crate::store::JournalEntry {
            platform: "discord".into(),
            message_id: message_id.into(),
            thread_id: thread_id.into(),
            channel_id: "c1".into(),
            author_id: "u1".into(),
            author_name: "Ada".into(),
            is_bot: false,
            content: "x".into(),
            received_at_ms: 1,
            state: JournalState::Received,
            reply_message_ids: Vec::new(),
        }
    }

    async fn old_threads_are_pruned_and_not_loaded_unless_they_hold_unfinished_work(
        backend: TestBackend,
    ) {
        let (_db, store) = temp_store(backend).await;
        store.upsert_thread(&record("old", 10)).await.unwrap();
        store.upsert_thread(&record("old-busy", 10)).await.unwrap();
        store.upsert_thread(&record("new", 100)).await.unwrap();
        store.upsert_thread(&record("old-done", 10)).await.unwrap();
        store
            .journal_insert(&unfinished_in("old-busy", "m1"))
            .await
            .unwrap();
        store
            .journal_insert(&unfinished_in("old-done", "m2"))
            .await
            .unwrap();
        store
            .journal_set_state("discord", "m2", JournalState::Answered, 20)
            .await
            .unwrap();

        let loaded: Vec<_> = store
            .threads_active_since("discord", 50)
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.thread_id)
            .collect();
        assert_eq!(loaded, ["new", "old-busy"]);

        assert_eq!(
            store.prune_threads(50).await.unwrap(),
            2,
            "old and old-done"
        );
        let left: Vec<_> = store
            .threads("discord")
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.thread_id)
            .collect();
        assert_eq!(left, ["new", "old-busy"]);
    }

    async fn list_is_per_platform_most_recent_first(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        store.upsert_thread(&record("old", 10)).await.unwrap();
        store.upsert_thread(&record("new", 30)).await.unwrap();
        store.upsert_thread(&record("mid", 20)).await.unwrap();
        let other = ThreadRecord {
            platform: "slack".into(),
            ..record("s", 99)
        };
        store.upsert_thread(&other).await.unwrap();
        let ids: Vec<_> = store
            .threads("discord")
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.thread_id)
            .collect();
        assert_eq!(ids, ["new", "mid", "old"]);
        assert_eq!(store.threads("slack").await.unwrap(), [other]);
        assert!(store.threads("matrix").await.unwrap().is_empty());
    }

    async fn session_notice_and_touch(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        store.upsert_thread(&record("t1", 100)).await.unwrap();
        store
            .set_thread_session("discord", "t1", Some("s9"), Some("/repo"), true)
            .await
            .unwrap();
        store
            .mark_context_lost_notified("discord", "t1")
            .await
            .unwrap();
        store.touch_thread("discord", "t1", 500).await.unwrap();
        store.touch_thread("discord", "t1", 400).await.unwrap(); // never backwards
        let t = store.thread("discord", "t1").await.unwrap().unwrap();
        assert_eq!(t.session_id.as_deref(), Some("s9"));
        assert_eq!(t.cwd.as_deref(), Some("/repo"));
        assert!(t.supports_load);
        assert!(t.context_lost_notified);
        assert_eq!(t.last_active_at_ms, 500);

        store
            .set_thread_session("discord", "t1", None, None, false)
            .await
            .unwrap();
        let t = store.thread("discord", "t1").await.unwrap().unwrap();
        assert_eq!((t.session_id, t.cwd, t.supports_load), (None, None, false));
    }

    async fn updates_of_unknown_threads_fail(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        let e = store.touch_thread("discord", "ghost", 1).await.unwrap_err();
        assert!(
            matches!(
                e,
                StoreError::NoSuchThread {
                    op: "touch_thread",
                    ..
                }
            ),
            "{e}"
        );
        let e = store
            .mark_context_lost_notified("discord", "ghost")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("ghost"), "{e}");
        assert!(
            store
                .set_thread_session("discord", "ghost", None, None, false)
                .await
                .is_err()
        );
    }
}
