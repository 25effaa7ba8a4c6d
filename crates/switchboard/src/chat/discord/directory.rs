//! Which Discord channels are threads, and of which parent channel.
//!
//! Filled from the gateway (GUILD_CREATE's threads, THREAD_CREATE/UPDATE,
//! THREAD_LIST_SYNC) and from threads switchboard opens itself, so that a
//! message in a thread can inherit its parent channel's permission without a
//! REST call on the hot path. Shared by the gateway and the outbound side.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;

#[derive(Clone, Debug, Default)]
pub struct ChannelDirectory {
    parents: Arc<Mutex<HashMap<u64, u64>>>,
}

#[derive(Deserialize)]
struct ThreadStub {
    id: String,
    parent_id: Option<String>,
}

#[derive(Deserialize)]
struct GuildThreads {
    #[serde(default)]
    threads: Vec<ThreadStub>,
}

impl ChannelDirectory {
    pub fn record_thread(&self, thread_id: u64, parent_id: u64) {
        self.parents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(thread_id, parent_id);
    }

    /// The parent of `channel_id` if it is a known thread.
    pub fn parent_of(&self, channel_id: u64) -> Option<u64> {
        self.parents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&channel_id)
            .copied()
    }

    fn record_stub(&self, stub: &ThreadStub) {
        if let (Ok(id), Some(Ok(parent))) =
            (stub.id.parse(), stub.parent_id.as_deref().map(str::parse))
        {
            self.record_thread(id, parent);
        }
    }

    /// Learn from a dispatch's `d` payload (other events are ignored).
    pub fn observe(&self, event_type: &str, data: &serde_json::value::RawValue) {
        match event_type {
            "GUILD_CREATE" | "THREAD_LIST_SYNC" => {
                if let Ok(guild) = serde_json::from_str::<GuildThreads>(data.get()) {
                    guild.threads.iter().for_each(|t| self.record_stub(t));
                }
            }
            "THREAD_CREATE" | "THREAD_UPDATE" => {
                if let Ok(thread) = serde_json::from_str::<ThreadStub>(data.get()) {
                    self.record_stub(&thread);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> Box<serde_json::value::RawValue> {
        serde_json::value::RawValue::from_string(json.to_owned()).unwrap()
    }

    #[test]
    fn learns_threads_from_guild_create_and_thread_events() {
        let dir = ChannelDirectory::default();
        dir.observe(
            "GUILD_CREATE",
            &raw(r#"{"id":"1","threads":[{"id":"10","parent_id":"2"}],"channels":[{"id":"2"}]}"#),
        );
        dir.observe(
            "THREAD_CREATE",
            &raw(r#"{"id":"11","parent_id":"3","name":"x"}"#),
        );
        dir.observe("MESSAGE_CREATE", &raw(r#"{"id":"12","parent_id":"3"}"#));
        assert_eq!(dir.parent_of(10), Some(2));
        assert_eq!(dir.parent_of(11), Some(3));
        assert_eq!(dir.parent_of(12), None, "only thread events teach");
        assert_eq!(dir.parent_of(2), None, "a channel is not a thread");
    }
}
