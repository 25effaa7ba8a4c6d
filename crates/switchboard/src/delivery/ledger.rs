//! What the live connection delivered: per channel (or thread), the newest
//! message id a live event brought and when, and when the platform's
//! current session began. Written by the bridge for every live message
//! (never for caught-up ones), read by the reconciler.
//!
//! Bounded: at most [`MAX_CHANNELS`] channels; past it the one with the
//! oldest activity is forgotten (it is then checked as if new).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use tokio::time::Instant;

use crate::store::id_cmp;

/// Channels remembered at most.
pub const MAX_CHANNELS: usize = 10_000;

/// One channel as the connection delivered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    /// The newest message id delivered live (or accounted for by a miss
    /// already handled); `None` for a channel only watched so far.
    pub newest: Option<String>,
    /// The last delivery, or when the channel was first watched.
    pub active_at: Instant,
    /// The last live delivery (never set by [`DeliveryLedger::accounted`]).
    pub delivered_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct LedgerState {
    channels: HashMap<String, Delivered>,
    session_started: Option<SystemTime>,
}

/// Shared, cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct DeliveryLedger {
    state: Arc<Mutex<LedgerState>>,
}

/// Compare two message ids of one platform ("channel:ts" ids by their ts).
pub fn id_order(a: &str, b: &str) -> std::cmp::Ordering {
    let tail = |id: &str| id.rsplit(':').next().unwrap_or(id).to_owned();
    id_cmp(&tail(a), &tail(b))
}

impl DeliveryLedger {
    fn state(&self) -> MutexGuard<'_, LedgerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A live event brought message `id` in `channel`.
    pub fn delivered(&self, channel: &str, id: &str) {
        self.advance(channel, id, true);
    }

    /// A missed message was found and handled: the channel counts as
    /// delivered up to `id`, so it is not found again.
    pub fn accounted(&self, channel: &str, id: &str) {
        self.advance(channel, id, false);
    }

    fn advance(&self, channel: &str, id: &str, live: bool) {
        let now = Instant::now();
        let delivered_at = live.then_some(now);
        let mut state = self.state();
        if let Some(entry) = state.channels.get_mut(channel) {
            entry.active_at = now;
            if live {
                entry.delivered_at = delivered_at;
            }
            if entry
                .newest
                .as_deref()
                .is_none_or(|newest| id_order(id, newest).is_gt())
            {
                entry.newest = Some(id.to_owned());
            }
            return;
        }
        insert(
            &mut state,
            channel,
            Delivered {
                newest: Some(id.to_owned()),
                active_at: now,
                delivered_at,
            },
        );
    }

    /// Start checking `channel` (a thread the bot just opened), if it is
    /// not known yet.
    pub fn watch(&self, channel: &str) {
        let mut state = self.state();
        if !state.channels.contains_key(channel) {
            let entry = Delivered {
                newest: None,
                active_at: Instant::now(),
                delivered_at: None,
            };
            insert(&mut state, channel, entry);
        }
    }

    /// A new session of the platform began (not a resume): what was posted
    /// before it is catch-up's, not the connection's, to deliver.
    pub fn session_started(&self, at: SystemTime) {
        self.state().session_started = Some(at);
    }

    /// This instance no longer holds the platform's session (another
    /// instance took it): nothing is due to be delivered here.
    pub fn session_stopped(&self) {
        self.state().session_started = None;
    }

    pub fn session_started_at(&self) -> Option<SystemTime> {
        self.state().session_started
    }

    pub fn get(&self, channel: &str) -> Option<Delivered> {
        self.state().channels.get(channel).cloned()
    }

    /// Channels active at or after `since`, with their last activity.
    pub fn active_since(&self, since: Instant) -> Vec<(String, Instant)> {
        self.state()
            .channels
            .iter()
            .filter(|(_, d)| d.active_at >= since)
            .map(|(c, d)| (c.clone(), d.active_at))
            .collect()
    }

    /// Forget channels inactive since before `before`.
    pub fn forget_older(&self, before: Instant) {
        self.state().channels.retain(|_, d| d.active_at >= before);
    }

    pub fn len(&self) -> usize {
        self.state().channels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn insert(state: &mut LedgerState, channel: &str, entry: Delivered) {
    if state.channels.len() >= MAX_CHANNELS {
        let oldest = state
            .channels
            .iter()
            .min_by_key(|(_, d)| d.active_at)
            .map(|(c, _)| c.clone());
        if let Some(oldest) = oldest {
            state.channels.remove(&oldest);
        }
    }
    state.channels.insert(channel.to_owned(), entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_id_wins_whatever_order_events_come_in() {
        let ledger = DeliveryLedger::default();
        ledger.delivered("c", "100");
        ledger.delivered("c", "99");
        assert_eq!(ledger.get("c").unwrap().newest.as_deref(), Some("100"));
        ledger.delivered("c", "1000");
        assert_eq!(ledger.get("c").unwrap().newest.as_deref(), Some("1000"));
        ledger.delivered("s", "C1:1700000000.000200");
        ledger.delivered("s", "C1:1700000000.000100");
        assert_eq!(
            ledger.get("s").unwrap().newest.as_deref(),
            Some("C1:1700000000.000200")
        );
    }

    #[test]
    fn a_watched_channel_has_no_newest_until_something_arrives() {
        let ledger = DeliveryLedger::default();
        ledger.watch("t");
        assert_eq!(ledger.get("t").unwrap().newest, None);
        ledger.delivered("t", "5");
        ledger.watch("t");
        assert_eq!(ledger.get("t").unwrap().newest.as_deref(), Some("5"));
    }

    #[test]
    fn at_the_limit_the_least_recently_active_channel_is_forgotten() {
        let ledger = DeliveryLedger::default();
        for n in 0..MAX_CHANNELS {
            ledger.delivered(&format!("c{n}"), "1");
        }
        ledger.delivered("c0", "2"); // c0 active again
        ledger.delivered("new", "1");
        assert_eq!(ledger.len(), MAX_CHANNELS);
        assert!(ledger.get("c0").is_some() && ledger.get("new").is_some());
    }
}
