//! Live connection state that the admin API, the metrics and the logs read.
//!
//! Each supervised platform connection owns one [`ConnectionHealth`]; every
//! state change goes through [`ConnectionHealth::transition`]. Readers take
//! a [`ConnectionSnapshot`] and never hold the lock across an `.await`.
//! This module knows nothing of any platform's protocol.

mod catch_up;
mod cluster;
mod delivery;
mod pipeline;
mod pools;
mod store;

pub use catch_up::{CatchUpFigures, CatchUpHealth, IncompleteChannel};
pub use cluster::{ClusterFigures, ClusterHealth};
pub use delivery::{DeliveryFigures, DeliveryHealth};
pub use pipeline::{INTAKE_BEAT, PipelineFigures, PipelineHealth};
pub use pools::{PoolFigures, PoolView, SATURATION_SAMPLE, Saturation};
pub use store::{StoreFigures, StoreHealth};

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;

/// Slack added to "2 x heartbeat interval" before a connection whose last ACK
/// is that old stops counting as healthy.
pub const ACK_AGE_MARGIN: Duration = Duration::from_secs(1);

/// Where one platform connection is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// Opening the transport.
    Connecting,
    /// Transport open, a new session is being established.
    Identifying,
    /// Transport open, an earlier session is being resumed.
    Resuming,
    /// The session is live (READY or RESUMED received).
    Active,
    /// Waiting before the next attempt.
    BackingOff { attempt: u32, until: Instant },
    /// Ended for a cause the operator must fix; never retried.
    FatallyClosed { cause: String },
    /// Closed on shutdown.
    Stopped,
    /// Another instance holds this shard (issue 14); this one takes it over
    /// when that instance's lease expires. Healthy: nothing is missed.
    Standby,
}

impl ConnectionState {
    /// The snake_case name used in /status and metrics labels.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Identifying => "identifying",
            Self::Resuming => "resuming",
            Self::Active => "active",
            Self::BackingOff { .. } => "backing_off",
            Self::FatallyClosed { .. } => "fatally_closed",
            Self::Stopped => "stopped",
            Self::Standby => "standby",
        }
    }

    /// Every state name, for metrics that publish one gauge per state.
    pub const NAMES: [&'static str; 8] = [
        "connecting",
        "identifying",
        "resuming",
        "active",
        "backing_off",
        "fatally_closed",
        "stopped",
        "standby",
    ];
}

#[derive(Debug)]
struct Inner {
    state: ConnectionState,
    heartbeat_interval: Option<Duration>,
    /// Time of the last heartbeat ACK, or of the moment the current
    /// connection became Active when none has arrived on it yet.
    last_ack_at: Option<Instant>,
    last_event_at: Option<Instant>,
    events_total: u64,
    reconnects_total: u64,
    identifies_total: u64,
    resumes_total: u64,
    last_disconnect_cause: Option<String>,
}

/// Shared, cheaply cloned health record of one connection.
#[derive(Clone, Debug)]
pub struct ConnectionHealth {
    platform: &'static str,
    name: String,
    inner: Arc<Mutex<Inner>>,
}

impl ConnectionHealth {
    pub fn new(platform: &'static str, name: impl Into<String>) -> Self {
        Self {
            platform,
            name: name.into(),
            inner: Arc::new(Mutex::new(Inner {
                state: ConnectionState::Connecting,
                heartbeat_interval: None,
                last_ack_at: None,
                last_event_at: None,
                events_total: 0,
                reconnects_total: 0,
                identifies_total: 0,
                resumes_total: 0,
                last_disconnect_cause: None,
            })),
        }
    }

    pub fn platform(&self) -> &'static str {
        self.platform
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A poisoned lock only means a reader panicked mid-read; the data is
        // plain values and still consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// The one place where the state changes. `FatallyClosed` is final: a
    /// connection the operator must fix stays so for the life of the process
    /// (its supervisor's later "stopped" does not hide the cause).
    pub fn transition(&self, next: ConnectionState) {
        let mut inner = self.lock();
        if matches!(inner.state, ConnectionState::FatallyClosed { .. }) {
            return;
        }
        match &next {
            ConnectionState::Active => inner.last_ack_at = Some(Instant::now()),
            ConnectionState::Identifying => inner.identifies_total += 1,
            ConnectionState::Resuming => inner.resumes_total += 1,
            ConnectionState::Connecting => inner.heartbeat_interval = None,
            _ => {}
        }
        tracing::debug!(
            platform = self.platform,
            connection = %self.name,
            from = inner.state.name(),
            to = next.name(),
            "connection state"
        );
        inner.state = next;
    }

