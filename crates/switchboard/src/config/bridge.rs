//! The typed settings of the bridge itself: who may talk to the bot
//! ([`Gating`]), how replies look ([`BrokerConfig`]), and which agent runs
//! ([`AgentConfig`]). Plain data; rules live in `validate_bridge`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use super::Secret;
use super::size::ByteSize;

/// Whether messages from other bots are acted on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BotMessages {
    /// Never (the default).
    #[default]
    None,
    /// Only when they @mention this bot.
    Mentions,
    /// Like human messages.
    All,
}

impl FromStr for BotMessages {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "none" => Ok(Self::None),
            "mentions" => Ok(Self::Mentions),
            "all" => Ok(Self::All),
            other => Err(format!(
                "unknown value {other:?} (expected one of: none, mentions, all)"
            )),
        }
    }
}

/// Who may start or continue a conversation on one platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gating {
    /// Channel ids (a thread inherits its parent's permission). Empty only
    /// with `allow_all_channels`.
    pub allowed_channels: Vec<String>,
    pub allow_all_channels: bool,
    /// User ids. Empty only with `allow_all_users`.
    pub allowed_users: Vec<String>,
    pub allow_all_users: bool,
    /// Role ids whose @mention counts as a mention of the bot.
    pub mention_roles: Vec<String>,
    pub allow_bot_messages: BotMessages,
    /// The only bots heard (with `allow_bot_messages` = mentions or all);
    /// a bot never passes through `allowed_users` or `allow_all_users`.
    /// Not empty when `allow_bot_messages` is mentions or all.
    pub trusted_bot_ids: Vec<String>,
    /// `approvers.users`: who may decide any permission request in this
    /// platform's threads (besides the requester).
    pub approver_users: Vec<String>,
    /// `approvers.roles` (Discord role ids) or `approvers.groups` (Slack
    /// user-group ids): their members may decide too.
    pub approver_groups: Vec<String>,
}

/// Status reactions on the user's message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reactions {
    pub queued: String,
    pub thinking: String,
    pub tool: String,
    pub done: String,
    pub error: String,
    pub denied: String,
}

impl Reactions {
    /// Slack's defaults: emoji names, as `reactions.add` takes them.
    pub fn slack_default() -> Self {
        Self {
            queued: "hourglass_flowing_sand".into(),
            thinking: "thinking_face".into(),
            tool: "wrench".into(),
            done: "white_check_mark".into(),
            error: "x".into(),
            denied: "no_entry_sign".into(),
        }
    }
}

impl Default for Reactions {
    fn default() -> Self {
        Self {
            queued: "⏳".into(),
            thinking: "🤔".into(),
            tool: "🔧".into(),
            done: "✅".into(),
            error: "❌".into(),
            denied: "🚫".into(),
        }
    }
}

/// Default `broker.max_queued`: more than a person types while an agent
/// works, few enough that the next prompt (all of them at once) stays
/// readable for the agent.
pub const DEFAULT_MAX_QUEUED: usize = 20;
/// The largest `broker.max_queued` accepted.
pub const MAX_MAX_QUEUED: usize = 1_000;

/// Default `broker.catch_up_max_pages`: 1,000 messages of one Discord
/// channel (2,000 on Slack) after downtime; more is older than anyone is
/// still waiting on, and reading it would hold up every other channel.
pub const DEFAULT_CATCH_UP_MAX_PAGES: u32 = 10;
/// The largest `broker.catch_up_max_pages` accepted.
pub const MAX_CATCH_UP_MAX_PAGES: u32 = 1_000;

/// Default `store.prune_after`: a week.
pub const DEFAULT_PRUNE_AFTER: Duration = Duration::from_secs(7 * 24 * 3600);

