//! `broker.max_queued`: how many messages may wait in one thread while its
//! agent works. One more is refused, visibly: its journal entry ends
//! `failed` with the reason, the message gets the denied reaction, and the
//! thread is told to send it again later. Nothing is dropped silently.
//!
//! Owns the count and the refusal. The count is of messages handed to the
//! thread's actor and not yet taken into a turn; the actor takes them all
//! at once when its turn ends. Must never block the intake: the notice is
//! posted in the background.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::thread::{Incoming, Origin, ThreadDeps, notify, react, report};
use crate::store::JournalState;

/// Messages handed to one thread's actor and not yet in a turn.
#[derive(Clone, Debug, Default)]
pub struct Waiting(Arc<AtomicUsize>);

impl Waiting {
    /// Whether one more may be handed over under `max`.
    pub fn has_room(&self, max: usize) -> bool {
        self.0.load(Ordering::SeqCst) < max
    }

    pub fn handed_over(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }

    /// The actor took `n` into a turn.
    pub fn taken(&self, n: usize) {
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                Some(w.saturating_sub(n))
            });
    }

    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The text the thread gets when a message is refused.
pub fn refused_text(max: usize) -> String {
    format!(
        "⚠️ {max} messages are already waiting for the agent in this thread (broker.max_queued), so this one was not queued. Please send it again once the agent has answered."
    )
}

/// Refuse `message` for thread `key`: journal it failed with the reason,
/// react, and tell the thread (in the background).
pub async fn refuse(deps: &Arc<ThreadDeps>, key: &str, origin: &Origin, message: &Incoming) {
    let max = deps.max_queued;
    tracing::warn!(thread = key, message_id = %message.message_id, max_queued = max, "thread queue full; message refused");
    let ids = [message.message_id.clone()];
    let reason =
        format!("refused: {max} messages were already waiting in the thread (broker.max_queued)");
    deps.durable.set_failure_reason(&ids, &reason).await;
    deps.durable.set_states(&ids, JournalState::Failed).await;
    react(deps, message, &deps.reactions.denied, true);
    let Origin::Existing(conversation) = origin.clone() else {
        // A thread not opened yet has nothing queued: unreachable in
        // practice; the reaction and the journal still say it.
        return;
    };
    let deps = deps.clone();
    tokio::spawn(async move {
        let posted = notify(
            &*deps.outbound,
            &conversation,
            &refused_text(deps.max_queued),
            "queue-full",
        )
        .await;
        report(&deps, posted.err());
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_count_has_room_below_the_cap_and_never_goes_negative() {
        let waiting = Waiting::default();
        assert!(waiting.has_room(2));
        waiting.handed_over();
        waiting.handed_over();
        assert!(!waiting.has_room(2));
        waiting.taken(5);
        assert_eq!(waiting.count(), 0);
        assert!(waiting.has_room(1));
    }

    #[test]
    fn the_refusal_says_what_to_do() {
        let text = refused_text(20);
        assert!(text.contains("20 messages are already waiting"), "{text}");
        assert!(text.contains("send it again"), "{text}");
    }
}
