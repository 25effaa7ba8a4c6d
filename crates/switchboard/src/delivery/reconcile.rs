//! The delivery check's loop, one per platform: take the next channel from
//! the [`Schedule`], ask the platform for its newest message
//! ([`LatestProbe`]), and compare it with what the live connection
//! delivered ([`DeliveryLedger`]).
//!
//! A message the platform holds, posted during the current session, newer
//! than anything delivered in that channel and older than `canary.grace`,
//! is a missed dispatch: the messages after the last delivered one are
//! fetched and fed through the intake (the journal dedupes, so nothing is
//! answered twice), counted (`switchboard_missed_dispatches_total`), logged
//! at WARN with the channel and the age, and the platform turns suspect
//! (unready). `canary.max_misses` checks in a row that find one renew the
//! platform's session. A read that finds nothing to handle (the message
//! was deleted, or is of a kind the bot never acts on) is not a miss.
//!
//! Never waits on the platform's rate budget: a probe without room is
//! skipped ([`Probed::Skipped`]) and the channel comes round again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;

use super::ledger::id_order;
use super::schedule::{Next, Schedule, ScheduleSettings};
use super::{DeliveryLedger, LatestProbe, Probed, SessionRenewal};
use crate::chat::receipt::Receipt;
use crate::chat::{ChatEvent, ChatHistory, HistoryBudget, InboundSender, Platform};
use crate::health::DeliveryHealth;
use crate::metrics::Metrics;

/// How many pages a missed channel's read may take, and for how long.
const MISS_READ_PAGES: u32 = 2;
const MISS_READ_TIME: Duration = Duration::from_secs(10);
/// A recheck of a message within its grace comes this long after the
/// grace ends.
const RECHECK_SLACK: Duration = Duration::from_millis(250);
/// The loop looks at the ledger at least this often while waiting.
const SYNC_EVERY: Duration = Duration::from_secs(1);

/// The check's settings for one platform.
#[derive(Clone, Copy, Debug)]
pub struct ReconcileSettings {
    pub schedule: ScheduleSettings,
    pub grace: Duration,
    pub max_misses: u32,
}

/// What the loop talks to.
pub struct Reconciler {
    pub platform: Platform,
    pub settings: ReconcileSettings,
    /// The allowed channels (checked for good).
    pub configured: Vec<String>,
    pub probe: Arc<dyn LatestProbe>,
    pub history: Arc<dyn ChatHistory>,
    pub ledger: DeliveryLedger,
    pub inbound: InboundSender,
    pub renewal: SessionRenewal,
    pub health: DeliveryHealth,
    pub metrics: Metrics,
    /// Several instances share the platform's events (Slack spreads them
    /// over every instance's connections): a message this instance's
    /// ledger has not seen is no miss if another instance took it in.
    pub shared: Option<crate::store::Store>,
}

/// What one check concluded.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Delivered, or nothing to judge.
    Fine,
    /// A message delivered live since the last miss: proof that the
    /// connection hears again.
    Proven,
    /// Not delivered yet, within its grace: look again at `at`.
    Pending { at: Instant },
    /// Past its grace and not delivered.
    Missed {
        latest: String,
        after: String,
        age: Duration,
    },
}

