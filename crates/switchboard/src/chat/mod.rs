//! The platform-independent chat model, and the platforms that speak it.
//!
//! Platforms turn their wire events into [`ChatEvent`]s and push them to the
//! broker through an [`InboundSender`]. Nothing here imports the broker.

pub mod command;
pub mod discord;
pub mod history;
pub mod http_client;
pub mod interaction;
pub mod outbound;
pub mod post_key;
pub mod receipt;
pub mod recent_ids;
pub mod request_timeout;
pub mod slack;

pub use command::{CommandAnswer, CommandResponder, SlashCommand};
pub use history::{ChatHistory, CutShort, HistoryBudget, HistoryRead};
pub use interaction::{ButtonClick, ButtonStyle, ClickAnswer, ClickResponder, PromptButton};
pub use outbound::{ChatOutbound, Conversation, OutboundError};
pub use post_key::{PostKey, PostScope, TurnTry};

use tokio::sync::mpsc;

use crate::health::PipelineHealth;

/// A chat platform switchboard connects to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Platform {
    Discord,
    Slack,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Discord => "discord",
            Self::Slack => "slack",
        }
    }
}

/// Who wrote a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Author {
    pub id: String,
    pub name: String,
    pub is_bot: bool,
}

/// A role mentioned in a message, with the markup that mentions it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MentionedRole {
    pub id: String,
    pub markup: String,
}

/// A message posted on a platform, as the broker sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    pub platform: Platform,
    /// Unique per platform; the dedupe key.
    pub id: String,
    /// The channel or thread the message was posted in.
    pub channel_id: String,
    /// When `channel_id` is a thread: the channel it belongs to.
    pub parent_channel_id: Option<String>,
    pub guild_id: Option<String>,
    pub author: Author,
    pub content: String,
    /// Whether the message @mentions this bot.
    pub mentions_bot: bool,
    /// The literal markup in `content` that mentions this bot (e.g.
    /// `<@123>`), for removing it from the prompt.
    pub bot_mention_markup: Vec<String>,
    /// Roles the message @mentions (a configured role counts as the bot).
    pub mentioned_roles: Vec<MentionedRole>,
    /// Whether the author is this bot itself.
    pub from_self: bool,
    /// Fetched by catch-up after downtime rather than delivered live.
    pub caught_up: bool,
}

/// Something that happened on a platform that the broker may act on.
#[derive(Debug)]
pub enum ChatEvent {
    /// A message, with the receipt the broker settles once it is durable
    /// (Slack acks its envelope then; Discord passes `Receipt::none()`).
    Message(Box<ChatMessage>, receipt::Receipt),
    /// A new platform session began (not a resume): events may have been
    /// missed since the last one, so catch-up should run.
    SessionStarted { platform: Platform },
    /// This instance took the platform's shard over from another (issue
    /// 14): learn the threads anew and take up what was left unanswered.
    TookOver { platform: Platform },
    /// This instance lost the platform's shard to another: stop acting on
    /// its threads and its delivery check.
    HandedOver { platform: Platform },
    /// Threads of this platform have work waiting for this instance, their
    /// owner (ADR 22): messages journaled by other instances, threads
    /// placed on it, threads lost or left with nobody.
    ThreadsWaiting { platform: Platform },
    /// Someone clicked one of the bot's buttons.
    ButtonClicked(Box<ButtonClick>),
    /// Someone ran one of the bot's slash commands.
    SlashCommand(Box<SlashCommand>),
}

/// Where platforms deliver events. Unbounded on purpose: a platform loop
/// must never stop reading its socket (and so miss heartbeats) because the
/// broker is busy; the broker's intake only dedupes and hands off. What it
/// holds is counted ([`PipelineHealth`]): work queued while the intake
/// makes no progress makes the process unready, so a growing queue is
/// reported long before it matters for memory.
#[derive(Clone, Debug)]
pub struct InboundSender {
    tx: mpsc::UnboundedSender<ChatEvent>,
    pipeline: PipelineHealth,
}

impl InboundSender {
    /// Hand `event` to the intake; `Err` only once the intake has stopped.
    pub fn send(&self, event: ChatEvent) -> Result<(), mpsc::error::SendError<ChatEvent>> {
        self.tx.send(event)?;
        self.pipeline.enqueued();
        Ok(())
    }
}

pub type InboundReceiver = mpsc::UnboundedReceiver<ChatEvent>;

/// A channel whose queue is counted in a pipeline of its own (tests).
pub fn inbound_channel() -> (InboundSender, InboundReceiver) {
    inbound_channel_counted(PipelineHealth::default())
}

/// A channel whose queue is counted in `pipeline`.
pub fn inbound_channel_counted(pipeline: PipelineHealth) -> (InboundSender, InboundReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (InboundSender { tx, pipeline }, rx)
}