    pub fn state(&self) -> ConnectionState {
        self.lock().state.clone()
    }

    /// A lost connection: counted, and its cause kept for /status.
    pub fn record_disconnect(&self, cause: &str) {
        let mut inner = self.lock();
        inner.reconnects_total += 1;
        inner.last_disconnect_cause = Some(cause.to_owned());
    }

    pub fn set_heartbeat_interval(&self, interval: Duration) {
        self.lock().heartbeat_interval = Some(interval);
    }

    pub fn record_ack(&self, at: Instant) {
        self.lock().last_ack_at = Some(at);
    }

    /// Any frame received from the platform.
    pub fn record_event(&self, at: Instant) {
        let mut inner = self.lock();
        inner.last_event_at = Some(at);
        inner.events_total += 1;
    }

    pub fn snapshot(&self) -> ConnectionSnapshot {
        let now = Instant::now();
        let inner = self.lock();
        let age = |at: Option<Instant>| at.map(|at| now.saturating_duration_since(at));
        let last_ack_age = age(inner.last_ack_at);
        let unhealthy_reason =
            unhealthy_reason(&inner.state, inner.heartbeat_interval, last_ack_age);
        ConnectionSnapshot {
            platform: self.platform,
            name: self.name.clone(),
            state: inner.state.clone(),
            heartbeat_interval: inner.heartbeat_interval,
            last_ack_age,
            last_event_age: age(inner.last_event_at),
            events_total: inner.events_total,
            reconnects_total: inner.reconnects_total,
            identifies_total: inner.identifies_total,
            resumes_total: inner.resumes_total,
            last_disconnect_cause: inner.last_disconnect_cause.clone(),
            unhealthy_reason,
        }
    }
}

/// Why a connection in this state is not healthy, or `None` when it is:
/// Active, and the last ACK younger than 2 x heartbeat interval + margin.
fn unhealthy_reason(
    state: &ConnectionState,
    interval: Option<Duration>,
    last_ack_age: Option<Duration>,
) -> Option<String> {
    match state {
        ConnectionState::Active => {}
        ConnectionState::Standby => return None,
        ConnectionState::BackingOff { attempt, until } => {
            let in_ms = until.saturating_duration_since(Instant::now()).as_millis();
            return Some(format!(
                "backing_off (attempt {attempt}, next try in {in_ms} ms)"
            ));
        }
        ConnectionState::FatallyClosed { cause } => {
            return Some(format!("fatally_closed: {cause}"));
        }
        other => return Some(other.name().to_owned()),
    }
    let (Some(interval), Some(age)) = (interval, last_ack_age) else {
        return Some("active but no heartbeat interval or ACK yet".to_owned());
    };
    let limit = interval * 2 + ACK_AGE_MARGIN;
    (age > limit).then(|| {
        format!(
            "last heartbeat ACK {} ms ago exceeds {} ms (2 x interval + margin)",
            age.as_millis(),
            limit.as_millis()
        )
    })
}

/// A consistent copy of one connection's health at one moment.
#[derive(Clone, Debug)]
pub struct ConnectionSnapshot {
    pub platform: &'static str,
    pub name: String,
    pub state: ConnectionState,
    pub heartbeat_interval: Option<Duration>,
    pub last_ack_age: Option<Duration>,
    pub last_event_age: Option<Duration>,
    pub events_total: u64,
    pub reconnects_total: u64,
    pub identifies_total: u64,
    pub resumes_total: u64,
    pub last_disconnect_cause: Option<String>,
    pub unhealthy_reason: Option<String>,
}

impl ConnectionSnapshot {
    pub fn is_healthy(&self) -> bool {
        self.unhealthy_reason.is_none()
    }

    /// The JSON object /status shows for this connection.
    pub fn to_status(&self) -> StatusEntry {
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        let (attempt, next_attempt_in_ms, fatal_cause) = match &self.state {
            ConnectionState::BackingOff { attempt, until } => (
                Some(*attempt),
                Some(until.saturating_duration_since(Instant::now()).as_millis() as u64),
                None,
            ),
            ConnectionState::FatallyClosed { cause } => (None, None, Some(cause.clone())),
            _ => (None, None, None),
        };
        StatusEntry {
            platform: self.platform,
            connection: self.name.clone(),
            state: self.state.name(),
            healthy: self.is_healthy(),
            unhealthy_reason: self.unhealthy_reason.clone(),
            backoff_attempt: attempt,
            next_attempt_in_ms,
            fatal_cause,
            last_ack_age_ms: ms(self.last_ack_age),
            last_event_age_ms: ms(self.last_event_age),
            heartbeat_interval_ms: ms(self.heartbeat_interval),
            events_total: self.events_total,
            reconnects: self.reconnects_total,
            identifies: self.identifies_total,
            resumes: self.resumes_total,
            last_disconnect_cause: self.last_disconnect_cause.clone(),
            observed_at: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default(),
        }
    }
}

