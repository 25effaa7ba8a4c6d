//! Dedupe that survives restarts: the inbound message ids already processed.
//!
//! Owns the `seen` table. [`Store::first_sighting`] is the single atomic
//! claim on an id (one `INSERT ... ON CONFLICT DO NOTHING`, so concurrent
//! callers and a restart in between cannot both win). It must never be
//! answered from a cache that could disagree with the table, and never
//! forget an id younger than the cutoff the caller passes to
//! [`Store::prune_seen`].

use sqlx::Sqlite;
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;

use super::{Store, StoreError};

/// The claim on one id (platform, message id, unix ms): inserts it unless
/// it is there already.
pub(super) const SIGHTING_SQL: &str = "INSERT INTO seen (platform, message_id, seen_at) \
                                       VALUES (?, ?, ?) \
                                       ON CONFLICT (platform, message_id) DO NOTHING";

/// [`SIGHTING_SQL`] with its parameters.
pub(super) fn sighting_query<'a>(
    platform: &'a str,
    message_id: &'a str,
    now_ms: i64,
) -> Query<'a, Sqlite, SqliteArguments<'a>> {
    sqlx::query(SIGHTING_SQL)
        .bind(platform)
        .bind(message_id)
        .bind(now_ms)
}

impl Store {
    /// `true` exactly once per `(platform, message_id)`: the first caller
    /// records the id and wins; every later caller, in this process or after
    /// a restart, gets `false` (until the id is pruned).
    pub async fn first_sighting(
        &self,
        platform: &str,
        message_id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sighting_query(platform, message_id, now_ms)
            .execute(&self.writer)
            .await
            .map_err(StoreError::query("first_sighting"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Forget the ids first seen before `older_than_ms` (unix ms); returns
    /// how many were dropped. Ids seen at or after the cutoff are kept.
    pub async fn prune_seen(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM seen WHERE seen_at < ?")
            .bind(older_than_ms)
            .execute(&self.writer)
            .await
            .map_err(StoreError::query("prune_seen"))?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::super::temp_store;
    use super::*;

    #[tokio::test]
    async fn true_once_then_false() {
        let (_dir, store) = temp_store().await;
        assert!(store.first_sighting("discord", "1", 10).await.unwrap());
        assert!(!store.first_sighting("discord", "1", 11).await.unwrap());
        // Same id on another platform is another message.
        assert!(store.first_sighting("slack", "1", 12).await.unwrap());
    }

    #[tokio::test]
    async fn survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        assert!(store.first_sighting("discord", "7", 1).await.unwrap());
        drop(store);
        let store = Store::open(dir.path()).await.unwrap();
        assert!(!store.first_sighting("discord", "7", 2).await.unwrap());
        assert!(store.first_sighting("discord", "8", 2).await.unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_callers_one_winner() {
        let (_dir, store) = temp_store().await;
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let store = store.clone();
                tokio::spawn(async move { store.first_sighting("discord", "555", i).await })
            })
            .collect();
        let mut winners = 0;
        for task in tasks {
            if task.await.unwrap().unwrap() {
                winners += 1;
            }
        }
        assert_eq!(winners, 1);
    }

    #[tokio::test]
    async fn prune_drops_only_older_ids() {
        let (_dir, store) = temp_store().await;
        for (id, at) in [("a", 100), ("b", 199), ("c", 200), ("d", 300)] {
            assert!(store.first_sighting("discord", id, at).await.unwrap());
        }
        assert_eq!(store.prune_seen(200).await.unwrap(), 2);
        // The pruned ids are new again; the kept ones are not.
        assert!(store.first_sighting("discord", "a", 400).await.unwrap());
        assert!(store.first_sighting("discord", "b", 400).await.unwrap());
        assert!(!store.first_sighting("discord", "c", 400).await.unwrap());
        assert!(!store.first_sighting("discord", "d", 400).await.unwrap());
        assert_eq!(store.prune_seen(0).await.unwrap(), 0);
    }
}
