//! Streaming replies: an agent's stream of text and tool events, shown as
//! chat messages that grow in place while the agent works.
//!
//! Owns the reply document ([`render`]), cutting it into platform-sized
//! messages with balanced code fences ([`split`], [`fence`]), and the paced
//! write loop ([`stream`], [`retry`]). Talks to the platform only through
//! [`ChatOutbound`]. Must never alter the agent's text (it only adds whole
//! lines and fence lines around it), never send a message longer than the
//! platform allows, never edit a message twice within `edit_interval`, and
//! never block the producer of events.
//!
//! Choices:
//! - Tool lines and notices are closed off from the agent's code blocks:
//!   inside an open ``` fence, the fence is closed before the line and
//!   reopened after it (see [`render`]).
//! - A message is final once another follows it; a tool line in a final
//!   message that is updated later gets a fresh line at the end.
//! - The first message appears within `placeholder_after`: the agent's first
//!   text when it comes by then (one post, no placeholder to edit), else
//!   the placeholder, which the first text then replaces at once.
//! - A reply with nothing to show ends as "(no answer)".

mod fence;
mod render;
pub(crate) mod retry;
mod split;
mod stream;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::chat::{ChatOutbound, Conversation, OutboundError, PostScope};

/// What a reply shows of the agent's tool calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ToolDisplay {
    /// One line per tool: title, kind and status.
    Full,
    /// One line per tool: title (cut to ~80 chars) and status.
    #[default]
    Compact,
    /// No tool lines.
    None,
}

impl ToolDisplay {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Full => "full",
            Self::Compact => "compact",
            Self::None => "none",
        }
    }
}

impl fmt::Display for ToolDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("unknown tool display {0:?}: expected full, compact or none")]
pub struct ParseToolDisplayError(String);

impl FromStr for ToolDisplay {
    type Err = ParseToolDisplayError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "full" => Ok(Self::Full),
            "compact" => Ok(Self::Compact),
            "none" => Ok(Self::None),
            other => Err(ParseToolDisplayError(other.to_owned())),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ReplyConfig {
    /// Least time between two edits of one message.
    pub edit_interval: Duration,
    pub tool_display: ToolDisplay,
    /// Shown until the reply has text, when the text takes longer than
    /// `placeholder_after`.
    pub placeholder: String,
    /// How long the reply waits for its first text before it posts the
    /// placeholder instead (so that a quick answer costs one post, and a
    /// slow one still shows at once that the bot is working).
    pub placeholder_after: Duration,
}

impl Default for ReplyConfig {
    fn default() -> Self {
        Self {
            edit_interval: Duration::from_millis(1500),
            tool_display: ToolDisplay::Compact,
            placeholder: "…".to_owned(),
            placeholder_after: Duration::from_millis(500),
        }
    }
}

/// What the agent (or switchboard) adds to a reply, in stream order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyEvent {
    /// A chunk of the agent's answer, appended verbatim.
    Text(String),
    ToolStarted {
        id: String,
        title: String,
        kind: String,
        status: String,
    },
    ToolUpdated {
        id: String,
        title: Option<String>,
        status: Option<String>,
    },
    /// A line switchboard itself adds (e.g. "⚠️ the agent stopped"), shown
    /// in italics on a line of its own.
    Notice(String),
}

/// How a reply went.
#[derive(Debug)]
pub struct ReplyOutcome {
    /// The messages the reply posted, in order.
    pub message_ids: Vec<String>,
    /// Exactly the concatenated `Text` events, whatever reached the platform.
    pub agent_text: String,
    /// Successful edits.
    pub edits: u32,
    /// Successful posts, the placeholder's included (if it was posted).
    pub posts: u32,
    /// Why the reply stopped writing to the platform early, if it did.
    pub error: Option<OutboundError>,
}

/// The text a reply with nothing to show ends with.
pub const EMPTY_REPLY: &str = "(no answer)";

/// Start streaming a reply into `conversation`: posts the first text (or,
/// after `placeholder_after` without text, the placeholder), then applies
/// events, editing each message at most once per
/// `edit_interval` (coalescing everything that arrived in between) and
/// continuing in new messages when the text outgrows the platform's limit.
///
/// Dropping the sender finishes the reply: every message is brought to its
/// final text (still at the edit pace), then the handle yields the outcome.
pub fn spawn_reply(
    outbound: Arc<dyn ChatOutbound>,
    conversation: Conversation,
    config: ReplyConfig,
) -> (mpsc::UnboundedSender<ReplyEvent>, JoinHandle<ReplyOutcome>) {
    spawn_reply_observed(
        outbound,
        conversation,
        config,
        None,
        PostScope::unique("reply"),
    )
}

/// [`spawn_reply`], also sending each new message's id to `on_post` the
/// moment it is posted (so a crash mid-reply leaves a record of it), with
/// the posts' idempotency keys taken from `keys` (message `n` of the reply
/// is `keys.part(n)`).
pub fn spawn_reply_observed(
    outbound: Arc<dyn ChatOutbound>,
    conversation: Conversation,
    config: ReplyConfig,
    on_post: Option<mpsc::UnboundedSender<String>>,
    keys: PostScope,
) -> (mpsc::UnboundedSender<ReplyEvent>, JoinHandle<ReplyOutcome>) {
    // Drained into the reply's document as fast as they come (edits are
    // paced, reading is not), so the queue stays short; the document
    // itself grows with the agent's answer.
    let (events, receiver) = mpsc::unbounded_channel();
    let streamer = stream::Streamer::new(outbound, conversation, config, on_post, keys);
    let handle = tokio::spawn(streamer.run(receiver));
    (events, handle)
}

#[cfg(test)]
mod tests;
