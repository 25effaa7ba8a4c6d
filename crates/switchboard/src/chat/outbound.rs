//! What the broker may do on a platform: the [`ChatOutbound`] trait.
//!
//! The broker talks to every platform through this trait only. Ids are
//! strings in the platform's own format. Implementations retry rate limits
//! (429) themselves, waiting as the platform says, and never lose text; an
//! `Err` means the platform refused or stayed unreachable. Whether an error
//! is worth another try is decided here, once ([`OutboundError::is_transient`]).
//! Every post carries a [`PostKey`], so that retrying a post whose outcome
//! was unknown never makes it twice.

use async_trait::async_trait;

use super::{Platform, PostKey, PromptButton};

/// Where a conversation's replies go.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Conversation {
    pub platform: Platform,
    /// The channel the conversation started in (a thread's parent).
    pub channel_id: String,
    /// The thread the replies go to. On Discord a thread is a channel whose
    /// id is this; on Slack it is the root message's ts.
    pub thread_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    /// The platform rejected the credentials: fatal for the process.
    #[error("the platform rejected the bot's credentials (401)")]
    Unauthorized,
    /// The platform refused this request (permissions, unknown channel, ...).
    #[error("the platform refused the request: {0}")]
    Rejected(String),
    /// Could not reach the platform, or it failed (5xx, timeout).
    #[error("the platform could not be reached: {0}")]
    Unavailable(String),
}

impl OutboundError {
    /// Worth another try after a wait: the platform could not be reached or
    /// failed (5xx, timeout, reset; the outcome of a write may be unknown).
    /// A refusal (4xx) or rejected credentials will not change by waiting.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

#[async_trait]
pub trait ChatOutbound: Send + Sync + 'static {
    fn platform(&self) -> Platform;

    /// Longest message text the platform accepts, in characters, as
    /// measured by [`ChatOutbound::rendered_len`].
    fn max_message_chars(&self) -> usize;

    /// How long `text` is once the platform has it: a platform that
    /// converts or escapes markup before sending (Slack) counts the result,
    /// so a reply cut to `max_message_chars` by this measure really fits.
    fn rendered_len(&self, text: &str) -> usize {
        text.chars().count()
    }

    /// Open a thread rooted at `message_id` in `channel_id` and return the
    /// conversation it makes.
    async fn start_thread(
        &self,
        channel_id: &str,
        message_id: &str,
        name: &str,
    ) -> Result<Conversation, OutboundError>;

    /// Post `text` in the conversation's thread; returns the message id.
    /// `key` identifies this post: a second call with the same key (a retry
    /// after an unknown outcome) returns the message the first one made, if
    /// it was made, instead of posting again.
    async fn post(
        &self,
        conversation: &Conversation,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError>;

    /// Post `text` in a channel, outside any thread (a slash command's
    /// `/ask` opens its thread from it); returns the message id.
    async fn post_to_channel(
        &self,
        channel_id: &str,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError>;

    /// Post `text` with `buttons` under it (a permission prompt); returns
    /// the message id. Retried like [`ChatOutbound::post`] under `key`.
    async fn post_prompt(
        &self,
        conversation: &Conversation,
        text: &str,
        buttons: &[PromptButton],
        key: &PostKey,
    ) -> Result<String, OutboundError>;

    /// Replace a prompt's text and remove its buttons (decided elsewhere
    /// than by a click: timed out, cancelled).
    async fn close_prompt(
        &self,
        conversation: &Conversation,
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError>;

    /// Replace the text of a message posted earlier in the conversation.
    async fn edit(
        &self,
        conversation: &Conversation,
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError>;

    /// Add the bot's reaction to a message (in the channel it was posted in).
    async fn react(
        &self,
        channel_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), OutboundError>;

    /// Remove the bot's reaction from a message.
    async fn unreact(
        &self,
        channel_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), OutboundError>;
}
