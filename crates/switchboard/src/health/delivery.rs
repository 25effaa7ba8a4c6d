//! Whether each platform's live connection delivers what the platform
//! holds, as the delivery check (`delivery/`) found it: ok or suspect (with
//! the reason), and its counts. A suspect platform makes the process
//! unready until a check proves delivery again or a new session begins.
//!
//! Owns only figures. Bounded: one entry per platform.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;

use crate::store::now_ms;

/// One platform's delivery as /status shows it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DeliveryFigures {
    pub platform: String,
    /// "ok" or "suspect".
    pub state: &'static str,
    /// Why it is suspect.
    pub reason: Option<String>,
    pub suspect_since_unix_ms: Option<i64>,
    /// Checks in a row that found a miss (a check proving delivery, or a
    /// new session, resets it).
    pub consecutive_misses: u32,
    pub missed_dispatches_total: u64,
    pub checks_total: u64,
    /// Checks not made because the rate budget had no room to spare.
    pub skipped_total: u64,
    /// New sessions asked for because events were not delivered.
    pub renewals_total: u64,
    /// Channels and threads being checked.
    pub watched: u64,
}

/// Shared, updatable [`DeliveryFigures`] per platform.
#[derive(Clone, Debug, Default)]
pub struct DeliveryHealth {
    platforms: Arc<Mutex<BTreeMap<String, DeliveryFigures>>>,
}

impl DeliveryHealth {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, DeliveryFigures>> {
        self.platforms.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn with<T>(&self, platform: &str, f: impl FnOnce(&mut DeliveryFigures) -> T) -> T {
        let mut platforms = self.lock();
        let figures = platforms
            .entry(platform.to_owned())
            .or_insert_with(|| DeliveryFigures {
                platform: platform.to_owned(),
                state: "ok",
                ..DeliveryFigures::default()
            });
        f(figures)
    }

    /// The platform is checked (shown in /status from now on).
    pub fn register(&self, platform: &str) {
        self.with(platform, |_| ());
    }

    pub fn checked(&self, platform: &str, watched: usize) {
        self.with(platform, |f| {
            f.checks_total += 1;
            f.watched = watched as u64;
        });
    }

    pub fn skipped(&self, platform: &str) {
        self.with(platform, |f| f.skipped_total += 1);
    }

    /// A check found `missed` messages not delivered: the platform is
    /// suspect. Returns the checks in a row that found a miss.
    pub fn missed(&self, platform: &str, missed: u64, reason: String) -> u32 {
        self.with(platform, |f| {
            f.missed_dispatches_total += missed;
            f.consecutive_misses += 1;
            if f.state != "suspect" {
                f.suspect_since_unix_ms = Some(now_ms());
            }
            f.state = "suspect";
            f.reason = Some(reason);
            f.consecutive_misses
        })
    }

    /// A check saw a new message delivered in time, or a new session
    /// began: delivery is trusted again.
    pub fn trusted(&self, platform: &str) {
        self.with(platform, |f| {
            f.consecutive_misses = 0;
            f.state = "ok";
            f.reason = None;
            f.suspect_since_unix_ms = None;
        });
    }

    pub fn renewed(&self, platform: &str) {
        self.with(platform, |f| f.renewals_total += 1);
    }

    pub fn figures(&self) -> Vec<DeliveryFigures> {
        self.lock().values().cloned().collect()
    }

    /// One reason per suspect platform.
    pub fn unready_reasons(&self) -> Vec<String> {
        self.lock()
            .values()
            .filter(|f| f.state == "suspect")
            .map(|f| {
                format!(
                    "{}: suspect: {}",
                    f.platform,
                    f.reason.as_deref().unwrap_or("events not delivered")
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miss_makes_the_platform_suspect_until_delivery_is_trusted_again() {
        let health = DeliveryHealth::default();
        health.register("discord");
        assert!(health.unready_reasons().is_empty());
        assert_eq!(
            health.missed("discord", 2, "channel 5: not delivered".into()),
            1
        );
        assert_eq!(
            health.missed("discord", 1, "channel 6: not delivered".into()),
            2
        );
        assert_eq!(
            health.unready_reasons(),
            ["discord: suspect: channel 6: not delivered"]
        );
        let figures = &health.figures()[0];
        assert_eq!(
            (figures.state, figures.missed_dispatches_total),
            ("suspect", 3)
        );
        health.trusted("discord");
        assert!(health.unready_reasons().is_empty());
        assert_eq!(health.figures()[0].consecutive_misses, 0);
        assert_eq!(
            health.figures()[0].missed_dispatches_total,
            3,
            "totals stay"
        );
    }
}
