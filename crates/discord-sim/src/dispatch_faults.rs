//! Delivery faults on chosen dispatch kinds (`t`), the way a gateway can go
//! deaf while it looks healthy: a muted kind is never sent to a muted
//! session and spends no sequence number (so neither a heartbeat's `d`
//! nor a RESUME can reveal it); a delayed kind reaches its connection only
//! after a fixed delay, without reordering that connection's dispatches.
//!
//! Holds the rules and the record of what was muted; `sessions` applies
//! them. Bookkeeping under the state lock only: it must never touch a
//! socket or await, and it never stops heartbeat ACKs or other opcodes.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use crate::records::MutedDispatch;

/// The most muted dispatches remembered; past it the oldest are forgotten
/// (tests assert on recent ones; `muted_total` keeps counting).
pub(crate) const MUTED_RECORD_LIMIT: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct DispatchFaults {
    /// Kinds muted for every session identified from now on.
    pub muted_for_new_sessions: BTreeSet<String>,
    /// Kinds delivered late, and by how much.
    delays: BTreeMap<String, Duration>,
    /// The most recent muted dispatches, oldest first.
    pub muted: VecDeque<MutedDispatch>,
    /// Every dispatch ever muted.
    pub muted_total: u64,
}

impl DispatchFaults {
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

    /// How late a dispatch of `kind` is delivered, if at all.
    pub fn delay_of(&self, kind: &str) -> Option<Duration> {
        self.delays.get(kind).copied()
    }

    /// Remembers one muted dispatch (bounded, see `MUTED_RECORD_LIMIT`).
    pub fn record(&mut self, muted: MutedDispatch) {
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
        let mut f = DispatchFaults::default();
        f.set_delay(&["MESSAGE_CREATE", "THREAD_CREATE"], Duration::from_secs(2));
        assert_eq!(f.delay_of("MESSAGE_CREATE"), Some(Duration::from_secs(2)));
        f.set_delay(&["MESSAGE_CREATE"], Duration::ZERO);
        assert_eq!(f.delay_of("MESSAGE_CREATE"), None);
        assert!(f.delay_of("THREAD_CREATE").is_some());
        f.clear_delays();
        assert_eq!(f.delay_of("THREAD_CREATE"), None);
    }
}
