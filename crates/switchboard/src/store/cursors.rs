//! Catch-up cursors: the newest message id seen per channel or thread.
//!
//! Owns the `cursors` table. After a restart or a long disconnect the
//! platform reads history after each cursor, so a cursor must never move
//! backwards: [`Store::advance_cursor`] compares [`id_order_key`]s inside
//! the one upsert statement, so concurrent writers cannot undo each other.
//! This file must never compare ids as plain text.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use sqlx::QueryBuilder;

use super::id_order::id_order_key;
use super::{Store, StoreError};

/// Where catch-up resumes in one channel or thread.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Cursor {
    pub channel_id: String,
    /// The newest message id seen there.
    pub message_id: String,
    #[sqlx(rename = "updated_at")]
    pub updated_at_ms: i64,
}

/// What an insert of a cursor that exists does: move it, only forward.
const UPSERT_FORWARD: &str = " ON CONFLICT (platform, channel_id) DO UPDATE SET \
                                  message_id = excluded.message_id, \
                                  id_key = excluded.id_key, \
                                  updated_at = excluded.updated_at \
                              WHERE cursors.id_key < excluded.id_key";

static ADVANCE_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO cursors (platform, channel_id, message_id, id_key, updated_at) \
         VALUES ($1, $2, $3, $4, $5){UPSERT_FORWARD}"
    )
});

