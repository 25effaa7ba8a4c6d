//! The broker's front door: every platform event passes here once.
//!
//! Duplicate deliveries of a message (same platform, same id) are dropped
//! and counted; distinct messages are counted and handed to the platform's
//! [`Bridge`].

use tokio_util::sync::CancellationToken;

use std::collections::HashMap;

use super::bridge::Bridge;
use super::dedupe::RecentIds;
use crate::chat::{ChatEvent, InboundReceiver, Platform};
use crate::metrics::Metrics;

/// Ids remembered for dedupe; a replay older than this many messages is not
/// expected from a gateway resume.
const DEDUPE_WINDOW: usize = 10_000;

/// Consume platform events until shutdown or until every sender is gone.
pub async fn run_intake(
    mut inbound: InboundReceiver,
    metrics: Metrics,
    mut bridges: HashMap<Platform, Bridge>,
    shutdown: CancellationToken,
) {
    let mut recent = RecentIds::new(DEDUPE_WINDOW);
    loop {
        let event = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            event = inbound.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        let ChatEvent::Message(message) = event;
        let platform = message.platform.as_str();
        let key = format!("{platform}:{}", message.id);
        if !recent.first_sighting(&key) {
            metrics.duplicate_event(platform);
            tracing::debug!(platform, message_id = %message.id, "duplicate message event dropped");
            continue;
        }
        metrics.message_received(platform);
        tracing::info!(
            platform,
            message_id = %message.id,
            channel_id = %message.channel_id,
            author_id = %message.author.id,
            mentions_bot = message.mentions_bot,
            from_self = message.from_self,
            "message received"
        );
        match bridges.get_mut(&message.platform) {
            Some(bridge) => bridge.handle(message),
            None => tracing::warn!(
                platform,
                "no bridge for this platform; message not answered"
            ),
        }
    }
}
