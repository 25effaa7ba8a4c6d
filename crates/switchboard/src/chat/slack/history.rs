//! [`ChatHistory`] for Slack: messages posted after a cursor, read from
//! `conversations.history` (a channel) or `conversations.replies` (a
//! thread, keyed `channel:root_ts` as in `ids`), and mapped exactly as live
//! events are, so catch-up goes through the same routing.
//!
//! Owns where the bot's identity comes from when catch-up runs before any
//! Socket Mode connection learnt it: `auth.test`, once, into the shared
//! cell. Must never map a message without that identity (its own messages
//! would look like anyone's).

use async_trait::async_trait;

use super::web::{BotIdentity, SharedIdentity, SlackWeb};
use super::{events, ids, mrkdwn};
use crate::chat::{ChatHistory, ChatMessage, HistoryBudget, HistoryRead, OutboundError};

pub struct SlackHistory {
    web: SlackWeb,
    identity: SharedIdentity,
}

impl SlackHistory {
    /// `identity` is the cell the Socket Mode connection fills from its
    /// `auth.test`; if it is still empty, this fills it.
    pub fn new(web: SlackWeb, identity: SharedIdentity) -> Self {
        Self { web, identity }
    }

    async fn identity(&self) -> Result<BotIdentity, OutboundError> {
        if let Some(known) = self.identity.get() {
            return Ok(known.clone());
        }
        let learnt = self.web.auth_test().await?;
        Ok(self.identity.get_or_init(|| learnt).clone())
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

#[async_trait]
impl ChatHistory for SlackHistory {
    /// `channel_id` is a channel, or a thread's key (its root message's
    /// id); `after_id` a message id in it.
    async fn messages_after(
        &self,
        channel_id: &str,
        after_id: &str,
        budget: HistoryBudget,
    ) -> Result<HistoryRead<ChatMessage>, OutboundError> {
        let (_, after_ts) = split_id("the cursor", after_id)?;
        let identity = self.identity().await?;
        let (channel, raw) = match ids::split(channel_id) {
            Some((channel, root_ts)) => (
                channel,
                self.web.replies(channel, root_ts, after_ts, budget).await?,
            ),
            None => (
                channel_id,
                self.web.history(channel_id, after_ts, budget).await?,
            ),
        };
        let messages = raw
            .messages
            .iter()
            .filter_map(|message| events::chat_message(channel, message, &identity, true))
            .collect();
        Ok(HistoryRead {
            messages,
            cut_short: raw.cut_short,
        })
    }

    fn position_before(&self, message_id: &str) -> Option<String> {
        ids::just_before(message_id)
    }

    /// The message's text as Markdown (read back from mrkdwn), the form
    /// the broker writes, so an edit through `SlackOutbound` shows it as
    /// before.
    async fn message_text(
        &self,
        channel_id: &str,
        message_id: &str,
    ) -> Result<String, OutboundError> {
        let (channel, ts) = split_id("the message", message_id)?;
        let root = ids::split(channel_id).map(|(_, root_ts)| root_ts);
        let message = self.web.message(channel, root, ts).await?;
        let text = message
            .get("text")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default();
        Ok(mrkdwn::to_markdown(text))
    }
}

#[cfg(test)]
mod tests;
