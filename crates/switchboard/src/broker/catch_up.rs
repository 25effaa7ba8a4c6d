//! Catch-up after downtime: when a platform session starts anew (no resume),
//! fetch what was posted after each cursor in the known threads and allowed
//! channels active within `catch_up_window`, and feed it through the same
//! intake as live events, so dedupe and routing are one code path.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::durable::Durable;
use crate::chat::receipt::Receipt;
use crate::chat::{ChatEvent, ChatHistory, InboundSender};
use crate::store::now_ms;

/// Where to look: which channels may be caught up.
pub struct CatchUpScope {
    pub allowed_channels: HashSet<String>,
    pub allow_all_channels: bool,
    pub owned_threads: HashSet<String>,
    pub window: Duration,
}

impl CatchUpScope {
    fn covers(&self, channel: &str) -> bool {
        self.allow_all_channels
            || self.allowed_channels.contains(channel)
            || self.owned_threads.contains(channel)
    }
}

/// Fetch everything posted after the cursors in scope and push it to the
/// intake; returns how many messages were fetched.
pub async fn catch_up(
    history: Arc<dyn ChatHistory>,
    durable: Durable,
    scope: CatchUpScope,
    inbound: InboundSender,
) -> usize {
    let Some(cursors) = durable.check(
        "catch-up cursors",
        durable.store().cursors(durable.platform()).await,
    ) else {
        return 0;
    };
    let cutoff = now_ms() - i64::try_from(scope.window.as_millis()).unwrap_or(i64::MAX);
    let mut fetched = 0;
    let mut channels = 0;
    for cursor in cursors
        .iter()
        .filter(|c| c.updated_at_ms >= cutoff && scope.covers(&c.channel_id))
    {
        channels += 1;
        match history
            .messages_after(&cursor.channel_id, &cursor.message_id)
            .await
        {
            Ok(messages) => {
                fetched += messages.len();
                for message in messages {
                    if inbound
                        .send(ChatEvent::Message(Box::new(message), Receipt::none()))
                        .is_err()
                    {
                        return fetched;
                    }
                }
            }
            Err(err) => {
                tracing::warn!(platform = durable.platform(), channel = %cursor.channel_id, %err, "catch-up of a channel failed; its messages may be missed")
            }
        }
    }
    tracing::info!(
        platform = durable.platform(),
        channels,
        fetched,
        "catch-up done"
    );
    fetched
}
