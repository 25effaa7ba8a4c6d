//! Liveness of what runs behind the connections: the intake loop (every
//! platform event passes through it, and with it each platform's broker
//! side) and the store.
//!
//! The intake reports what it is given (`enqueued`), what it has finished
//! (`handled`) and a heartbeat; the store reports each operation's outcome.
//! From these: the intake is *stalled* when work is queued and nothing was
//! handled for [`INTAKE_STALL`] (readiness fails, naming it); it is *not
//! beating* when no heartbeat came for [`INTAKE_DEAF`] (liveness fails: the
//! runtime cannot serve it); the store is *failing* from its first failed
//! operation until the next one succeeds (readiness fails); the intake is
//! *paused* while the broker found the store unreachable (readiness fails,
//! with how many messages it turned away meanwhile). Lock-free on the hot
//! path: it only touches atomics. Never decides anything itself.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Work queued and nothing handled for this long: the intake is stalled.
pub const INTAKE_STALL: Duration = Duration::from_secs(5);
/// No heartbeat for this long: the intake (or the runtime) is wedged.
pub const INTAKE_DEAF: Duration = Duration::from_secs(10);
/// How often the intake beats.
pub const INTAKE_BEAT: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Shared {
    base: Instant,
    /// Events given to the intake (sent) and finished by it.
    enqueued: AtomicU64,
    handled: AtomicU64,
    /// Milliseconds since `base`; 0 = never.
    last_handled_ms: AtomicU64,
    /// The last event handled, or work arriving at an empty queue.
    last_progress_ms: AtomicU64,
    last_beat_ms: AtomicU64,
    store_failing: AtomicBool,
    store_failure: Mutex<Option<(Instant, String)>>,
    /// Since when the intake turns messages away (the store unreachable).
    paused_since: Mutex<Option<Instant>>,
    turned_away: AtomicU64,
}

/// Shared by the intake's senders, the intake loop, the store's users and
/// the health endpoints. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PipelineHealth {
    shared: Arc<Shared>,
}

impl Default for PipelineHealth {
    fn default() -> Self {
        Self {
            shared: Arc::new(Shared {
                base: Instant::now(),
                enqueued: AtomicU64::new(0),
                handled: AtomicU64::new(0),
                last_handled_ms: AtomicU64::new(0),
                last_progress_ms: AtomicU64::new(0),
                last_beat_ms: AtomicU64::new(0),
                store_failing: AtomicBool::new(false),
                store_failure: Mutex::new(None),
                paused_since: Mutex::new(None),
                turned_away: AtomicU64::new(0),
            }),
        }
    }
}

/// The pipeline's figures for /status and /metrics.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PipelineFigures {
    /// Events waiting for the intake (or being handled by it).
    pub intake_queued: u64,
    pub intake_handled_total: u64,
    pub intake_last_handled_age_ms: Option<u64>,
    pub intake_last_beat_age_ms: Option<u64>,
    pub intake_stalled: bool,
    pub store_failing: bool,
    /// The intake turns messages away: the store is unreachable.
    pub intake_paused: bool,
    /// Messages turned away so far (each fetched or redelivered later).
    pub intake_turned_away_total: u64,
}

impl PipelineHealth {
    fn now_ms(&self) -> u64 {
        // +1: 0 means "never".
        self.shared.base.elapsed().as_millis() as u64 + 1
    }

    fn age(&self, stamp: u64, now: u64) -> Option<Duration> {
        (stamp != 0).then(|| Duration::from_millis(now.saturating_sub(stamp)))
    }

    /// An event was handed to the intake. Work arriving at an empty queue
    /// starts the stall clock (an idle intake is not a stalled one).
    pub fn enqueued(&self) {
        let before = self.shared.enqueued.fetch_add(1, Ordering::Relaxed);
        if before <= self.shared.handled.load(Ordering::Relaxed) {
            self.shared
                .last_progress_ms
                .store(self.now_ms(), Ordering::Relaxed);
        }
    }

    /// The intake finished one event.
    pub fn handled(&self) {
        let now = self.now_ms();
        self.shared.last_handled_ms.store(now, Ordering::Relaxed);
        self.shared.last_progress_ms.store(now, Ordering::Relaxed);
        self.shared.handled.fetch_add(1, Ordering::Relaxed);
    }

    /// The intake loop is alive and can be scheduled.
    pub fn beat(&self) {
        self.shared
            .last_beat_ms
            .store(self.now_ms(), Ordering::Relaxed);
    }

    /// One store operation's outcome.
    pub fn store_outcome(&self, failure: Option<&str>) {
        match failure {
            None => {
                // The common case: one atomic load, no lock.
                if self.shared.store_failing.swap(false, Ordering::Relaxed) {
                    *self.lock_failure() = None;
                }
            }
            Some(error) => {
                let mut slot = self.lock_failure();
                let since = slot.as_ref().map_or_else(Instant::now, |(at, _)| *at);
                *slot = Some((since, error.to_owned()));
                self.shared.store_failing.store(true, Ordering::Relaxed);
            }
        }
    }

    /// The intake paused (`true`: the store is unreachable) or resumed.
    pub fn intake_paused(&self, paused: bool) {
        let mut since = self
            .shared
            .paused_since
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match (paused, since.is_some()) {
            (true, false) => *since = Some(Instant::now()),
            (false, true) => *since = None,
            _ => {}
        }
    }

    /// The intake turned one message away.
    pub fn turned_away(&self) {
        self.shared.turned_away.fetch_add(1, Ordering::Relaxed);
    }

    fn paused_for(&self) -> Option<Duration> {
        let since = self
            .shared
            .paused_since
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        since.map(|at| at.elapsed())
    }

