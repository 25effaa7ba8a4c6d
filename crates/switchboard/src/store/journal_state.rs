//! The lifecycle of one journaled message, and the backlog figures.
//!
//! Owns the state names as stored (`as_str` / `FromStr` are the only
//! mapping between the enum and the `journal.state` column) and which states
//! count as unfinished. It must never hold transition policy beyond that:
//! the caller moves entries along.

use std::fmt;
use std::str::FromStr;

/// Where a journaled message stands.
///
/// `Received` -> `Prompted` -> `Answered` | `Failed`; `Interrupted` marks an
/// entry whose turn was cut off (shutdown, crash recovery) and must be
/// finished or retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JournalState {
    /// Accepted and journaled; not yet sent to an agent.
    Received,
    /// Sent to an agent; the answer is under way.
    Prompted,
    /// The answer was delivered.
    Answered,
    /// Given up on (the user was told).
    Failed,
    /// The turn was cut off before it finished.
    Interrupted,
}

impl JournalState {
    /// Every state, in lifecycle order.
    pub const ALL: [JournalState; 5] = [
        JournalState::Received,
        JournalState::Prompted,
        JournalState::Answered,
        JournalState::Failed,
        JournalState::Interrupted,
    ];
    /// The states that still need work after a restart.
    pub const UNFINISHED: [JournalState; 3] = [
        JournalState::Received,
        JournalState::Prompted,
        JournalState::Interrupted,
    ];
    /// The states that need no more work (and may be pruned).
    pub const FINISHED: [JournalState; 2] = [JournalState::Answered, JournalState::Failed];

    /// The name stored in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalState::Received => "received",
            JournalState::Prompted => "prompted",
            JournalState::Answered => "answered",
            JournalState::Failed => "failed",
            JournalState::Interrupted => "interrupted",
        }
    }

    /// `true` for `Answered` and `Failed`.
    pub fn is_finished(self) -> bool {
        Self::FINISHED.contains(&self)
    }
}

impl fmt::Display for JournalState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state name this version does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown journal state {0:?}")]
pub struct UnknownJournalState(pub String);

impl FromStr for JournalState {
    type Err = UnknownJournalState;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or_else(|| UnknownJournalState(s.to_owned()))
    }
}

/// Work not yet done, over all platforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Backlog {
    /// Entries in an unfinished state (received, prompted, interrupted).
    pub unanswered: u64,
    /// When the oldest of them arrived (unix ms); `None` when there is none.
    pub oldest_unanswered_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for state in JournalState::ALL {
            assert_eq!(state.as_str().parse::<JournalState>(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
        }
        assert_eq!(
            "done".parse::<JournalState>(),
            Err(UnknownJournalState("done".into()))
        );
    }

    #[test]
    fn finished_and_unfinished_split_every_state() {
        for state in JournalState::ALL {
            assert_ne!(
                JournalState::UNFINISHED.contains(&state),
                state.is_finished(),
                "{state}"
            );
        }
    }
}
