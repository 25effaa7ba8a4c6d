//! Catch-up cursors: the newest message id seen per channel or thread.
//!
//! Owns the `cursors` table. After a restart or a long disconnect the
//! platform reads history after each cursor, so a cursor must never move
//! backwards: [`Store::advance_cursor`] compares [`id_order_key`]s inside
//! the one upsert statement, so concurrent writers cannot undo each other.
//! This file must never compare ids as plain text.

use std::sync::LazyLock;

use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::id_order::id_order_key;
use super::{Store, StoreError};

/// Where catch-up resumes in one channel or thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub channel_id: String,
    /// The newest message id seen there.
    pub message_id: String,
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
         VALUES (?, ?, ?, ?, ?){UPSERT_FORWARD}"
    )
});

/// Move one cursor forward (or create it); a no-op for an older id.
fn advance_query<'a>(
    platform: &'a str,
    channel_id: &'a str,
    message_id: &'a str,
    now_ms: i64,
) -> Query<'a, Sqlite, SqliteArguments<'a>> {
    sqlx::query(&ADVANCE_SQL)
        .bind(platform)
        .bind(channel_id)
        .bind(message_id)
        .bind(id_order_key(message_id))
        .bind(now_ms)
}

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
        let done = advance_query(platform, channel_id, message_id, now_ms)
            .execute(&self.writer)
            .await
            .map_err(StoreError::query("advance_cursor"))?;
        Ok(done.rows_affected() == 1)
    }

    /// [`Store::advance_cursor`] for each `(channel_id, message_id)` (one
    /// position per channel), in one statement: one round trip for a
    /// batch. Returns how many cursors moved.
    pub async fn advance_cursors(
        &self,
        platform: &str,
        positions: &[(String, String)],
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        if positions.is_empty() {
            return Ok(0);
        }
        let mut sql = QueryBuilder::<Sqlite>::new(
            "INSERT INTO cursors (platform, channel_id, message_id, id_key, updated_at) ",
        );
        sql.push_values(positions, |mut row, (channel_id, message_id)| {
            row.push_bind(platform)
                .push_bind(channel_id)
                .push_bind(message_id)
                .push_bind(id_order_key(message_id))
                .push_bind(now_ms);
        });
        sql.push(UPSERT_FORWARD);
        let done = sql
            .build()
            .execute(&self.writer)
            .await
            .map_err(StoreError::query("advance_cursors"))?;
        Ok(done.rows_affected())
    }

    /// Every cursor of `platform`, by channel id.
    pub async fn cursors(&self, platform: &str) -> Result<Vec<Cursor>, StoreError> {
        sqlx::query(
            "SELECT channel_id, message_id, updated_at FROM cursors \
             WHERE platform = ? ORDER BY channel_id",
        )
        .bind(platform)
        .try_map(|row: SqliteRow| {
            Ok(Cursor {
                channel_id: row.try_get("channel_id")?,
                message_id: row.try_get("message_id")?,
                updated_at_ms: row.try_get("updated_at")?,
            })
        })
        .fetch_all(&self.pool)
        .await
        .map_err(StoreError::query("cursors"))
    }

    /// Forget cursors not moved since `older_than_ms`; returns how many.
    /// Catch-up only uses cursors moved within `catch_up_window`, so one
    /// older than that is never read again.
    pub async fn prune_cursors(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM cursors WHERE updated_at < ?")
            .bind(older_than_ms)
            .execute(&self.writer)
            .await
            .map_err(StoreError::query("prune_cursors"))?;
        Ok(done.rows_affected())
    }
}

#[cfg(test)]
mod tests {
    use super::super::temp_store;
    use super::*;

    async fn position(store: &Store, platform: &str, channel: &str) -> String {
        let cursors = store.cursors(platform).await.unwrap();
        let cursor = cursors.iter().find(|c| c.channel_id == channel).unwrap();
        cursor.message_id.clone()
    }

    #[tokio::test]
    async fn cursors_not_moved_since_the_cutoff_are_pruned() {
        let (_dir, store) = temp_store().await;
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

    #[tokio::test]
    async fn discord_cursor_moves_forward_by_value() {
        let (_dir, store) = temp_store().await;
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

    #[tokio::test]
    async fn slack_cursor_moves_forward_by_ts() {
        let (_dir, store) = temp_store().await;
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

    #[tokio::test]
    async fn a_batch_moves_each_cursor_forward_only() {
        let (_dir, store) = temp_store().await;
        store.advance_cursor("discord", "a", "50", 1).await.unwrap();
        let batch = [
            ("a".to_owned(), "40".to_owned()),
            ("b".to_owned(), "7".to_owned()),
            ("b".to_owned(), "9".to_owned()),
            ("b".to_owned(), "8".to_owned()),
        ];
        assert_eq!(
            store.advance_cursors("discord", &batch, 2).await.unwrap(),
            2
        );
        assert_eq!(position(&store, "discord", "a").await, "50");
        assert_eq!(position(&store, "discord", "b").await, "9");
    }

    #[tokio::test]
    async fn cursors_are_per_platform_and_channel_and_persist() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        store.advance_cursor("discord", "b", "5", 1).await.unwrap();
        store.advance_cursor("discord", "a", "7", 1).await.unwrap();
        store.advance_cursor("slack", "a", "1.5", 1).await.unwrap();
        drop(store);
        let store = Store::open(dir.path()).await.unwrap();
        let got = store.cursors("discord").await.unwrap();
        let pairs: Vec<_> = got
            .iter()
            .map(|c| (&*c.channel_id, &*c.message_id))
            .collect();
        assert_eq!(pairs, [("a", "7"), ("b", "5")]);
        assert_eq!(store.cursors("slack").await.unwrap().len(), 1);
    }
}
