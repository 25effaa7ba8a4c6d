//! [`ChatOutbound`] for Slack over the Web API: replies in the thread of
//! the message that started the conversation, text converted from Markdown
//! to mrkdwn, status reactions by emoji name.
//!
//! Owns how broker ids become Slack calls: a conversation's `thread_id` is
//! the root message's id (`channel:ts`, see `ids`), so the channel and the
//! `thread_ts` come from it; message ids returned are `channel:ts` too.
//! Slack threads exist implicitly, so opening one makes no call. 429s are
//! waited out inside `SlackWeb`; what reaches the broker is refused,
//! unreachable or unauthorized. Must never send a text that was not
//! converted (lengths are measured after conversion, see `rendered_len`).

use async_trait::async_trait;

use super::ids;
use super::mrkdwn::{escape, to_mrkdwn};
use super::web::{SlackWeb, WebError};
use crate::chat::{ChatOutbound, Conversation, OutboundError, Platform};

/// The longest message switchboard posts, in characters of mrkdwn. Slack
/// takes far more but advises staying under 4,000 for messages that render
/// well; a little below that keeps room for a reopened code fence.
pub const MAX_MESSAGE_CHARS: usize = 3_800;

/// Slack error codes that mean "try again later", not "refused".
const TRANSIENT_CODES: [&str; 5] = [
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "ratelimited",
];

pub struct SlackOutbound {
    web: SlackWeb,
}

impl SlackOutbound {
    pub fn new(web: SlackWeb) -> Self {
        Self { web }
    }
}

impl From<WebError> for OutboundError {
    fn from(err: WebError) -> Self {
        match err {
            WebError::InvalidAuth { .. } => OutboundError::Unauthorized,
            WebError::Api { ref code, .. } if TRANSIENT_CODES.contains(&code.as_str()) => {
                OutboundError::Unavailable(err.to_string())
            }
            WebError::Unavailable { .. } => OutboundError::Unavailable(err.to_string()),
            WebError::Api { .. } | WebError::SocketModeDisabled { .. } => {
                OutboundError::Rejected(err.to_string())
            }
        }
    }
}

/// `(channel, ts)` of a Slack message id, or a clear refusal.
fn split_id<'a>(what: &str, id: &'a str) -> Result<(&'a str, &'a str), OutboundError> {
    ids::split(id).ok_or_else(|| {
        OutboundError::Rejected(format!(
            "{what} {id:?} is not a Slack message id (expected channel:ts)"
        ))
    })
}

/// The mrkdwn to send for `text`. Markup that converts to nothing (a bare
/// `#`) is sent escaped instead, since Slack refuses an empty message.
fn rendered(text: &str) -> String {
    let converted = to_mrkdwn(text);
    if converted.trim().is_empty() && !text.trim().is_empty() {
        return escape(text);
    }
    converted
}

/// Slack emoji names go without the colons people write around them.
fn emoji_name(emoji: &str) -> &str {
    let name = emoji.trim();
    let name = name.strip_prefix(':').unwrap_or(name);
    name.strip_suffix(':').unwrap_or(name)
}

#[async_trait]
impl ChatOutbound for SlackOutbound {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    fn max_message_chars(&self) -> usize {
        MAX_MESSAGE_CHARS
    }

    fn rendered_len(&self, text: &str) -> usize {
        rendered(text).chars().count()
    }

    async fn start_thread(
        &self,
        channel_id: &str,
        message_id: &str,
        _name: &str,
    ) -> Result<Conversation, OutboundError> {
        split_id("the thread's root", message_id)?;
        Ok(Conversation {
            platform: Platform::Slack,
            channel_id: channel_id.to_owned(),
            thread_id: message_id.to_owned(),
        })
    }

    async fn post(&self, conversation: &Conversation, text: &str) -> Result<String, OutboundError> {
        let (channel, root) = split_id("the thread", &conversation.thread_id)?;
        let ts = self
            .web
            .post_message(channel, Some(root), &rendered(text))
            .await?;
        Ok(ids::message_id(channel, &ts))
    }

    async fn edit(
        &self,
        _conversation: &Conversation,
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError> {
        let (channel, ts) = split_id("the message", message_id)?;
        Ok(self
            .web
            .update_message(channel, ts, &rendered(text))
            .await?)
    }

    async fn react(
        &self,
        _channel_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), OutboundError> {
        let (channel, ts) = split_id("the message", message_id)?;
        Ok(self
            .web
            .add_reaction(channel, ts, emoji_name(emoji))
            .await?)
    }

    async fn unreact(
        &self,
        _channel_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), OutboundError> {
        let (channel, ts) = split_id("the message", message_id)?;
        Ok(self
            .web
            .remove_reaction(channel, ts, emoji_name(emoji))
            .await?)
    }
}

#[cfg(test)]
mod tests;
