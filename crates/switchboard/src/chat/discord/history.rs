//! [`ChatHistory`] for Discord: REST message lists mapped like live events,
//! so catch-up messages go through exactly the same routing.

use std::sync::{Arc, OnceLock};

use async_trait::async_trait;

use super::directory::ChannelDirectory;
use super::events;
use super::rest::DiscordRest;
use crate::chat::{ChatHistory, ChatMessage, HistoryBudget, HistoryRead, OutboundError};

/// The bot's user id, learnt from READY (or REST) once.
pub type BotUserId = Arc<OnceLock<u64>>;

pub struct DiscordHistory {
    rest: DiscordRest,
    directory: ChannelDirectory,
    bot: BotUserId,
}

impl DiscordHistory {
    pub fn new(rest: DiscordRest, directory: ChannelDirectory, bot: BotUserId) -> Self {
        Self {
            rest,
            directory,
            bot,
        }
    }
}

fn id(text: &str) -> Result<u64, OutboundError> {
    text.parse()
        .map_err(|_| OutboundError::Rejected(format!("{text:?} is not a Discord id")))
}

#[async_trait]
impl ChatHistory for DiscordHistory {
    async fn messages_after(
        &self,
        channel_id: &str,
        after_id: &str,
        budget: HistoryBudget,
    ) -> Result<HistoryRead<ChatMessage>, OutboundError> {
        let channel = id(channel_id)?;
        let read = self
            .rest
            .messages_after(channel, id(after_id)?, budget)
            .await?;
        let parent = self.directory.parent_of(channel);
        let bot = self.bot.get().copied();
        let messages = read
            .messages
            .iter()
            .map(|message| ChatMessage {
                caught_up: true,
                ..events::message_create(message, bot, parent)
            })
            .collect();
        Ok(HistoryRead {
            messages,
            cut_short: read.cut_short,
        })
    }

    /// Snowflakes grow with time: one less is just before.
    fn position_before(&self, message_id: &str) -> Option<String> {
        let id: u64 = message_id.parse().ok()?;
        id.checked_sub(1).map(|before| before.to_string())
    }

    async fn message_text(
        &self,
        channel_id: &str,
        message_id: &str,
    ) -> Result<String, OutboundError> {
        Ok(self
            .rest
            .message(id(channel_id)?, id(message_id)?)
            .await?
            .content)
    }
}
