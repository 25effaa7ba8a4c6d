//! What the broker may read back from a platform: the messages posted in a
//! channel or thread after a given one, for catch-up after downtime.

use async_trait::async_trait;

use super::{ChatMessage, OutboundError};

#[async_trait]
pub trait ChatHistory: Send + Sync + 'static {
    /// Every message in `channel_id` posted after `after_id`, oldest first,
    /// all pages fetched (rate limits obeyed). Each is marked `caught_up`.
    async fn messages_after(
        &self,
        channel_id: &str,
        after_id: &str,
    ) -> Result<Vec<ChatMessage>, OutboundError>;

    /// The current text of one message (e.g. a reply cut short by a crash).
    async fn message_text(
        &self,
        channel_id: &str,
        message_id: &str,
    ) -> Result<String, OutboundError>;
}
