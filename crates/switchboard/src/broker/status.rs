//! The status reactions of a turn on the user's messages, spent sparingly:
//! every reaction change is a REST call, and the platform's rate limits are
//! shared with the answer itself.
//!
//! The reply shows quickly that the bot is working (its first text, or the
//! placeholder, within `ReplyConfig::placeholder_after`), and a streaming
//! answer shows its own progress. So a turn whose agent starts answering
//! within [`THINKING_AFTER`] gets only its final reaction (done or error):
//! one call per message. An agent that is silent for longer (thinking
//! before it writes) has its messages show "thinking" from then until the
//! turn ends: two more calls, for a turn that takes seconds anyway. Time
//! spent delivering an answer (e.g. waiting for the platform's rate limits)
//! does not count: it would only add calls where calls are scarce. This
//! module must never block the turn on the platform: every call runs in the
//! background.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::thread::{Incoming, ThreadDeps, react, set_reaction};

/// How long a turn runs before its messages show the "thinking" reaction.
pub const THINKING_AFTER: Duration = Duration::from_secs(2);

/// The status of one running turn.
pub struct TurnStatus {
    deps: Arc<ThreadDeps>,
    batch: Vec<Incoming>,
    ended: CancellationToken,
    /// Ends `true` once the "thinking" reactions were sent.
    thinking: JoinHandle<bool>,
}

impl TurnStatus {
    /// A turn for `batch` starts now: "thinking" follows after `after`
    /// unless [`TurnStatus::end`] comes first.
    pub fn start(deps: Arc<ThreadDeps>, batch: &[Incoming], after: Duration) -> Self {
        let ended = CancellationToken::new();
        let thinking = {
            let (deps, batch, ended) = (deps.clone(), batch.to_vec(), ended.clone());
            tokio::spawn(async move {
                tokio::select! {
                    biased;
                    () = ended.cancelled() => false,
                    () = tokio::time::sleep(after) => {
                        // Awaited, so that taking it off comes after.
                        for message in &batch {
                            set_reaction(
                                &*deps.outbound,
                                &deps.fatal,
                                &message.channel_id,
                                &message.message_id,
                                &deps.reactions.thinking,
                                true,
                            )
                            .await;
                        }
                        true
                    }
                }
            })
        };
        Self {
            deps,
            batch: batch.to_vec(),
            ended,
            thinking,
        }
    }

    /// The agent started answering (or is done): too late for "thinking"
    /// to start now.
    pub fn agent_answering(&self) {
        self.ended.cancel();
    }

    /// The turn ended (`ok`: normally): the final reaction on every message,
    /// and "thinking" taken off where it was put.
    pub fn end(self, ok: bool) {
        self.ended.cancel();
        let Self {
            deps,
            batch,
            thinking,
            ..
        } = self;
        tokio::spawn(async move {
            let r = &deps.reactions;
            let shown = thinking.await.unwrap_or(false);
            for message in &batch {
                if shown {
                    react(&deps, message, &r.thinking, false);
                }
                react(&deps, message, if ok { &r.done } else { &r.error }, true);
            }
        });
    }
}
