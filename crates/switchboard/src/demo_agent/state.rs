//! The demo agent's sessions: turn counters and history, in memory and
//! optionally in a JSON state file (so a restarted agent can load them).
//!
//! Owns: session ids, turn numbers, the history replayed by `session/load`.
//!
//! Must never: be locked across an `.await` (callers copy what they need).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One finished turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnRecord {
    /// The prompt text.
    pub prompt: String,
    /// The whole answer text.
    pub answer: String,
}

/// One session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// Turns started so far (including unfinished ones).
    pub turns_started: u32,
    /// Finished turns, oldest first.
    pub history: Vec<TurnRecord>,
}

/// All sessions of this agent.
#[derive(Debug, Default)]
pub struct Store {
    sessions: BTreeMap<String, SessionRecord>,
    file: Option<PathBuf>,
}

impl Store {
    /// An empty store, or the one saved in `file` when it exists.
    pub fn open(file: Option<PathBuf>) -> Self {
        let sessions = file
            .as_ref()
            .and_then(|path| std::fs::read(path).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Self { sessions, file }
    }

    /// Create a session with a fresh id.
    pub fn create(&mut self) -> String {
        let id = loop {
            let id = format!("demo-{:012x}", rand::random::<u64>() & 0xffff_ffff_ffff);
            if !self.sessions.contains_key(&id) {
                break id;
            }
        };
        self.sessions.insert(id.clone(), SessionRecord::default());
        self.save();
        id
    }

    /// A session, if known.
    pub fn get(&self, id: &str) -> Option<&SessionRecord> {
        self.sessions.get(id)
    }

    /// Start a turn; returns its number (1-based), or `None` for an
    /// unknown session.
    pub fn start_turn(&mut self, id: &str) -> Option<u32> {
        let session = self.sessions.get_mut(id)?;
        session.turns_started += 1;
        let turn = session.turns_started;
        self.save();
        Some(turn)
    }

    /// Record a finished turn.
    pub fn finish_turn(&mut self, id: &str, record: TurnRecord) {
        if let Some(session) = self.sessions.get_mut(id) {
            session.history.push(record);
            self.save();
        }
    }

    fn save(&self) {
        let Some(path) = &self.file else { return };
        let Ok(bytes) = serde_json::to_vec_pretty(&self.sessions) else {
            return;
        };
        let tmp = path.with_extension("tmp");
        let saved = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(err) = saved {
            eprintln!("demo-agent: cannot save state to {}: {err}", path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_count_per_session_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("state.json");
        let mut store = Store::open(Some(file.clone()));
        let a = store.create();
        let b = store.create();
        assert_ne!(a, b);
        assert_eq!(store.start_turn(&a), Some(1));
        assert_eq!(store.start_turn(&a), Some(2));
        assert_eq!(store.start_turn(&b), Some(1));
        assert_eq!(store.start_turn("nope"), None);
        store.finish_turn(
            &a,
            TurnRecord {
                prompt: "p".into(),
                answer: "x".into(),
            },
        );
        let reopened = Store::open(Some(file));
        assert_eq!(reopened.get(&a).unwrap().turns_started, 2);
        assert_eq!(reopened.get(&a).unwrap().history.len(), 1);
    }
}
