//! Why a journaled message failed, when the platform refused what answering
//! it needed (a 4xx that waiting will not change): kept beside the entry
//! for the operator, and read by tests.
//!
//! Owns the `failure_reason` column only; must never change an entry's
//! state (the turn's end writes that).

use super::{Store, StoreError};

/// The longest reason kept, in characters.
pub const MAX_REASON_CHARS: usize = 500;

impl Store {
    /// Record `reason` on every message of a batch: all or none
    /// (`NoSuchEntry` if any is not journaled).
    pub async fn journal_set_failure_reason(
        &self,
        platform: &str,
        message_ids: &[&str],
        reason: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
        self.update_entries(
            "journal_set_failure_reason",
            platform,
            message_ids,
            ("failure_reason", Some(reason)),
            now_ms,
        )
        .await
    }

    /// The failure reason recorded on one entry (`None`: none, or not
    /// journaled).
    pub async fn journal_failure_reason(
        &self,
        platform: &str,
        message_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let reason: Option<Option<String>> = on_backend!(self, writer, |pool| {
            sqlx::query_scalar(
                "SELECT failure_reason FROM journal WHERE platform = $1 AND message_id = $2",
            )
            .bind(platform)
            .bind(message_id)
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query("journal_failure_reason"))?;
        Ok(reason.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestBackend, temp_store};
    use super::*;
    use crate::store::{JournalEntry, JournalState};

    both_backends!(a_reason_is_kept_beside_the_entry_and_cut_to_its_limit);

    async fn a_reason_is_kept_beside_the_entry_and_cut_to_its_limit(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        for id in ["1", "2"] {
            let entry = JournalEntry {
                platform: "discord".into(),
                message_id: id.into(),
                thread_id: "1".into(),
                channel_id: "c".into(),
                author_id: "u".into(),
                author_name: "Ada".into(),
                is_bot: false,
                content: "hi".into(),
                received_at_ms: 1,
                state: JournalState::Received,
                reply_message_ids: Vec::new(),
            };
            assert!(store.journal_insert(&entry).await.unwrap());
        }
        assert_eq!(
            store.journal_failure_reason("discord", "1").await.unwrap(),
            None
        );
        store
            .journal_set_failure_reason("discord", &["1"], "403: Missing Access", 2)
            .await
            .unwrap();
        assert_eq!(
            store
                .journal_failure_reason("discord", "1")
                .await
                .unwrap()
                .as_deref(),
            Some("403: Missing Access")
        );
        assert_eq!(
            store.journal_failure_reason("discord", "2").await.unwrap(),
            None
        );
        let long = "x".repeat(MAX_REASON_CHARS + 50);
        store
            .journal_set_failure_reason("discord", &["2"], &long, 3)
            .await
            .unwrap();
        let kept = store
            .journal_failure_reason("discord", "2")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.chars().count(), MAX_REASON_CHARS);
        assert!(
            store
                .journal_set_failure_reason("discord", &["1", "9"], "x", 4)
                .await
                .is_err(),
            "all or none"
        );
    }
}
