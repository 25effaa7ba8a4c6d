//! Dedupe that survives restarts: the inbound message ids already processed.
//!
//! Owns the `seen` table. [`Store::first_sighting`] is the single atomic
//! claim on an id (one `INSERT ... ON CONFLICT DO NOTHING`, so concurrent
//! callers and a restart in between cannot both win). It must never be
//! answered from a cache that could disagree with the table, and never
//! forget an id younger than the cutoff the caller passes to
//! [`Store::prune_seen`].

use std::sync::LazyLock;

use super::{Store, StoreError};

/// The claim on one id: inserts it unless it is there already. The
/// parameters' numbers are given, so that the claim can share another
/// statement's (journal_accept's).
pub(super) fn sighting_sql(platform: usize, message_id: usize, seen_at: usize) -> String {
    format!(
        "INSERT INTO seen (platform, message_id, seen_at) \
         VALUES (${platform}, ${message_id}, ${seen_at}) \
         ON CONFLICT (platform, message_id) DO NOTHING"
    )
}

/// [`sighting_sql`] on its own: platform, message id, unix ms.
static SIGHTING_SQL: LazyLock<String> = LazyLock::new(|| sighting_sql(1, 2, 3));

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
        let inserted = on_backend!(self, writer, |pool| {
            sqlx::query(&SIGHTING_SQL)
                .bind(platform)
                .bind(message_id)
                .bind(now_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("first_sighting"))?;
        Ok(inserted == 1)
    }

    /// Forget the ids first seen before `older_than_ms` (unix ms); returns
    /// how many were dropped. Ids seen at or after the cutoff are kept.
    /// Whether `(platform, message_id)` was taken in already, by this
    /// instance or another sharing the store (the delivery check of a
    /// platform whose events are spread over several instances).
    pub async fn was_seen(&self, platform: &str, message_id: &str) -> Result<bool, StoreError> {
        on_backend!(self, reader, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM seen WHERE platform = $1 AND message_id = $2",
            )
            .bind(platform)
            .bind(message_id)
            .fetch_one(pool)
            .await
            .map(|count| count > 0)
        })
        .map_err(StoreError::query("was_seen"))
    }

    pub async fn prune_seen(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        on_backend!(self, writer, |pool| {
            sqlx::query("DELETE FROM seen WHERE seen_at < $1")
                .bind(older_than_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("prune_seen"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestBackend, TestDb, temp_store};

    both_backends!(
        true_once_then_false,
        survives_a_restart,
        prune_drops_only_older_ids
    );
    both_backends!(multi_thread: concurrent_callers_one_winner);

    async fn true_once_then_false(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        assert!(store.first_sighting("discord", "1", 10).await.unwrap());
        assert!(!store.first_sighting("discord", "1", 11).await.unwrap());
        // Same id on another platform is another message.
        assert!(store.first_sighting("slack", "1", 12).await.unwrap());
    }

    async fn survives_a_restart(backend: TestBackend) {
        let db = TestDb::new(backend).await;
        let store = db.open().await;
        assert!(store.first_sighting("discord", "7", 1).await.unwrap());
        drop(store);
        let store = db.open().await;
        assert!(!store.first_sighting("discord", "7", 2).await.unwrap());
        assert!(store.first_sighting("discord", "8", 2).await.unwrap());
    }

    async fn concurrent_callers_one_winner(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
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

    async fn prune_drops_only_older_ids(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
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
