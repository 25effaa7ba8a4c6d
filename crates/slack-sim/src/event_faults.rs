//! Delivery faults on chosen event kinds (the inner `event.type`, e.g.
//! "message", "app_mention"), the way a Socket Mode link can go deaf while
//! it looks healthy: a muted kind is never sent on a muted connection (no
//! envelope, no retry; if no other connection may take it, it is lost and
//! recorded); a delayed kind reaches its connection only after a fixed
//! delay, without reordering that connection's envelopes.
//!
//! Holds the rules and the record of what was muted; `sockets` and
//! `delivery` apply them. Bookkeeping under the state lock only: it must
//! never touch a socket or await, and it never stops pings or pongs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::records::MutedEvent;

/// The most muted events remembered; past it the oldest are forgotten
/// (tests assert on recent ones; `muted_total` keeps counting).
pub(crate) const MUTED_RECORD_LIMIT: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct EventFaults {
    /// Kinds muted on every connection opened from now on.
    pub muted_for_new_connections: BTreeSet<String>,
    /// Kinds delivered late, and by how much.
    delays: BTreeMap<String, Duration>,
    /// The most recent muted events, oldest first.
    pub muted: VecDeque<MutedEvent>,
    /// Every event ever muted.
    pub muted_total: u64,
}

impl EventFaults {
    /// Sets (or with `Duration::ZERO` ends) the delay of each kind.
    pub fn set_delay(&mut self, kinds: &[&str], delay: Duration) {
        for kind in kinds {
            if delay.is_zero() {
                self.delays.remove(*kind);
            } else {
                self.delays.insert((*kind).to_owned(), delay);
            }
        }
    }

    pub fn clear_delays(&mut self) {
        self.delays.clear();
    }

    /// How late an event of `kind` is delivered, if at all.
    pub fn delay_of(&self, kind: Option<&str>) -> Option<Duration> {
        kind.and_then(|k| self.delays.get(k).copied())
    }

    /// Remembers one muted event (bounded, see `MUTED_RECORD_LIMIT`).
    pub fn record(&mut self, muted: MutedEvent) {
        self.muted_total += 1;
        if self.muted.len() == MUTED_RECORD_LIMIT {
            self.muted.pop_front();
        }
        self.muted.push_back(muted);
    }
}

/// The kinds as owned names.
pub(crate) fn kinds(kinds: &[&str]) -> BTreeSet<String> {
    kinds.iter().map(|k| (*k).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zero_delay_ends_it() {
        let mut f = EventFaults::default();
        f.set_delay(&["message", "app_mention"], Duration::from_secs(2));
        assert_eq!(f.delay_of(Some("message")), Some(Duration::from_secs(2)));
        f.set_delay(&["message"], Duration::ZERO);
        assert_eq!(f.delay_of(Some("message")), None);
        assert_eq!(f.delay_of(None), None);
        f.clear_delays();
        assert_eq!(f.delay_of(Some("app_mention")), None);
    }
}
