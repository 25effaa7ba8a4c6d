//! Discord's invalid requests (responses 401, 403 and 429) counted: totals
//! per status for /metrics, and a sliding ten-minute count that logs a
//! WARN once it passes [`WARN_AT`] (10% of the 10,000 per ten minutes after
//! which Discord bans the IP for an hour), at most once a minute.
//!
//! A 429 with `X-RateLimit-Scope: shared` is not counted: Discord says a
//! shared resource's limit does not count against the invalid-request
//! limit. Owns the counting only; must never hold its lock across an
//! `.await`, and keeps at most one slot per second of the window.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

/// Discord's invalid-request limit per [`WINDOW`].
pub const DISCORD_BAN_THRESHOLD: u64 = 10_000;
/// Invalid requests in [`WINDOW`] past which a WARN is logged.
pub const WARN_AT: u64 = DISCORD_BAN_THRESHOLD / 10;
/// The window Discord counts invalid requests in.
pub const WINDOW: Duration = Duration::from_secs(600);
/// At most one WARN per this long.
const WARN_EVERY: Duration = Duration::from_secs(60);
/// The statuses counted, in the order of [`InvalidRequests::totals`].
pub const STATUSES: [u16; 3] = [401, 403, 429];

/// A cheaply cloned counter shared by the REST client and /metrics.
#[derive(Clone, Debug, Default)]
pub struct InvalidRequests {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    totals: [AtomicU64; 3],
    recent: Mutex<Recent>,
}

/// Counts per second over the last [`WINDOW`] (at most 600 slots).
#[derive(Debug, Default)]
struct Recent {
    slots: VecDeque<(Instant, u64)>,
    sum: u64,
    warned_at: Option<Instant>,
}

impl Recent {
    /// Count one at `now`; the window's count.
    fn add(&mut self, now: Instant) -> u64 {
        while self
            .slots
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= WINDOW)
        {
            let (_, n) = self.slots.pop_front().expect("checked");
            self.sum -= n;
        }
        match self.slots.back_mut() {
            Some((at, n)) if now.saturating_duration_since(*at) < Duration::from_secs(1) => *n += 1,
            _ => self.slots.push_back((now, 1)),
        }
        self.sum += 1;
        self.sum
    }

    /// Whether to warn now about `count`.
    fn should_warn(&mut self, count: u64, now: Instant) -> bool {
        let due = self
            .warned_at
            .is_none_or(|at| now.saturating_duration_since(at) >= WARN_EVERY);
        if count > WARN_AT && due {
            self.warned_at = Some(now);
            return true;
        }
        false
    }
}

impl InvalidRequests {
    /// Count a response with `status` (others than 401, 403 and 429, and
    /// shared-scope 429s, are not invalid requests).
    pub fn record(&self, status: u16, shared_scope: bool) {
        let Some(index) = STATUSES.iter().position(|s| *s == status) else {
            return;
        };
        if status == 429 && shared_scope {
            return;
        }
        self.inner.totals[index].fetch_add(1, Ordering::Relaxed);
        let now = Instant::now();
        let (count, warn) = {
            let mut recent = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
            let count = recent.add(now);
            (count, recent.should_warn(count, now))
        };
        if warn {
            tracing::warn!(
                platform = "discord",
                invalid_requests = count,
                window_secs = WINDOW.as_secs(),
                warn_at = WARN_AT,
                ban_threshold = DISCORD_BAN_THRESHOLD,
                "Discord REST: {count} invalid requests (401/403/429) in the last 10 minutes; \
                 Discord bans the IP for an hour at {DISCORD_BAN_THRESHOLD}"
            );
        }
    }

    /// Totals since start, per status of [`STATUSES`].
    pub fn totals(&self) -> [(u16, u64); 3] {
        let t = &self.inner.totals;
        [0, 1, 2].map(|i| (STATUSES[i], t[i].load(Ordering::Relaxed)))
    }

    /// Invalid requests in the last [`WINDOW`].
    pub fn recent(&self) -> u64 {
        let mut recent = self.inner.recent.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        while recent
            .slots
            .front()
            .is_some_and(|(at, _)| now.saturating_duration_since(*at) >= WINDOW)
        {
            let (_, n) = recent.slots.pop_front().expect("checked");
            recent.sum -= n;
        }
        recent.sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn counts_401_403_and_429_but_not_shared_429s_or_others() {
        let counter = InvalidRequests::default();
        for status in [401, 403, 403, 429, 429, 429, 404, 500, 200] {
            counter.record(status, false);
        }
        counter.record(429, true);
        assert_eq!(counter.totals(), [(401, 1), (403, 2), (429, 3)]);
        assert_eq!(counter.recent(), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_slides_over_ten_minutes() {
        let counter = InvalidRequests::default();
        counter.record(429, false);
        tokio::time::advance(Duration::from_secs(300)).await;
        counter.record(429, false);
        counter.record(401, false);
        assert_eq!(counter.recent(), 3);
        tokio::time::advance(Duration::from_secs(301)).await;
        assert_eq!(counter.recent(), 2, "the first one left the window");
        tokio::time::advance(Duration::from_secs(300)).await;
        assert_eq!(counter.recent(), 0);
        assert_eq!(counter.totals()[2], (429, 2), "totals never drop");
    }

    #[tokio::test(start_paused = true)]
    async fn warns_past_a_tenth_of_the_ban_threshold_at_most_once_a_minute() {
        let mut recent = Recent::default();
        let start = Instant::now();
        let mut warnings = Vec::new();
        // 4,000 invalid requests over 4 minutes, evenly.
        for i in 0..4_000u64 {
            let now = start + Duration::from_millis(i * 60);
            let count = recent.add(now);
            if recent.should_warn(count, now) {
                warnings.push((now - start, count));
            }
        }
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert_eq!(warnings[0].1, WARN_AT + 1, "the first warning is at once");
        for pair in warnings.windows(2) {
            assert!(pair[1].0 - pair[0].0 >= WARN_EVERY, "{warnings:?}");
        }
        assert!(recent.slots.len() <= 600, "one slot per second at most");
    }
}
