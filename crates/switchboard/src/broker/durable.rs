//! The broker's use of the store: every write it makes, each failure logged
//! at WARN and counted in the store's health (never a silent drop, never a
//! stop). Callers go on without the write when it fails.

use crate::health::StoreHealth;
use crate::store::{JournalEntry, JournalState, Store, StoreError, ThreadRecord, now_ms};

#[derive(Clone)]
pub struct Durable {
    store: Store,
    health: StoreHealth,
    platform: &'static str,
}

impl Durable {
    pub fn new(store: Store, health: StoreHealth, platform: &'static str) -> Self {
        Self {
            store,
            health,
            platform,
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn platform(&self) -> &'static str {
        self.platform
    }

    /// Log and count a failed store operation; `None` on failure.
    pub fn check<T>(&self, what: &str, result: Result<T, StoreError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                tracing::warn!(platform = self.platform, operation = what, %err, "store operation failed; continuing without it");
                self.health.record_error(&format!("{what}: {err}"));
                None
            }
        }
    }

    pub async fn set_states(&self, message_ids: &[String], state: JournalState) {
        for id in message_ids {
            let result = self
                .store
                .journal_set_state(self.platform, id, state, now_ms())
                .await;
            self.check("journal state", result);
        }
    }

    pub async fn set_reply(&self, message_ids: &[String], reply_ids: &[String]) {
        let ids: Vec<&str> = message_ids.iter().map(String::as_str).collect();
        let result = self
            .store
            .journal_set_reply(self.platform, &ids, reply_ids, now_ms())
            .await;
        self.check("journal reply ids", result);
    }

    pub async fn set_session(
        &self,
        thread_id: &str,
        session_id: &str,
        cwd: &str,
        supports_load: bool,
    ) {
        let result = self
            .store
            .set_thread_session(
                self.platform,
                thread_id,
                Some(session_id),
                Some(cwd),
                supports_load,
            )
            .await;
        self.check("thread session", result);
    }

    /// Record that the thread was told its earlier agent context is gone.
    pub async fn context_lost_notified(&self, thread_id: &str) {
        let result = self
            .store
            .mark_context_lost_notified(self.platform, thread_id)
            .await;
        self.check("context-lost notice", result);
    }

    pub async fn touch_thread(&self, thread_id: &str) {
        let result = self
            .store
            .touch_thread(self.platform, thread_id, now_ms())
            .await;
        self.check("thread activity", result);
    }

    pub async fn save_thread(&self, thread_id: &str, channel_id: &str) {
        let now = now_ms();
        let record = ThreadRecord {
            platform: self.platform.to_owned(),
            thread_id: thread_id.to_owned(),
            channel_id: channel_id.to_owned(),
            created_at_ms: now,
            last_active_at_ms: now,
            session_id: None,
            cwd: None,
            supports_load: false,
            context_lost_notified: false,
        };
        let result = self.store.upsert_thread(&record).await;
        self.check("thread", result);
    }

    /// Journal an accepted message before acting on it: `Some(true)` the
    /// first time, `Some(false)` for a duplicate, `None` if the store failed.
    pub async fn journal(&self, entry: &JournalEntry) -> Option<bool> {
        let result = self.store.journal_insert(entry).await;
        self.check("journal insert", result)
    }

    /// Dedupe a message not acted on: `None` if the store failed.
    pub async fn first_sighting(&self, message_id: &str) -> Option<bool> {
        let result = self
            .store
            .first_sighting(self.platform, message_id, now_ms())
            .await;
        self.check("dedupe", result)
    }

    pub async fn advance_cursor(&self, channel_id: &str, message_id: &str) {
        let result = self
            .store
            .advance_cursor(self.platform, channel_id, message_id, now_ms())
            .await;
        self.check("cursor", result);
    }

    pub fn record_caught_up(&self) {
        self.health.record_caught_up();
    }
}
