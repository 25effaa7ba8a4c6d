//! Reconnect delays: immediate first retry, then exponential with jitter.
//!
//! The first reconnect after a connection that had been stable is immediate
//! (a dropped socket or an op 7 should cost no wait: see ADR 0002); every
//! further consecutive failure doubles the delay from `initial` up to `max`,
//! with +/-20 % jitter. The count resets once a connection stays healthy for
//! `healthy_reset`. Pure arithmetic: no clock reads, no sleeping.

use std::time::Duration;

/// Jitter applied to every non-zero delay, as a fraction either way.
const JITTER: f64 = 0.2;

#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    healthy_reset: Duration,
    /// Consecutive disconnects since the last stable connection.
    failures: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration, healthy_reset: Duration) -> Self {
        Self {
            initial,
            max,
            healthy_reset,
            failures: 0,
        }
    }

    /// Record a lost connection that had been healthy for `healthy_for`
    /// (zero if it never became healthy) and return `(attempt, base delay)`;
    /// apply [`jitter`] to the delay before sleeping.
    pub fn on_disconnect(&mut self, healthy_for: Duration) -> (u32, Duration) {
        if healthy_for >= self.healthy_reset {
            self.failures = 0;
        }
        self.failures = self.failures.saturating_add(1);
        (self.failures, self.base_delay(self.failures))
    }

    /// Attempt 1 waits nothing; attempt n >= 2 waits initial * 2^(n-2), capped.
    fn base_delay(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let exponent = (attempt - 2).min(31);
        let factor = 1u32 << exponent;
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// Spread `base` by +/-20 % using `unit` (a sample from 0.0..1.0), never above
/// `max`. Zero stays zero.
pub fn jitter(base: Duration, max: Duration, unit: f64) -> Duration {
    if base.is_zero() {
        return base;
    }
    let factor = 1.0 - JITTER + 2.0 * JITTER * unit.clamp(0.0, 1.0);
    base.mul_f64(factor).min(max)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn backoff() -> Backoff {
        Backoff::new(S, 60 * S, 60 * S)
    }

    #[test]
    fn first_retry_is_immediate_then_doubles_from_initial_to_the_cap() {
        let mut b = backoff();
        let delays: Vec<u64> = (0..10)
            .map(|_| b.on_disconnect(Duration::ZERO).1.as_secs())
            .collect();
        assert_eq!(delays, [0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
    }

    #[test]
    fn attempts_count_up_and_reset_after_a_stable_connection() {
        let mut b = backoff();
        assert_eq!(b.on_disconnect(Duration::ZERO).0, 1);
        assert_eq!(
            b.on_disconnect(59 * S).0,
            2,
            "59 s healthy is not yet stable"
        );
        assert_eq!(b.on_disconnect(Duration::ZERO), (3, 2 * S));
        assert_eq!(b.on_disconnect(60 * S), (1, Duration::ZERO));
    }

    #[test]
    fn huge_attempt_counts_do_not_overflow() {
        let mut b = backoff();
        for _ in 0..10_000 {
            b.on_disconnect(Duration::ZERO);
        }
        assert_eq!(b.on_disconnect(Duration::ZERO).1, 60 * S);
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_under_the_cap() {
        assert_eq!(jitter(Duration::ZERO, 60 * S, 0.7), Duration::ZERO);
        assert_eq!(jitter(10 * S, 60 * S, 0.0), 8 * S);
        assert_eq!(jitter(10 * S, 60 * S, 1.0), 12 * S);
        assert_eq!(jitter(10 * S, 60 * S, 0.5), 10 * S);
        assert_eq!(jitter(60 * S, 60 * S, 1.0), 60 * S, "never above the cap");
    }
}
