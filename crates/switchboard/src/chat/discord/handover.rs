//! The gateway's side of a shard shared by several instances (issue 14):
//! the session a standby needs to RESUME, published as it changes, and the
//! session an instance resumes when it takes the shard over.
//!
//! Owns [`ResumeState`] and [`SessionPublisher`] (a `watch` of the latest
//! state: one value, never a queue; whoever saves it reads the newest).
//! It must never write the store itself (the app wires a saver to the
//! watch) and never decide who holds the shard.

use tokio::sync::watch;
use twilight_gateway::Session;

/// What a RESUME needs, platform-neutral enough to keep in a database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResumeState {
    pub session_id: String,
    /// The last sequence number this instance handled.
    pub sequence: u64,
    /// READY's `resume_gateway_url`.
    pub resume_url: Option<String>,
}

/// Where the gateway publishes its session: `Some` after each change of
/// sequence, `None` when the gateway ended the session (nothing to resume).
#[derive(Clone, Debug)]
pub struct SessionPublisher {
    tx: watch::Sender<Option<ResumeState>>,
}

impl SessionPublisher {
    /// A publisher and the receiver a saver reads.
    pub fn new() -> (SessionPublisher, watch::Receiver<Option<ResumeState>>) {
        let (tx, rx) = watch::channel(None);
        (SessionPublisher { tx }, rx)
    }

    /// Publish `session` if its sequence or URL changed since the last one.
    pub(super) fn observe(&self, session: Option<&Session>, resume_url: Option<&String>) {
        let Some(session) = session else {
            return;
        };
        self.tx.send_if_modified(|current| {
            let changed = current.as_ref().is_none_or(|c| {
                c.sequence != session.sequence()
                    || c.session_id != session.id()
                    || c.resume_url.as_ref() != resume_url
            });
            if changed {
                *current = Some(ResumeState {
                    session_id: session.id().to_owned(),
                    sequence: session.sequence(),
                    resume_url: resume_url.cloned(),
                });
            }
            changed
        });
    }

    /// The gateway ended the session: a successor must identify.
    pub(super) fn ended(&self) {
        self.tx.send_if_modified(|current| current.take().is_some());
    }
}

/// The twilight session to resume from `state`.
pub(super) fn session_of(state: &ResumeState) -> Session {
    Session::new(state.sequence, state.session_id.clone())
}