/// `[broker]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerConfig {
    /// Consecutive bot-authored turns allowed per thread before it stops
    /// answering bots (a human message resets the count).
    pub max_bot_turns: u32,
    /// Messages that may wait in one thread while its agent works (they go
    /// together as the next prompt); one more is refused, and its author
    /// told, never dropped silently.
    pub max_queued: usize,
    /// At most one edit per message per this interval while streaming.
    pub edit_interval: Duration,
    /// "full" | "compact" | "none".
    pub tool_display: String,
    /// On SIGTERM, how long running turns may take to finish.
    pub shutdown_grace: Duration,
    /// After downtime, how far back threads and channels are caught up.
    pub catch_up_window: Duration,
    /// Catch-up reads at most this many pages of one channel or thread...
    pub catch_up_max_pages: u32,
    /// ...and starts no page of it after this long; a channel cut short
    /// is logged and shown in /status.
    pub catch_up_max_time: Duration,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            max_bot_turns: 20,
            max_queued: DEFAULT_MAX_QUEUED,
            edit_interval: Duration::from_millis(1_500),
            tool_display: "compact".into(),
            shutdown_grace: Duration::from_secs(10),
            catch_up_window: Duration::from_secs(24 * 3600),
            catch_up_max_pages: DEFAULT_CATCH_UP_MAX_PAGES,
            catch_up_max_time: Duration::from_secs(30),
        }
    }
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Absolute directory of the SQLite database file (not used when
    /// `postgres` is set).
    pub data_dir: PathBuf,
    /// `store.url`: the store is this PostgreSQL database instead of the
    /// SQLite file in `data_dir`.
    pub postgres: Option<PostgresStoreConfig>,
    /// Processed message ids older than this are forgotten.
    pub prune_after: Duration,
    /// `store.allow_inside_agent_cwd`: the operator accepts a `data_dir`
    /// inside the agent's working directory (the journal holds every
    /// user's prompts; an agent that can read files could read them).
    /// Default false: such a config is refused.
    pub allow_inside_agent_cwd: bool,
}

/// The PostgreSQL store's settings (`store.url` and the keys that only
/// apply with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostgresStoreConfig {
    /// `postgres://` or `postgresql://`; may hold a password, so it is a
    /// secret (never in Debug, logs, errors or /status).
    pub url: Secret,
    /// `store.max_connections`: the pool's size (default 10, 1..=100).
    pub max_connections: u32,
    /// `store.statement_timeout`: the server cancels a statement running
    /// longer (default 30 s).
    pub statement_timeout: Duration,
}

/// `[agent]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The program: a bare name (looked up on the agent's PATH) or a path
    /// (with a slash; absolute once loaded, a relative one is taken from
    /// the config file's folder).
    pub command: String,
    pub args: Vec<String>,
    /// Absolute working directory of the agent.
    pub cwd: PathBuf,
    /// Extra environment for the agent (its environment is otherwise
    /// cleared to HOME, PATH, USER, LANG). Values are secrets (API keys):
    /// Debug and errors never show them.
    pub env: BTreeMap<String, Secret>,
    /// ACP McpServer objects, passed through.
    pub mcp_servers: Vec<serde_json::Value>,
    /// "ask" (the default: people in the thread decide with buttons) |
    /// "allow" | "deny" | "allow_reads".
    pub permission_policy: String,
    /// `agent.permission_timeout`: an open permission prompt with no
    /// decision for this long is rejected (default 10 minutes).
    pub permission_timeout: Duration,
    pub turn_idle_timeout: Duration,
    pub cancel_grace: Duration,
    pub max_sessions: usize,
    pub idle_ttl: Duration,
    /// `agent.max_message_size`: the largest JSON-RPC message (one stdout
    /// line) accepted from the agent; a longer one stops the agent as
    /// broken. Default [`DEFAULT_MAX_MESSAGE_SIZE`].
    pub max_message_size: ByteSize,
}

/// `agent.max_message_size` when not set: 16 MiB. The largest legitimate
/// ACP messages from an agent are single `session/update`s with a tool
/// call's content: a diff carries a file's whole old and new text (a 4 MiB
/// file edited is 8 MiB before JSON escaping), an image is base64 (a 5 MB
/// screenshot, the usual model limit, is 6.7 MB). `session/load` replays
/// history one update per message; `fs/write_text_file` never reaches
/// switchboard (it does not offer the fs capability). A runaway agent then
/// costs at most this much buffer (plus one 64 KiB read) before it is
/// stopped.
pub const DEFAULT_MAX_MESSAGE_SIZE: ByteSize = ByteSize(16 << 20);
/// The smallest `agent.max_message_size` accepted: an `initialize` or
/// `session/new` answer with modes, models and commands is several KiB.
pub const MIN_MAX_MESSAGE_SIZE: ByteSize = ByteSize(64 << 10);
/// The largest `agent.max_message_size` accepted.
pub const MAX_MAX_MESSAGE_SIZE: ByteSize = ByteSize(1 << 30);
