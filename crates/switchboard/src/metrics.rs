//! Prometheus metrics: event counters owned here, connection figures read
//! from [`HealthRegistry`] at scrape time so /metrics and /status can never
//! disagree. One [`Metrics`] per running instance (no global registry).
//! The runtime's alive-task count is read at scrape time too (`runtime`).

mod runtime;

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

use crate::chat::discord::InvalidRequests;
use crate::health::{ConnectionSnapshot, ConnectionState, HealthRegistry, PoolFigures};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PlatformLabels {
    pub platform: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    platform: String,
    /// `input` or `output`.
    direction: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CostLabels {
    platform: String,
    currency: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    platform: String,
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    platform: String,
    connection: String,
    state: String,
}

/// The process's metrics registry and the counters code increments.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    messages_received: Family<PlatformLabels, Counter>,
    duplicate_events: Family<PlatformLabels, Counter>,
    caught_up: Family<PlatformLabels, Counter>,
    missed_dispatches: Family<PlatformLabels, Counter>,
    delivery_checks: Family<PlatformLabels, Counter>,
    agent_tokens: Family<TokenLabels, Counter>,
    agent_cost: Family<CostLabels, Counter<f64, std::sync::atomic::AtomicU64>>,
    discord_invalid: InvalidRequests,
}

impl Metrics {
    pub fn new(health: HealthRegistry) -> Self {
        let mut registry = Registry::default();
        let messages_received = Family::<PlatformLabels, Counter>::default();
        let duplicate_events = Family::<PlatformLabels, Counter>::default();
        registry.register(
            "switchboard_messages_received",
            "Distinct chat messages received",
            messages_received.clone(),
        );
        registry.register(
            "switchboard_duplicate_events",
            "Message events dropped as duplicates (replays, redeliveries)",
            duplicate_events.clone(),
        );
        let caught_up = Family::<PlatformLabels, Counter>::default();
        registry.register(
            "switchboard_messages_caught_up",
            "Messages fetched by catch-up after downtime and acted on",
            caught_up.clone(),
        );
        let missed_dispatches = Family::<PlatformLabels, Counter>::default();
        registry.register(
            "switchboard_missed_dispatches",
            "Messages the platform holds that the live connection did not deliver within canary.grace (found by the delivery check, then handled)",
            missed_dispatches.clone(),
        );
        let delivery_checks = Family::<PlatformLabels, Counter>::default();
        registry.register(
            "switchboard_delivery_checks",
            "REST calls made by the delivery check",
            delivery_checks.clone(),
        );
        let agent_tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "switchboard_agent_tokens",
            "Tokens the agents reported in their prompt results (direction: input, output)",
            agent_tokens.clone(),
        );
        let agent_cost =
            Family::<CostLabels, Counter<f64, std::sync::atomic::AtomicU64>>::default();
        registry.register(
            "switchboard_agent_cost",
            "Cost the agents reported (usage_update), in the currency of the label",
            agent_cost.clone(),
        );
        registry.register_collector(Box::new(HealthCollector { health }));
        let discord_invalid = InvalidRequests::default();
        registry.register_collector(Box::new(InvalidCollector(discord_invalid.clone())));
        registry.register_collector(Box::new(runtime::RuntimeCollector));
        Self {
            registry: Arc::new(registry),
            messages_received,
            duplicate_events,
            caught_up,
            missed_dispatches,
            delivery_checks,
            agent_tokens,
            agent_cost,
            discord_invalid,
        }
    }

    /// One turn's usage as the agent reported it.
    pub fn agent_usage(&self, platform: &str, usage: &crate::store::ThreadUsage) {
        for (direction, tokens) in [
            ("input", usage.input_tokens),
            ("output", usage.output_tokens),
        ] {
            if tokens > 0 {
                self.agent_tokens
                    .get_or_create(&TokenLabels {
                        platform: platform.to_owned(),
                        direction: direction.to_owned(),
                    })
                    .inc_by(tokens as u64);
            }
        }
        if let Some(currency) = &usage.cost_currency
            && usage.cost_micros > 0
        {
            self.agent_cost
                .get_or_create(&CostLabels {
                    platform: platform.to_owned(),
                    currency: currency.clone(),
                })
                .inc_by(usage.cost_micros as f64 / 1e6);
        }
    }

    /// The counter Discord REST counts its invalid requests into (read at
    /// scrape time as `switchboard_discord_invalid_requests_total`).
    pub fn discord_invalid_requests(&self) -> InvalidRequests {
        self.discord_invalid.clone()
    }

    pub fn message_received(&self, platform: &str) {
        self.messages_received
            .get_or_create(&labels(platform))
            .inc();
    }

    pub fn message_caught_up(&self, platform: &str) {
        self.caught_up.get_or_create(&labels(platform)).inc();
    }

    pub fn missed_dispatches(&self, platform: &str, count: u64) {
        self.missed_dispatches
            .get_or_create(&labels(platform))
            .inc_by(count);
    }

    pub fn delivery_check(&self, platform: &str) {
        self.delivery_checks.get_or_create(&labels(platform)).inc();
    }

    pub fn duplicate_event(&self, platform: &str) {
        self.duplicate_events.get_or_create(&labels(platform)).inc();
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}