impl Store {
    /// Move the cursor of `(platform, channel_id)` to `message_id` if that
    /// is newer (by [`id_order_key`]) than the stored one, or create it.
    /// Returns whether it moved; an older or equal id changes nothing.
    pub async fn advance_cursor(
        &self,
        platform: &str,
        channel_id: &str,
        message_id: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let moved = on_backend!(self, writer, |pool| {
            sqlx::query(&ADVANCE_SQL)
                .bind(platform)
                .bind(channel_id)
                .bind(message_id)
                .bind(id_order_key(message_id))
                .bind(now_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("advance_cursor"))?;
        Ok(moved == 1)
    }

    /// [`Store::advance_cursor`] for each `(channel_id, message_id)`, in
    /// one statement: one round trip for a batch. A channel named more than
    /// once moves to the newest of its ids (PostgreSQL refuses to upsert a
    /// row twice in one statement). Returns how many cursors moved.
    pub async fn advance_cursors(
        &self,
        platform: &str,
        positions: &[(String, String)],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut newest: BTreeMap<&str, (String, &str)> = BTreeMap::new();
        for (channel_id, message_id) in positions {
            let key = id_order_key(message_id);
            match newest.get(channel_id.as_str()) {
                Some((kept, _)) if *kept >= key => {}
                _ => {
                    newest.insert(channel_id, (key, message_id));
                }
            }
        }
        if newest.is_empty() {
            return Ok(0);
        }
        on_backend!(self, writer, |pool| {
            let mut sql = QueryBuilder::new(
                "INSERT INTO cursors (platform, channel_id, message_id, id_key, updated_at) ",
            );
            sql.push_values(&newest, |mut row, (channel_id, (key, message_id))| {
                row.push_bind(platform)
                    .push_bind(*channel_id)
                    .push_bind(*message_id)
                    .push_bind(key.as_str())
                    .push_bind(now_ms);
            });
            sql.push(UPSERT_FORWARD);
            sql.build()
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("advance_cursors"))
    }

    /// Every cursor of `platform`, by channel id.
    pub async fn cursors(&self, platform: &str) -> Result<Vec<Cursor>, StoreError> {
        on_backend!(self, reader, |pool| {
            sqlx::query_as(
                "SELECT channel_id, message_id, updated_at FROM cursors \
                 WHERE platform = $1 ORDER BY channel_id",
            )
            .bind(platform)
            .fetch_all(pool)
            .await
        })
        .map_err(StoreError::query("cursors"))
    }

    /// Forget cursors not moved since `older_than_ms`; returns how many.
    /// Catch-up only uses cursors moved within `catch_up_window`, so one
    /// older than that is never read again.
    pub async fn prune_cursors(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        on_backend!(self, writer, |pool| {
            sqlx::query("DELETE FROM cursors WHERE updated_at < $1")
                .bind(older_than_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("prune_cursors"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestBackend, TestDb, temp_store};
    use super::*;

    both_backends!(
        cursors_not_moved_since_the_cutoff_are_pruned,
        discord_cursor_moves_forward_by_value,
        slack_cursor_moves_forward_by_ts,
        a_batch_moves_each_cursor_forward_only,
        cursors_are_per_platform_and_channel_and_persist,
        id_keys_compare_bytewise,
    );

    async fn position(store: &Store, platform: &str, channel: &str) -> String {
        let cursors = store.cursors(platform).await.unwrap();
        let cursor = cursors.iter().find(|c| c.channel_id == channel).unwrap();
        cursor.message_id.clone()
    }

    async fn cursors_not_moved_since_the_cutoff_are_pruned(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        store
            .advance_cursor("discord", "old", "5", 10)
            .await
            .unwrap();
        store
            .advance_cursor("discord", "new", "7", 100)
            .await
            .unwrap();
        assert_eq!(store.prune_cursors(50).await.unwrap(), 1);
        let left: Vec<_> = store
            .cursors("discord")
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.channel_id)
            .collect();
        assert_eq!(left, ["new"]);
    }

    async fn discord_cursor_moves_forward_by_value(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        assert!(
            store
                .advance_cursor("discord", "c1", "99", 1)
                .await
                .unwrap()
        );
        assert!(
            store
                .advance_cursor("discord", "c1", "100", 2)
                .await
                .unwrap()
        );
        assert!(
            !store
                .advance_cursor("discord", "c1", "99", 3)
                .await
                .unwrap()
        );
        assert!(
            !store
                .advance_cursor("discord", "c1", "100", 4)
                .await
                .unwrap()
        );
        assert!(!store.advance_cursor("discord", "c1", "1", 5).await.unwrap());
        assert_eq!(position(&store, "discord", "c1").await, "100");
        let cursors = store.cursors("discord").await.unwrap();
        assert_eq!(
            cursors[0].updated_at_ms, 2,
            "a refused move keeps the old time"
        );
    }

    async fn slack_cursor_moves_forward_by_ts(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        store
            .advance_cursor("slack", "C1", "1700000000.000100", 1)
            .await
            .unwrap();
        store
            .advance_cursor("slack", "C1", "1700000000.000099", 2)
            .await
            .unwrap();
        assert_eq!(position(&store, "slack", "C1").await, "1700000000.000100");
        store
            .advance_cursor("slack", "C1", "1700000001.000000", 3)
            .await
            .unwrap();
        assert_eq!(position(&store, "slack", "C1").await, "1700000001.000000");
    }

    async fn a_batch_moves_each_cursor_forward_only(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        store.advance_cursor("discord", "a", "50", 1).await.unwrap();
        let batch = [
            ("a".to_owned(), "40".to_owned()),
            ("b".to_owned(), "7".to_owned()),
            ("b".to_owned(), "9".to_owned()),
            ("b".to_owned(), "8".to_owned()),
        ];
        // "a" stays (40 is older); "b" is created at its newest id, 9.
        assert_eq!(
            store.advance_cursors("discord", &batch, 2).await.unwrap(),
            1
        );
        assert_eq!(position(&store, "discord", "a").await, "50");
        assert_eq!(position(&store, "discord", "b").await, "9");
        let newer = [
            ("a".to_owned(), "51".to_owned()),
            ("b".to_owned(), "10".to_owned()),
        ];
        assert_eq!(
            store.advance_cursors("discord", &newer, 3).await.unwrap(),
            2
        );
    }

    /// Ids that are not numbers are their own keys and compare as bytes
    /// ('B' < 'a'), as SQLite compares text; a locale's collation on
    /// PostgreSQL would put 'a' first (hence `COLLATE "C"` there).
    async fn id_keys_compare_bytewise(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        assert!(store.advance_cursor("discord", "c", "a", 1).await.unwrap());
        assert!(
            !store.advance_cursor("discord", "c", "B", 2).await.unwrap(),
            "'B' sorts before 'a' bytewise: not newer"
        );
        assert_eq!(position(&store, "discord", "c").await, "a");
        assert!(store.advance_cursor("discord", "d", "B", 1).await.unwrap());
        assert!(store.advance_cursor("discord", "d", "a", 2).await.unwrap());
        assert_eq!(position(&store, "discord", "d").await, "a");

        let entry = |id: &str| crate::store::JournalEntry {
            platform: "discord".into(),
            message_id: id.into(),
            thread_id: "t".into(),
            channel_id: "c".into(),
            author_id: "u".into(),
            author_name: "Ada".into(),
            is_bot: false,
            content: "x".into(),
            received_at_ms: 5,
            state: crate::store::JournalState::Received,
            reply_message_ids: Vec::new(),
        };
        for id in ["a", "B", "_"] {
            assert!(store.journal_insert(&entry(id)).await.unwrap());
        }
        let order: Vec<String> = store
            .journal_unfinished("discord")
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.message_id)
            .collect();
        assert_eq!(order, ["B", "_", "a"], "by id_key, bytewise");
    }

    async fn cursors_are_per_platform_and_channel_and_persist(backend: TestBackend) {
        let db = TestDb::new(backend).await;
        let store = db.open().await;
        store.advance_cursor("discord", "b", "5", 1).await.unwrap();
        store.advance_cursor("discord", "a", "7", 1).await.unwrap();
        store.advance_cursor("slack", "a", "1.5", 1).await.unwrap();
        drop(store);
        let store = db.open().await;
        let got = store.cursors("discord").await.unwrap();
        let pairs: Vec<_> = got
            .iter()
            .map(|c| (&*c.channel_id, &*c.message_id))
            .collect();
        assert_eq!(pairs, [("a", "7"), ("b", "5")]);
        assert_eq!(store.cursors("slack").await.unwrap().len(), 1);
    }
}
