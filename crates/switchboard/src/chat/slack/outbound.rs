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
//!
//! Exactly-once posting: every post carries its key in message metadata;
//! when a post's outcome is unknown (timeout, 5xx, reset) the thread is read
//! back for the key before the error is returned, and before every later
//! try with that key, so a post that took effect is used, not repeated. A
//! key another process may have posted under before it died (a message
//! taken up whose earlier try began, ADR 25) is looked for the same way
//! before its first try here.

use async_trait::async_trait;

mod uncertain;

use super::ids;
use super::mrkdwn::{escape, to_mrkdwn};
use super::web::{SlackWeb, WebError};
use crate::chat::{ChatOutbound, Conversation, OutboundError, Platform, PostKey, PromptButton};
use uncertain::{Known, Uncertain};

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
    /// Recent keyed posts: made, or of unknown outcome.
    uncertain: Uncertain,
}

impl SlackOutbound {
    pub fn new(web: SlackWeb) -> Self {
        Self {
            web,
            uncertain: Uncertain::default(),
        }
    }

    /// The post `key` made earlier, if known: remembered, or (when its
    /// outcome was unknown here, or another process may have made it before
    /// it died: `earlier_after`, ADR 25) found in the thread `root`. A
    /// look-up that fails counts as not found (the caller's error stands;
    /// the post is tried again later, and looked up again first).
    async fn made_before(
        &self,
        channel: &str,
        root: &str,
        key: &str,
        earlier_after: Option<&str>,
    ) -> Option<String> {
        let after = match self.uncertain.known(key) {
            Some(Known::Made(ts)) => return Some(ts),
            Some(Known::LookAfter(after)) => after,
            None => ids::split(earlier_after?)?.1.to_owned(),
        };
        match self.web.find_keyed_reply(channel, root, key, &after).await {
            Ok(Some(ts)) => {
                tracing::info!(
                    platform = "slack",
                    key,
                    "a post whose answer was lost had been made; using it"
                );
                self.uncertain.made(key, &ts);
                Some(ts)
            }
            Ok(None) => None,
            Err(err) => {
                tracing::warn!(platform = "slack", key, %err, "could not look up a post whose answer was lost");
                None
            }
        }
    }
}

impl SlackOutbound {
    /// A reply in the conversation's thread (with `buttons` when there
    /// are any) under `key`: a post made before is found, not repeated.
    async fn keyed_reply(
        &self,
        conversation: &Conversation,
        text: &str,
        buttons: &[PromptButton],
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        let (channel, root) = split_id("the thread", &conversation.thread_id)?;
        let earlier_after = key.earlier_after();
        let key = key.token();
        if let Some(ts) = self.made_before(channel, root, &key, earlier_after).await {
            return Ok(ids::message_id(channel, &ts));
        }
        let tried_at = uncertain::now_secs();
        let posted = if buttons.is_empty() {
            let text = rendered(text);
            self.web
                .post_message_keyed(channel, Some(root), &text, &key)
                .await
        } else {
            let text = rendered_with_mentions(text);
            self.web
                .post_prompt_keyed(channel, root, &text, buttons, &key)
                .await
        };
        match posted {
            Ok(ts) => {
                self.uncertain.made(&key, &ts);
                Ok(ids::message_id(channel, &ts))
            }
            Err(err) => {
                let err = OutboundError::from(err);
                if !err.is_transient() {
                    return Err(err);
                }
                // It may have been made: look before anyone tries again.
                self.uncertain.mark(&key, tried_at);
                match self.made_before(channel, root, &key, None).await {
                    Some(ts) => Ok(ids::message_id(channel, &ts)),
                    None => Err(err),
                }
            }
        }
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
pub(crate) fn rendered(text: &str) -> String {
    let converted = to_mrkdwn(text);
    if converted.trim().is_empty() && !text.trim().is_empty() {
        return escape(text);
    }
    converted
}

/// [`rendered`], with user mentions (`<@U…>`, which the conversion
/// escapes like any `<`) made real again: for switchboard's own texts
/// (prompts, decisions, command answers) whose mentions it put there
/// itself. Text from an agent must not pass here unneutralised (the broker
/// breaks `<@` in agent-provided parts with a zero-width space).
pub(crate) fn rendered_with_mentions(text: &str) -> String {
    let escaped = rendered(text);
    let mut out = String::with_capacity(escaped.len());
    let mut rest = escaped.as_str();
    while let Some(start) = rest.find("&lt;@") {
        out.push_str(&rest[..start]);
        let after = &rest[start + "&lt;@".len()..];
        let id_len = after
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(after.len());
        if id_len > 0 && after[id_len..].starts_with("&gt;") {
            out.push_str("<@");
            out.push_str(&after[..id_len]);
            out.push('>');
            rest = &after[id_len + "&gt;".len()..];
        } else {
            out.push_str("&lt;@");
            rest = after;
        }
    }
    out.push_str(rest);
    out
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

    async fn post(
        &self,
        conversation: &Conversation,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        self.keyed_reply(conversation, text, &[], key).await
    }

    async fn post_to_channel(
        &self,
        channel_id: &str,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        // One try: a top-level post cannot be looked up by its key the way
        // a reply can, so an unknown outcome is an error, not a retry.
        let ts = self
            .web
            .post_message_keyed(
                channel_id,
                None,
                &rendered_with_mentions(text),
                &key.token(),
            )
            .await?;
        Ok(ids::message_id(channel_id, &ts))
    }

    async fn post_prompt(
        &self,
        conversation: &Conversation,
        text: &str,
        buttons: &[PromptButton],
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        self.keyed_reply(conversation, text, buttons, key).await
    }

    async fn close_prompt(
        &self,
        _conversation: &Conversation,
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError> {
        let (channel, ts) = split_id("the message", message_id)?;
        Ok(self
            .web
            .close_prompt_message(channel, ts, &rendered_with_mentions(text))
            .await?)
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
