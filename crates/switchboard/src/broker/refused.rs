//! When the platform will not take what answering a message needs: the
//! thread cannot be opened, or the answer cannot be posted, even after the
//! retries of transient errors.
//!
//! Owns what is kept and shown then: the reason goes beside the journal
//! entry (which the turn's end marks `failed`), and the user is told where
//! possible (the turn's end also sets the error reaction). Must never retry
//! a refusal itself, and never hide one: each is logged.

use super::thread::{Origin, ThreadDeps, notify};
use crate::chat::{Conversation, OutboundError};

/// The thread for `ids` could not be opened: record why, and say so in the
/// channel the message was posted in.
pub(super) async fn thread_not_opened(
    deps: &ThreadDeps,
    origin: &Origin,
    ids: &[String],
    err: &OutboundError,
) {
    if matches!(err, OutboundError::Unauthorized) {
        // Fatal for the process; nothing will be posted.
        return;
    }
    let reason = format!("could not open the thread: {err}");
    deps.durable.set_failure_reason(ids, &reason).await;
    let Origin::NewThread { channel_id, .. } = origin else {
        return;
    };
    // The channel itself, as a conversation (a Discord channel id is where
    // a message goes; a platform that cannot post there refuses, logged).
    let channel = Conversation {
        platform: deps.outbound.platform(),
        channel_id: channel_id.clone(),
        thread_id: channel_id.clone(),
    };
    let text = format!(
        "⚠️ I could not open a thread to answer this message ({err}). Please check the bot's permissions in this channel, then ask again."
    );
    if let Err(post) = notify(&*deps.outbound, &channel, &text, "thread-not-opened").await {
        tracing::warn!(channel = %channel_id, %post, "could not tell the user why no thread was opened");
    }
}

/// `true` if the answer reached the platform; otherwise record why (the
/// turn then ends `failed`).
pub(super) async fn answer_posted(
    deps: &ThreadDeps,
    ids: &[String],
    error: Option<&OutboundError>,
) -> bool {
    let Some(err) = error else { return true };
    let reason = format!("the answer could not be posted: {err}");
    deps.durable.set_failure_reason(ids, &reason).await;
    false
}