    fn lock_failure(&self) -> std::sync::MutexGuard<'_, Option<(Instant, String)>> {
        self.shared
            .store_failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn queued(&self) -> u64 {
        let handled = self.shared.handled.load(Ordering::Relaxed);
        self.shared
            .enqueued
            .load(Ordering::Relaxed)
            .saturating_sub(handled)
    }

    fn stalled_for(&self) -> Option<Duration> {
        if self.queued() == 0 {
            return None;
        }
        let now = self.now_ms();
        let last = self.shared.last_progress_ms.load(Ordering::Relaxed).max(1);
        let idle = self.age(last, now).unwrap_or_default();
        (idle >= INTAKE_STALL).then_some(idle)
    }

    pub fn figures(&self) -> PipelineFigures {
        let now = self.now_ms();
        let ms = |d: Option<Duration>| d.map(|d| d.as_millis() as u64);
        PipelineFigures {
            intake_queued: self.queued(),
            intake_handled_total: self.shared.handled.load(Ordering::Relaxed),
            intake_last_handled_age_ms: ms(
                self.age(self.shared.last_handled_ms.load(Ordering::Relaxed), now)
            ),
            intake_last_beat_age_ms: ms(
                self.age(self.shared.last_beat_ms.load(Ordering::Relaxed), now)
            ),
            intake_stalled: self.stalled_for().is_some(),
            store_failing: self.shared.store_failing.load(Ordering::Relaxed),
            intake_paused: self.paused_for().is_some(),
            intake_turned_away_total: self.shared.turned_away.load(Ordering::Relaxed),
        }
    }

    /// Why the pipeline is not ready (empty: it is).
    pub fn unready_reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        if let Some(idle) = self.stalled_for() {
            reasons.push(format!(
                "intake: {} events queued and none handled for {} s",
                self.queued(),
                idle.as_secs()
            ));
        }
        if let Some(paused) = self.paused_for() {
            reasons.push(format!(
                "intake: paused for {} s while the store is unreachable ({} messages turned away \
                 so far: not acknowledged, fetched again once it is back)",
                paused.as_secs(),
                self.shared.turned_away.load(Ordering::Relaxed)
            ));
        }
        if let Some((since, error)) = self.lock_failure().as_ref() {
            reasons.push(format!(
                "store: failing for {} s: {error}",
                since.elapsed().as_secs()
            ));
        }
        reasons
    }

    /// Why the process is not live: the intake stopped beating.
    pub fn not_live_reason(&self) -> Option<String> {
        let now = self.now_ms();
        let beat = self.shared.last_beat_ms.load(Ordering::Relaxed);
        let age = self.age(beat, now)?;
        (age >= INTAKE_DEAF).then(|| {
            format!(
                "intake: no heartbeat for {} s (the runtime cannot serve it)",
                age.as_secs()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn queued_work_without_progress_is_a_stall_and_progress_ends_it() {
        let p = PipelineHealth::default();
        p.beat();
        assert!(p.unready_reasons().is_empty());
        // Idle with nothing queued is fine however long.
        tokio::time::advance(INTAKE_STALL * 3).await;
        assert!(p.unready_reasons().is_empty());

        p.enqueued();
        p.enqueued();
        tokio::time::advance(INTAKE_STALL - Duration::from_millis(1)).await;
        assert!(p.unready_reasons().is_empty(), "{:?}", p.unready_reasons());
        tokio::time::advance(Duration::from_millis(2)).await;
        let reasons = p.unready_reasons();
        assert_eq!(reasons.len(), 1);
        assert!(
            reasons[0].starts_with("intake: 2 events queued"),
            "{reasons:?}"
        );
        assert!(p.figures().intake_stalled);

        p.handled();
        assert!(p.unready_reasons().is_empty(), "progress ends the stall");
        assert_eq!(p.figures().intake_queued, 1);
        p.handled();
        assert_eq!(p.figures().intake_queued, 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_heartbeat_fails_liveness() {
        let p = PipelineHealth::default();
        assert_eq!(p.not_live_reason(), None, "not started yet");
        p.beat();
        tokio::time::advance(INTAKE_DEAF - Duration::from_millis(1)).await;
        assert_eq!(p.not_live_reason(), None);
        tokio::time::advance(Duration::from_millis(2)).await;
        assert!(p.not_live_reason().unwrap().contains("no heartbeat"));
        p.beat();
        assert_eq!(p.not_live_reason(), None);
    }

    #[test]
    fn a_paused_intake_is_not_ready_and_counts_what_it_turned_away() {
        let p = PipelineHealth::default();
        p.intake_paused(true);
        p.turned_away();
        p.turned_away();
        let reasons = p.unready_reasons();
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert!(reasons[0].starts_with("intake: paused"), "{reasons:?}");
        assert!(reasons[0].contains("2 messages turned away"), "{reasons:?}");
        assert!(p.figures().intake_paused);
        p.intake_paused(false);
        assert!(p.unready_reasons().is_empty());
        assert!(!p.figures().intake_paused);
        assert_eq!(p.figures().intake_turned_away_total, 2);
    }

    #[test]
    fn the_store_fails_until_an_operation_succeeds() {
        let p = PipelineHealth::default();
        p.store_outcome(None);
        assert!(p.unready_reasons().is_empty());
        p.store_outcome(Some("journal accept: disk I/O error"));
        p.store_outcome(Some("journal state: disk I/O error"));
        let reasons = p.unready_reasons();
        assert_eq!(reasons.len(), 1);
        assert!(
            reasons[0].contains("journal state: disk I/O error"),
            "{reasons:?}"
        );
        assert!(p.figures().store_failing);
        p.store_outcome(None);
        assert!(p.unready_reasons().is_empty());
        assert!(!p.figures().store_failing);
    }
}
