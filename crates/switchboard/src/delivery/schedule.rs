//! Which channel the delivery check reads next, and when: every active
//! channel once per `canary.interval`, the checks staggered over it; a
//! channel without activity within `canary.thread_window` at most every
//! `canary.idle_interval`; a thread the bot owns is dropped once it has
//! been inactive for that window; and never more than
//! `canary.calls_per_minute` checks a minute, spaced evenly (past it every
//! channel's turn comes later, the most overdue first).
//!
//! Bounded: besides the allowed channels, at most [`MAX_WATCHED_THREADS`]
//! threads; past it the least recently active ones are dropped (they are
//! checked no more until they are active again).
//!
//! Pure: time comes in as an argument, so a simulated hour is a loop.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

/// Threads watched at most (the ledger's bound): each costs memory for
/// as long as `canary.thread_window` (about 0.8 KB per thread with the
/// ledger's entry, measured in the soak), so a bot opening threads faster
/// than this per window must not grow without end.
pub const MAX_WATCHED_THREADS: usize = super::ledger::MAX_CHANNELS;

/// The settings that shape the schedule.
#[derive(Clone, Copy, Debug)]
pub struct ScheduleSettings {
    pub interval: Duration,
    pub idle_interval: Duration,
    pub thread_window: Duration,
    pub calls_per_minute: u32,
}

#[derive(Clone, Debug)]
struct Entry {
    /// An allowed channel: checked for as long as the process runs.
    configured: bool,
    active_at: Instant,
    next_check: Instant,
}

/// What to do next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Check(String),
    WaitUntil(Instant),
}

#[derive(Debug)]
pub struct Schedule {
    settings: ScheduleSettings,
    entries: HashMap<String, Entry>,
    next_call_at: Instant,
}

/// A stable offset in `[0, span)` for `channel`, so checks spread out.
fn stagger(channel: &str, span: Duration) -> Duration {
    let hash = channel.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    span.mul_f64((hash % 1_000) as f64 / 1_000.0)
}

impl Schedule {
    /// `configured`: the allowed channels, checked for good (as idle until
    /// something happens in them).
    pub fn new(settings: ScheduleSettings, configured: &[String], now: Instant) -> Self {
        let long_ago = now.checked_sub(settings.thread_window * 2).unwrap_or(now);
        let entries = configured
            .iter()
            .map(|channel| {
                let entry = Entry {
                    configured: true,
                    active_at: long_ago,
                    next_check: now + stagger(channel, settings.interval),
                };
                (channel.clone(), entry)
            })
            .collect();
        Self {
            settings,
            entries,
            next_call_at: now,
        }
    }

    fn gap(&self) -> Duration {
        Duration::from_secs(60) / self.settings.calls_per_minute.max(1)
    }

    fn period(&self, entry: &Entry, now: Instant) -> Duration {
        if now.saturating_duration_since(entry.active_at) <= self.settings.thread_window {
            self.settings.interval
        } else {
            self.settings.idle_interval
        }
    }

    /// Take in the channels with activity (from the ledger): new ones are
    /// added, known ones marked active; threads inactive for longer than
    /// the window are dropped.
    pub fn sync(&mut self, active: &[(String, Instant)], now: Instant) {
        for (channel, at) in active {
            let interval = self.settings.interval;
            let entry = self
                .entries
                .entry(channel.clone())
                .or_insert_with(|| Entry {
                    configured: false,
                    active_at: *at,
                    next_check: now + stagger(channel, interval),
                });
            if *at > entry.active_at {
                // Back from idle: its next turn comes within an interval.
                entry.next_check = entry.next_check.min(*at + interval);
                entry.active_at = *at;
            }
        }
        let window = self.settings.thread_window;
        self.entries
            .retain(|_, e| e.configured || now.saturating_duration_since(e.active_at) <= window);
        self.drop_least_active_past_the_bound();
    }

    /// Keep at most [`MAX_WATCHED_THREADS`] threads: the most recently
    /// active ones. Runs after every sync: counting first keeps the usual case (under
    /// the bound) free of allocation.
    fn drop_least_active_past_the_bound(&mut self) {
        let watched = self.entries.values().filter(|e| !e.configured).count();
        let Some(excess) = watched.checked_sub(MAX_WATCHED_THREADS).filter(|n| *n > 0) else {
            return;
        };
        let mut threads: Vec<(Instant, String)> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.configured)
            .map(|(channel, e)| (e.active_at, channel.clone()))
            .collect();
        threads.sort_unstable();
        for (_, channel) in threads.into_iter().take(excess) {
            self.entries.remove(&channel);
        }
    }

    /// How many channels and threads are watched.
    #[cfg(test)]
    fn watched(&self) -> usize {
        self.entries.len()
    }

    /// Something new was seen in `channel` over REST: it is active.
    pub fn saw_activity(&mut self, channel: &str, now: Instant) {
        if let Some(entry) = self.entries.get_mut(channel) {
            entry.active_at = now;
        }
    }

    /// Check `channel` again no later than `at` (a message not delivered
    /// yet, but still within its grace).
    pub fn recheck_by(&mut self, channel: &str, at: Instant) {
        if let Some(entry) = self.entries.get_mut(channel) {
            entry.next_check = entry.next_check.min(at);
        }
    }

    /// The next check to make now, or when to ask again.
    pub fn next(&mut self, now: Instant) -> Next {
        let Some((channel, due)) = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.next_check)
            .map(|(c, e)| (c.clone(), e.next_check))
        else {
            return Next::WaitUntil(now + self.settings.interval);
        };
        let at = due.max(self.next_call_at);
        if at > now {
            return Next::WaitUntil(at);
        }
        let period = self.period(&self.entries[&channel], now);
        let entry = self.entries.get_mut(&channel).expect("found above");
        entry.next_check = now + period;
        self.next_call_at = now + self.gap();
        Next::Check(channel)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests;
