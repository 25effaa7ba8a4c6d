//! The broker's front door: every platform event passes here, in order.
//!
//! Messages go to their platform's [`Bridge`] (which dedupes, journals and
//! routes them); a new platform session starts that platform's catch-up.

use std::collections::HashMap;

use tokio_util::sync::CancellationToken;

use super::bridge::Bridge;
use crate::chat::{ChatEvent, InboundReceiver, Platform};

/// Consume platform events until shutdown.
pub async fn run_intake(
    mut inbound: InboundReceiver,
    mut bridges: HashMap<Platform, Bridge>,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            event = inbound.recv() => match event {
                Some(event) => event,
                None => return,
            },
        };
        let platform = match &event {
            ChatEvent::Message(message, _) => message.platform,
            ChatEvent::SessionStarted { platform } => *platform,
        };
        let Some(bridge) = bridges.get_mut(&platform) else {
            tracing::warn!(
                platform = platform.as_str(),
                "no bridge for this platform; event dropped"
            );
            // Nothing will ever act on it: a redelivery would change nothing.
            if let ChatEvent::Message(_, receipt) = event {
                receipt.settle(true);
            }
            continue;
        };
        match event {
            ChatEvent::Message(message, receipt) => bridge.handle(*message, receipt).await,
            ChatEvent::SessionStarted { .. } => bridge.start_catch_up(),
        }
    }
}
