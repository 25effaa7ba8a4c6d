//! What the fake saw: one record per request (any path), kept for tests to
//! assert on and to wait for.
//!
//! Bounded: at most [`MAX_RECORDS`] are kept; past that the oldest is
//! dropped and counted in `dropped`. Must never hold its lock across an
//! `.await`.

use std::collections::VecDeque;
use std::sync::Mutex;

use tokio::sync::watch;

/// How many request records are kept (the oldest go first).
pub const MAX_RECORDS: usize = 10_000;

/// One request the fake answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `HEAD`, `POST`, ...
    pub method: String,
    /// Path and query, e.g. `/v1/messages?beta=true`.
    pub path: String,
    /// The body's `model`, if it had one.
    pub model: Option<String>,
    /// The body asked for a streamed answer.
    pub stream: bool,
    /// The body offered tools (a non-empty `tools` array).
    pub has_tools: bool,
    /// How many messages the body carried (the conversation so far).
    pub messages: usize,
    /// The last message's user text (system reminders left out).
    pub last_user_text: String,
    /// The summary of the tool result the last message carried, if any.
    pub tool_result: Option<String>,
    /// What was answered: e.g. `text`, `tool_use:Bash`, `count_tokens`,
    /// `ok`, `not_found`, `bad_request`.
    pub answered: String,
    /// The HTTP status answered.
    pub status: u16,
}

#[derive(Default)]
pub(crate) struct Records {
    kept: Mutex<Kept>,
    changed: watch::Sender<u64>,
}

#[derive(Default)]
struct Kept {
    requests: VecDeque<RecordedRequest>,
    dropped: u64,
    /// Numbers answers (message and tool_use ids).
    sequence: u64,
}

impl Records {
    /// The next sequence number (starts at 1).
    pub(crate) fn next_sequence(&self) -> u64 {
        let mut kept = self.kept.lock().unwrap();
        kept.sequence += 1;
        kept.sequence
    }

    pub(crate) fn push(&self, request: RecordedRequest) {
        {
            let mut kept = self.kept.lock().unwrap();
            if kept.requests.len() == MAX_RECORDS {
                kept.requests.pop_front();
                kept.dropped += 1;
            }
            kept.requests.push_back(request);
        }
        self.changed.send_modify(|n| *n += 1);
    }

    pub(crate) fn all(&self) -> Vec<RecordedRequest> {
        self.kept.lock().unwrap().requests.iter().cloned().collect()
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.kept.lock().unwrap().dropped
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }
}
