//! What the last catch-up of each platform did, for /status: how many
//! channels it read, how many messages it fetched, which channels it cut
//! short (page or time budget) or could not read.
//!
//! Owns only figures; it never reads history or decides what to catch up.
//! Bounded: one entry per platform, at most [`LISTED_CHANNELS`] channels
//! named per entry (the totals count every one).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Channels named in one platform's entry; past it only the totals grow.
pub const LISTED_CHANNELS: usize = 20;

/// One channel catch-up did not read to the end.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct IncompleteChannel {
    pub channel: String,
    /// "page_budget", "time_budget" or "error".
    pub reason: String,
    /// Messages it did fetch (and handled) from that channel.
    pub fetched: u64,
}

/// One platform's latest catch-up.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CatchUpFigures {
    pub platform: String,
    /// Unix time (ms) the run started.
    pub started_at_unix_ms: i64,
    /// Still reading.
    pub running: bool,
    /// Channels and threads read (or tried).
    pub channels: u64,
    pub fetched: u64,
    /// Channels that stopped at a budget with more to read.
    pub cut_short_total: u64,
    /// Channels whose read failed.
    pub failed_total: u64,
    /// The first [`LISTED_CHANNELS`] of those, by name.
    pub incomplete: Vec<IncompleteChannel>,
}

/// Shared, updatable [`CatchUpFigures`] per platform.
#[derive(Clone, Debug, Default)]
pub struct CatchUpHealth {
    runs: Arc<Mutex<BTreeMap<String, CatchUpFigures>>>,
}

impl CatchUpHealth {
    fn with(&self, platform: &str, f: impl FnOnce(&mut CatchUpFigures)) {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(run) = runs.get_mut(platform) {
            f(run);
        }
    }

    /// A new run of `platform` replaces its last one.
    pub fn started(&self, platform: &str, now_unix_ms: i64) {
        let run = CatchUpFigures {
            platform: platform.to_owned(),
            started_at_unix_ms: now_unix_ms,
            running: true,
            ..CatchUpFigures::default()
        };
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(platform.to_owned(), run);
    }

    /// One channel read: `fetched` messages, and why it stopped early
    /// (`Some("page_budget")`, ...) or `None` when it reached the end.
    pub fn channel_read(&self, platform: &str, channel: &str, fetched: u64, cut: Option<&str>) {
        self.with(platform, |run| {
            run.channels += 1;
            run.fetched += fetched;
            if let Some(reason) = cut {
                run.cut_short_total += 1;
                list(run, channel, reason, fetched);
            }
        });
    }

    /// One channel could not be read.
    pub fn channel_failed(&self, platform: &str, channel: &str) {
        self.with(platform, |run| {
            run.channels += 1;
            run.failed_total += 1;
            list(run, channel, "error", 0);
        });
    }

    pub fn finished(&self, platform: &str) {
        self.with(platform, |run| run.running = false);
    }

    /// Every platform's latest run, by platform name.
    pub fn figures(&self) -> Vec<CatchUpFigures> {
        self.runs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

fn list(run: &mut CatchUpFigures, channel: &str, reason: &str, fetched: u64) {
    if run.incomplete.len() < LISTED_CHANNELS {
        run.incomplete.push(IncompleteChannel {
            channel: channel.to_owned(),
            reason: reason.to_owned(),
            fetched,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_counts_every_channel_and_names_the_first_incomplete_ones() {
        let health = CatchUpHealth::default();
        health.channel_read("discord", "ignored before start", 5, None);
        assert!(health.figures().is_empty());
        health.started("discord", 1_000);
        health.channel_read("discord", "1", 7, None);
        for n in 0..LISTED_CHANNELS + 5 {
            health.channel_read("discord", &format!("c{n}"), 100, Some("page_budget"));
        }
        health.channel_failed("discord", "gone");
        let run = &health.figures()[0];
        assert!(run.running);
        assert_eq!(run.channels, LISTED_CHANNELS as u64 + 7);
        assert_eq!(run.fetched, 7 + 100 * (LISTED_CHANNELS as u64 + 5));
        assert_eq!(run.cut_short_total, LISTED_CHANNELS as u64 + 5);
        assert_eq!(run.failed_total, 1);
        assert_eq!(run.incomplete.len(), LISTED_CHANNELS);
        assert_eq!(run.incomplete[0].reason, "page_budget");
        health.finished("discord");
        assert!(!health.figures()[0].running);
        health.started("discord", 2_000);
        let fresh = &health.figures()[0];
        assert_eq!((fresh.channels, fresh.started_at_unix_ms), (0, 2_000));
    }
}
