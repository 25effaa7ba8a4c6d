//! The optional active canary (`canary.channel`): every
//! `canary.post_interval` the bot posts a short message in that channel and
//! expects the live connection to bring it back within `canary.grace`.
//! A post that does not come back counts like a missed dispatch found by
//! the reconciler: the platform is suspect, and `canary.max_misses` in a
//! row renew its session. Proof of delivery end to end, at the price of a
//! message in a channel; off unless configured.
//!
//! Never posts anywhere but the configured channel.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;

use super::ledger::id_order;
use super::{DeliveryLedger, SessionRenewal};
use crate::chat::{OutboundError, Platform};
use crate::health::DeliveryHealth;
use crate::metrics::Metrics;

/// How often the ledger is looked at while a post is awaited.
const POLL: Duration = Duration::from_millis(50);

/// Posts one top-level message in a channel; returns its message id (in
/// the form live events carry).
#[async_trait]
pub trait CanaryPoster: Send + Sync + 'static {
    async fn post_canary(&self, channel: &str, text: &str) -> Result<String, OutboundError>;
}

pub struct ActiveCanary {
    pub platform: Platform,
    pub channel: String,
    pub post_interval: Duration,
    pub grace: Duration,
    pub max_misses: u32,
    pub poster: Arc<dyn CanaryPoster>,
    pub ledger: DeliveryLedger,
    pub renewal: SessionRenewal,
    pub health: DeliveryHealth,
    pub metrics: Metrics,
}

impl ActiveCanary {
    /// Post and check until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let platform = self.platform.as_str();
        self.health.register(platform);
        let mut next = Instant::now() + self.post_interval;
        let mut sent = 0_u64;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = sleep_until(next) => {}
            }
            next = Instant::now() + self.post_interval;
            if self.ledger.session_started_at().is_none() {
                continue; // no session yet: nothing could come back
            }
            sent += 1;
            let text = format!(
                "switchboard delivery canary #{sent} (checks that this bot hears its channels; set by canary.channel)"
            );
            let id = match self.poster.post_canary(&self.channel, &text).await {
                Ok(id) => id,
                Err(err) => {
                    tracing::warn!(platform, channel = %self.channel, %err, "the delivery canary could not post; trying again at the next interval");
                    continue;
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => return,
                came_back = self.came_back(&id) => if !came_back { self.missed(&id) },
            }
        }
    }

    /// Whether the live connection delivered `id` within the grace.
    async fn came_back(&self, id: &str) -> bool {
        let deadline = Instant::now() + self.grace;
        loop {
            let delivered = self
                .ledger
                .get(&self.channel)
                .and_then(|d| d.newest)
                .is_some_and(|newest| id_order(&newest, id).is_ge());
            if delivered {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            sleep(POLL).await;
        }
    }

    fn missed(&self, id: &str) {
        let platform = self.platform.as_str();
        self.ledger.accounted(&self.channel, id);
        self.metrics.missed_dispatches(platform, 1);
        let reason = format!(
            "events not delivered: the canary message {id} posted in channel {} did not come back within {} s",
            self.channel,
            self.grace.as_secs_f64()
        );
        let consecutive = self.health.missed(platform, 1, reason);
        tracing::warn!(platform, channel = %self.channel, message = id, consecutive, "missed dispatch: the delivery canary's own message was not delivered back");
        self.renewal
            .renew_if_due(platform, consecutive, self.max_misses, &self.health);
    }
}
