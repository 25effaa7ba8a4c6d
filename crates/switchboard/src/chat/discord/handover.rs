//! The gateway's side of a shard shared by several instances (issue 14):
//! the session a standby needs to RESUME, published as it changes, and the
//! session an instance resumes when it takes the shard over.
//!
//! Owns [`ResumeState`] and [`SessionPublisher`] (a `watch` of the latest
//! state: one value, never a queue; whoever saves it reads the newest).
//! It must never write the store itself (the app wires a saver to the
//! watch) and never decide who holds the shard.

use std::collections::VecDeque;

use tokio::sync::watch;
use twilight_gateway::Session;

use crate::chat::receipt::{Receipt, ReceiptWait};

/// Messages whose journaling the watermark waits for, at most; past it the
/// oldest is let go (a later RESUME then replays from after it, and the
/// catch-up of a taken-over session looks for it).
const MAX_UNSETTLED: usize = 10_000;

/// The sequence up to which every message the gateway handed over is
/// journaled: a RESUME from it replays whatever was not. (Publishing the
/// shard's own sequence would skip a message still waiting in the intake
/// when this instance dies.)
#[derive(Debug, Default)]
pub(super) struct DurableSequence {
    unsettled: VecDeque<(u64, ReceiptWait)>,
}

impl DurableSequence {
    /// The receipt for the message dispatched at `sequence`.
    pub(super) fn track(&mut self, sequence: u64) -> Receipt {
        let (receipt, wait) = Receipt::pair();
        if self.unsettled.len() >= MAX_UNSETTLED {
            self.unsettled.pop_front();
        }
        self.unsettled.push_back((sequence, wait));
        receipt
    }

    /// The sequence safe to resume from, given the shard's `current` one:
    /// just before the oldest message not settled yet. A message the broker
    /// could not make durable (settled `false`: the store is failing) is
    /// let go here; the store's recovery catches it up.
    pub(super) fn watermark(&mut self, current: u64) -> u64 {
        while let Some((_, wait)) = self.unsettled.front_mut() {
            if wait.settled().is_none() {
                break;
            }
            self.unsettled.pop_front();
        }
        self.unsettled
            .front()
            .map_or(current, |(oldest, _)| oldest.saturating_sub(1).min(current))
    }
}

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

    /// Publish `session`, resumable from `sequence`, if that or the URL
    /// changed since the last one.
    pub(super) fn observe(
        &self,
        session: Option<&Session>,
        sequence: u64,
        resume_url: Option<&String>,
    ) {
        let Some(session) = session else {
            return;
        };
        self.tx.send_if_modified(|current| {
            let changed = current.as_ref().is_none_or(|c| {
                c.sequence != sequence
                    || c.session_id != session.id()
                    || c.resume_url.as_ref() != resume_url
            });
            if changed {
                *current = Some(ResumeState {
                    session_id: session.id().to_owned(),
                    sequence,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_waits_for_the_oldest_message_not_journaled() {
        let mut durable = DurableSequence::default();
        assert_eq!(durable.watermark(5), 5, "nothing pending: the shard's own");
        let first = durable.track(7);
        let second = durable.track(9);
        assert_eq!(durable.watermark(10), 6, "7 is not journaled yet");
        second.settle(true);
        assert_eq!(durable.watermark(10), 6, "9 settled, 7 still not");
        first.settle(true);
        assert_eq!(durable.watermark(11), 11);
        let dropped = durable.track(12);
        drop(dropped);
        assert_eq!(durable.watermark(12), 12, "a dropped receipt is let go");
    }
}