fn labels(platform: &str) -> PlatformLabels {
    PlatformLabels {
        platform: platform.to_owned(),
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

/// Discord's invalid requests per status, read on each scrape.
#[derive(Debug)]
struct InvalidCollector(InvalidRequests);

impl Collector for InvalidCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let mut family = encoder.encode_descriptor(
            "switchboard_discord_invalid_requests",
            "Discord REST answers counted by Discord as invalid requests (401, 403, 429 \
             except shared-scope 429s); 10,000 in 10 minutes get the IP banned",
            None,
            ConstCounter::new(0u64).metric_type(),
        )?;
        for (status, total) in self.0.totals() {
            let labels = StatusLabels {
                status: status.to_string(),
            };
            ConstCounter::new(total).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// Connection figures, computed from health snapshots on each scrape.
#[derive(Debug)]
struct HealthCollector {
    health: HealthRegistry,
}

type Extract = fn(&ConnectionSnapshot) -> Option<f64>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    /// A 0/1 gauge, written as an integer.
    Flag,
}

/// (name, help, kind, value)
const CONNECTION_SERIES: [(&str, &str, Kind, Extract); 8] = [
    (
        "switchboard_gateway_reconnects",
        "Connections lost and rebuilt",
        Kind::Counter,
        |s| Some(s.reconnects_total as f64),
    ),
    (
        "switchboard_gateway_identifies",
        "New sessions started (identify)",
        Kind::Counter,
        |s| Some(s.identifies_total as f64),
    ),
    (
        "switchboard_gateway_resumes",
        "Sessions resumed",
        Kind::Counter,
        |s| Some(s.resumes_total as f64),
    ),
    (
        "switchboard_gateway_frames_received",
        "Frames received from the platform",
        Kind::Counter,
        |s| Some(s.events_total as f64),
    ),
    (
        "switchboard_gateway_last_ack_age_seconds",
        "Seconds since the last heartbeat ACK",
        Kind::Gauge,
        |s| s.last_ack_age.map(|d| d.as_secs_f64()),
    ),
    (
        "switchboard_gateway_last_event_age_seconds",
        "Seconds since the last frame of any kind",
        Kind::Gauge,
        |s| s.last_event_age.map(|d| d.as_secs_f64()),
    ),
    (
        "switchboard_gateway_heartbeat_interval_seconds",
        "Heartbeat interval the platform asked for",
        Kind::Gauge,
        |s| s.heartbeat_interval.map(|d| d.as_secs_f64()),
    ),
    (
        "switchboard_gateway_healthy",
        "1 when the connection is healthy (what /readyz checks)",
        Kind::Flag,
        |s| Some(if s.is_healthy() { 1.0 } else { 0.0 }),
    ),
];

impl Collector for HealthCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let snapshots = self.health.snapshots();
        for (name, help, kind, extract) in CONNECTION_SERIES {
            let metric_type = match kind {
                Kind::Counter => ConstCounter::new(0u64).metric_type(),
                Kind::Gauge | Kind::Flag => ConstGauge::new(0i64).metric_type(),
            };
            let mut family = encoder.encode_descriptor(name, help, None, metric_type)?;
            for snap in &snapshots {
                let Some(value) = extract(snap) else { continue };
                let labels = ConnectionLabels {
                    platform: snap.platform.to_owned(),
                    connection: snap.name.clone(),
                };
                let metric = family.encode_family(&labels)?;
                match kind {
                    Kind::Counter => ConstCounter::new(value as u64).encode(metric)?,
                    Kind::Gauge => ConstGauge::new(value).encode(metric)?,
                    Kind::Flag => ConstGauge::new(value as i64).encode(metric)?,
                }
            }
        }
        for (name, help, pick) in [
            (
                "switchboard_agent_sessions_busy",
                "Agent sessions running a turn",
                (|f: &PoolFigures| f.busy) as fn(&PoolFigures) -> usize,
            ),
            (
                "switchboard_agent_sessions_idle",
                "Agent sessions alive and idle",
                |f| f.idle,
            ),
            (
                "switchboard_agent_sessions_max",
                "Configured max_sessions",
                |f| f.max,
            ),
        ] {
            let mut family =
                encoder.encode_descriptor(name, help, None, ConstGauge::new(0i64).metric_type())?;
            for (platform, figures) in self.health.pools() {
                let labels = PlatformLabels { platform };
                ConstGauge::new(pick(&figures) as i64).encode(family.encode_family(&labels)?)?;
            }
        }
        if let Some(store) = self.health.store.figures() {
            let series = [
                (
                    "switchboard_journal_backlog",
                    "Accepted messages not yet answered",
                    store.journal_backlog as f64,
                ),
                (
                    "switchboard_oldest_unanswered_age_seconds",
                    "Age of the oldest accepted message not yet answered (0 when none)",
                    store.oldest_unanswered_age_ms.unwrap_or(0) as f64 / 1000.0,
                ),
                (
                    "switchboard_store_errors",
                    "Store operations that failed",
                    store.errors_total as f64,
                ),
            ];
            for (name, help, value) in series {
                let counter = name.ends_with("errors");
                let metric_type = if counter {
                    ConstCounter::new(0u64).metric_type()
                } else {
                    ConstGauge::new(0.0f64).metric_type()
                };
                let metric = encoder.encode_descriptor(name, help, None, metric_type)?;
                if counter {
                    ConstCounter::new(value as u64).encode(metric)?;
                } else {
                    ConstGauge::new(value).encode(metric)?;
                }
            }
        }
        let pipeline = self.health.pipeline.figures();
        for (name, help, value) in [
            (
                "switchboard_intake_queued",
                "Platform events handed to the intake and not yet handled",
                pipeline.intake_queued as i64,
            ),
            (
                "switchboard_intake_stalled",
                "1 when the intake has work queued and made no progress for a few seconds",
                i64::from(pipeline.intake_stalled),
            ),
            (
                "switchboard_store_failing",
                "1 from a failed store operation until one succeeds",
                i64::from(pipeline.store_failing),
            ),
            (
                "switchboard_intake_paused",
                "1 while the store is unreachable and the intake turns messages away",
                i64::from(pipeline.intake_paused),
            ),
        ] {
            let metric =
                encoder.encode_descriptor(name, help, None, ConstGauge::new(0i64).metric_type())?;
            ConstGauge::new(value).encode(metric)?;
        }
        let metric = encoder.encode_descriptor(
            "switchboard_intake_heartbeat_age_seconds",
            "Time since the intake's last heartbeat (0 before the first)",
            None,
            ConstGauge::new(0.0f64).metric_type(),
        )?;
        ConstGauge::new(pipeline.intake_last_beat_age_ms.unwrap_or(0) as f64 / 1000.0)
            .encode(metric)?;
        let mut family = encoder.encode_descriptor(
            "switchboard_gateway_state",
            "1 for the connection's current state, 0 for the others",
            None,
            ConstGauge::new(0i64).metric_type(),
        )?;
        for snap in &snapshots {
            for state in ConnectionState::NAMES {
                let labels = StateLabels {
                    platform: snap.platform.to_owned(),
                    connection: snap.name.clone(),
                    state: state.to_owned(),
                };
                ConstGauge::new(i64::from(snap.state.name() == state))
                    .encode(family.encode_family(&labels)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::health::ConnectionHealth;

    #[tokio::test(start_paused = true)]
    async fn renders_counters_and_connection_figures_by_their_public_names() {
        let health = HealthRegistry::default();
        let conn = ConnectionHealth::new("discord", "shard-0");
        health.register(conn.clone());
        conn.set_heartbeat_interval(Duration::from_millis(41_250));
        conn.transition(ConnectionState::Active);
        conn.record_disconnect("close 4000");
        conn.record_disconnect("close 4000");
        let metrics = Metrics::new(health);
        metrics.message_received("discord");
        metrics.message_received("discord");
        metrics.duplicate_event("discord");
        let text = metrics.render();
        for line in [
            "switchboard_messages_received_total{platform=\"discord\"} 2",
            "switchboard_duplicate_events_total{platform=\"discord\"} 1",
            "switchboard_gateway_reconnects_total{platform=\"discord\",connection=\"shard-0\"} 2",
            "switchboard_gateway_last_ack_age_seconds{platform=\"discord\",connection=\"shard-0\"} 0.0",
            "switchboard_gateway_heartbeat_interval_seconds{platform=\"discord\",connection=\"shard-0\"} 41.25",
            "switchboard_gateway_healthy{platform=\"discord\",connection=\"shard-0\"} 1",
            "switchboard_gateway_state{platform=\"discord\",connection=\"shard-0\",state=\"active\"} 1",
            "switchboard_gateway_state{platform=\"discord\",connection=\"shard-0\",state=\"backing_off\"} 0",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in:\n{text}"
            );
        }
    }
}