/// One connection in /status.
#[derive(Clone, Debug, Serialize)]
pub struct StatusEntry {
    pub platform: &'static str,
    pub connection: String,
    pub state: &'static str,
    pub healthy: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unhealthy_reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff_attempt: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_in_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fatal_cause: Option<String>,
    pub last_ack_age_ms: Option<u64>,
    pub last_event_age_ms: Option<u64>,
    pub heartbeat_interval_ms: Option<u64>,
    pub events_total: u64,
    pub reconnects: u64,
    pub identifies: u64,
    pub resumes: u64,
    pub last_disconnect_cause: Option<String>,
    pub observed_at: u64,
}

/// A pool reported under a name.
type NamedPool = (String, Arc<dyn PoolView>, Arc<Saturation>);

/// Every connection (and session pool) of the process, for readiness,
/// /status and metrics.
#[derive(Clone, Default)]
pub struct HealthRegistry {
    connections: Arc<Mutex<Vec<ConnectionHealth>>>,
    pools: Arc<Mutex<Vec<NamedPool>>>,
    pub store: StoreHealth,
    /// The intake and the store behind the connections.
    pub pipeline: PipelineHealth,
    /// Each platform's latest catch-up after downtime.
    pub catch_up: CatchUpHealth,
    /// Whether each platform's connection delivers what it holds.
    pub delivery: DeliveryHealth,
    /// This instance among several, and the leases it holds.
    pub cluster: ClusterHealth,
}

impl std::fmt::Debug for HealthRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRegistry")
            .field("connections", &self.connections)
            .finish_non_exhaustive()
    }
}

impl HealthRegistry {
    /// Report a session pool under `name` (e.g. the platform it serves).
    /// Report a session pool under `name`; every slot busy for longer than
    /// `saturated_after` makes the process unready (see [`Saturation`]).
    pub fn register_pool(&self, name: &str, pool: Arc<dyn PoolView>, saturated_after: Duration) {
        self.pools
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push((
                name.to_owned(),
                pool,
                Arc::new(Saturation::new(saturated_after)),
            ));
    }

    fn named_pools(&self) -> Vec<NamedPool> {
        self.pools
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    /// Sample every pool for saturation until `shutdown` (one task).
    pub async fn sample_pools(self, shutdown: tokio_util::sync::CancellationToken) {
        let mut tick = tokio::time::interval(SATURATION_SAMPLE);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    let now = tokio::time::Instant::now();
                    for (_, pool, saturation) in self.named_pools() {
                        saturation.sample(&pool.figures(), now);
                    }
                }
            }
        }
    }

    /// Figures of every registered pool, by name.
    pub fn pools(&self) -> Vec<(String, PoolFigures)> {
        self.named_pools()
            .iter()
            .map(|(name, pool, _)| (name.clone(), pool.figures()))
            .collect()
    }

    pub fn register(&self, health: ConnectionHealth) {
        self.connections
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .push(health);
    }

    /// The connections of one platform.
    pub fn connections_of(&self, platform: &str) -> Vec<ConnectionHealth> {
        self.connections
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .iter()
            .filter(|c| c.platform() == platform)
            .cloned()
            .collect()
    }

    pub fn snapshots(&self) -> Vec<ConnectionSnapshot> {
        let connections = self
            .connections
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone();
        connections.iter().map(ConnectionHealth::snapshot).collect()
    }

    /// `Ok` when every configured connection is healthy, else the reasons,
    /// one per unhealthy connection ("discord/shard-0: backing_off ...").
    pub fn readiness(&self) -> Result<(), Vec<String>> {
        let snapshots = self.snapshots();
        if snapshots.is_empty() {
            return Err(vec!["no platform connection is configured".to_owned()]);
        }
        let mut reasons: Vec<String> = snapshots
            .iter()
            .filter_map(|s| {
                let reason = s.unhealthy_reason.as_ref()?;
                Some(format!("{}/{}: {reason}", s.platform, s.name))
            })
            .collect();
        reasons.extend(self.pipeline.unready_reasons());
        reasons.extend(self.delivery.unready_reasons());
        for (name, pool, saturation) in self.named_pools() {
            reasons.extend(saturation.unready_reason(&name, &pool.figures()));
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(reasons)
        }
    }
}

#[cfg(test)]
mod tests;