impl Reconciler {
    /// Check until `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) {
        let platform = self.platform.as_str();
        self.health.register(platform);
        let now = Instant::now();
        let mut schedule = Schedule::new(self.settings.schedule, &self.configured, now);
        // The newest id each channel was last seen with over REST.
        let mut seen: HashMap<String, String> = HashMap::new();
        let mut session = self.ledger.session_started_at();
        // When the last miss was found: a live delivery after it proves
        // the connection hears again.
        let mut last_miss: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if self.ledger.session_started_at() != session {
                session = self.ledger.session_started_at();
                self.health.trusted(platform);
            }
            let window = self.settings.schedule.thread_window;
            self.ledger
                .forget_older(now.checked_sub(window * 2).unwrap_or(now));
            let since = now.checked_sub(window).unwrap_or(now);
            schedule.sync(&self.ledger.active_since(since), now);
            seen.retain(|channel, _| {
                self.ledger.get(channel).is_some() || self.configured.contains(channel)
            });
            match schedule.next(now) {
                Next::WaitUntil(at) => {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = sleep_until(at.min(now + SYNC_EVERY)) => {}
                    }
                }
                Next::Check(channel) => {
                    tokio::select! {
                        () = shutdown.cancelled() => return,
                        () = self.check(&channel, &mut schedule, &mut seen, &mut last_miss) => {}
                    }
                }
            }
        }
    }

    async fn check(
        &self,
        channel: &str,
        schedule: &mut Schedule,
        seen: &mut HashMap<String, String>,
        last_miss: &mut Option<Instant>,
    ) {
        let platform = self.platform.as_str();
        let probed = match self.probe.latest(channel).await {
            Ok(probed) => probed,
            Err(err) => {
                tracing::debug!(platform, channel, %err, "delivery check: the platform's view of the channel could not be read");
                return;
            }
        };
        let Probed::Latest(latest) = probed else {
            self.health.skipped(platform);
            return;
        };
        self.metrics.delivery_check(platform);
        self.health.checked(platform, schedule.len());
        let Some(latest) = latest else { return };
        if seen.get(channel) != Some(&latest) {
            schedule.saw_activity(channel, Instant::now());
        }
        seen.insert(channel.to_owned(), latest.clone());
        match self.judge(channel, &latest, *last_miss) {
            Verdict::Fine => {}
            Verdict::Proven => self.health.trusted(platform),
            Verdict::Pending { at } => schedule.recheck_by(channel, at),
            Verdict::Missed { latest, after, age } => {
                if self.taken_in_elsewhere(&latest).await {
                    self.ledger.accounted(channel, &latest);
                    return;
                }
                if self.missed(channel, &latest, &after, age).await {
                    *last_miss = Some(Instant::now());
                }
            }
        }
    }

    fn judge(&self, channel: &str, latest: &str, last_miss: Option<Instant>) -> Verdict {
        let entry = self.ledger.get(channel);
        let delivered_at = entry.as_ref().and_then(|d| d.delivered_at);
        let delivered = entry.and_then(|d| d.newest);
        let Some(session) = self.ledger.session_started_at() else {
            return Verdict::Fine; // no session yet: nothing was due
        };
        let Some(posted) = self.probe.posted_at(latest) else {
            return Verdict::Fine; // an id that does not say when
        };
        let this_session = posted >= session;
        if delivered
            .as_deref()
            .is_some_and(|d| id_order(d, latest).is_ge())
        {
            let heard_since = match (delivered_at, last_miss) {
                (Some(heard), Some(miss)) => heard > miss,
                _ => false,
            };
            return if heard_since {
                Verdict::Proven
            } else {
                Verdict::Fine
            };
        }
        if !this_session {
            return Verdict::Fine; // before the session: catch-up's
        }
        let age = SystemTime::now()
            .duration_since(posted)
            .unwrap_or(Duration::ZERO);
        if age < self.settings.grace {
            let wait = self.settings.grace - age + RECHECK_SLACK;
            return Verdict::Pending {
                at: Instant::now() + wait,
            };
        }
        Verdict::Missed {
            latest: latest.to_owned(),
            after: delivered.unwrap_or_else(|| self.probe.id_before(channel, session)),
            age,
        }
    }

    /// Whether another instance sharing the events took `latest` in (a
    /// store that cannot answer counts as no: the miss is read back and
    /// the journal dedupes).
    async fn taken_in_elsewhere(&self, latest: &str) -> bool {
        let Some(store) = &self.shared else {
            return false;
        };
        store
            .was_seen(self.platform.as_str(), latest)
            .await
            .unwrap_or(false)
    }

    /// Handle a miss; `true` when messages were really missing.
    async fn missed(&self, channel: &str, latest: &str, after: &str, age: Duration) -> bool {
        let platform = self.platform.as_str();
        let budget = HistoryBudget {
            max_pages: MISS_READ_PAGES,
            deadline: Instant::now() + MISS_READ_TIME,
        };
        let read = match self.history.messages_after(channel, after, budget).await {
            Ok(read) => read,
            Err(err) => {
                tracing::warn!(platform, channel, %err, "delivery check: a message was not delivered, and reading it back failed; checking again");
                return false;
            }
        };
        self.ledger.accounted(channel, latest);
        let fetched = read.messages.len();
        if fetched == 0 {
            return false; // deleted, or a kind never acted on: nothing was lost
        }
        for message in read.messages {
            if self
                .inbound
                .send(ChatEvent::Message(Box::new(message), Receipt::none()))
                .is_err()
            {
                return false; // shutting down
            }
        }
        self.metrics.missed_dispatches(platform, fetched as u64);
        let reason = format!(
            "events not delivered: message {latest} in channel {channel} was not delivered within {} s",
            self.settings.grace.as_secs_f64()
        );
        let consecutive = self.health.missed(platform, fetched as u64, reason);
        tracing::warn!(
            platform,
            channel,
            message = latest,
            age_ms = age.as_millis() as u64,
            fetched,
            consecutive,
            "missed dispatch: the platform holds messages the live connection never delivered; fetched them and handed them to the intake"
        );
        self.renewal.renew_if_due(
            platform,
            consecutive,
            self.settings.max_misses,
            &self.health,
        );
        true
    }
}
