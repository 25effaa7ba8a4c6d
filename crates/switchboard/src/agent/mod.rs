//! The ACP (Agent Client Protocol, version 1) client side: one coding agent
//! child process, one ACP session, driven over newline-delimited JSON-RPC 2.0
//! on the child's stdio.
//!
//! Owns: the public vocabulary the broker uses to talk to agents (this file),
//! and under it the process handling ([`process`]), the JSON-RPC framing
//! (`rpc`), bounded line reading (`line_reader`), the per-process actor
//! (`actor`), the permission policy
//! (`permission`), the payloads it sends (`prepare`), the update mapping
//! (`updates`), the session handle ([`AgentSession`], in `session`), the
//! last stderr lines ([`stderr_tail`]) and a one-off start for
//! `switchboard check --agent` ([`probe`]).
//!
//! Must never: import `broker` or `chat` (arrows point one way; of
//! `config` it uses only [`ByteSize`](crate::config::ByteSize) to print
//! sizes), hold a std lock across `.await`, wait on the agent without a
//! deadline or a cancellation path, or leave a process of the agent's group
//! alive after the session is shut down or dropped.

mod actor;
pub mod ask;
pub mod controls;
pub mod facts;
mod from_config;
pub(crate) mod line_reader;
mod permission;
mod prepare;
pub mod probe;
pub mod process;
pub(crate) mod rpc;
mod session;
mod session_features;
pub mod stderr_tail;
pub(crate) mod updates;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

pub use controls::SessionControls;
pub use facts::{ModelSetting, SessionFacts};
pub use session::{AgentSession, Canceller};

/// The ACP protocol version switchboard speaks.
pub const PROTOCOL_VERSION: u16 = 1;

/// How to start an agent: the program, its arguments, its working directory
/// and the extra environment it gets on top of the cleaned one. Debug shows
/// the env's names only (its values are API keys).
#[derive(Clone, PartialEq, Eq)]
pub struct AgentCommand {
    /// The program; looked up on `PATH` when it has no slash.
    pub command: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// Its working directory; absolute (ACP sends it as the session cwd).
    pub cwd: PathBuf,
    /// Variables added to the cleaned environment (HOME, PATH, USER, LANG).
    pub env: BTreeMap<String, String>,
}

impl fmt::Debug for AgentCommand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentCommand")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field(
                "env",
                &self
                    .env
                    .keys()
                    .map(|name| (name, "<redacted>"))
                    .collect::<BTreeMap<_, _>>(),
            )
            .finish()
    }
}

/// How `session/request_permission` is answered. The option is chosen by its
/// KIND (allow_once, reject_always, ...), never by a hard-coded optionId.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PermissionPolicy {
    /// Allow every tool call (allow_once, else allow_always).
    Allow,
    /// Reject every tool call (reject_once, else reject_always).
    #[default]
    Deny,
    /// Allow tools that only look (read, search, fetch, think); reject the
    /// others (edit, execute, delete, move, ...).
    AllowReads,
    /// Put every request to the people in the thread
    /// ([`AgentUpdate::PermissionAsked`]); their answer goes back through
    /// the ask's [`ask::PermissionReply`].
    Ask,
}

impl PermissionPolicy {
    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::AllowReads => "allow_reads",
            Self::Ask => "ask",
        }
    }
}

impl fmt::Display for PermissionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission policy name that is none of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown permission policy {0:?}; expected \"ask\", \"allow\", \"deny\" or \"allow_reads\""
)]
pub struct UnknownPolicy(pub String);

impl FromStr for PermissionPolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "allow" => Ok(Self::Allow),
            "deny" => Ok(Self::Deny),
            "allow_reads" => Ok(Self::AllowReads),
            "ask" => Ok(Self::Ask),
            other => Err(UnknownPolicy(other.to_owned())),
        }
    }
}

/// Per-session settings.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// How permission requests are answered.
    pub permission_policy: PermissionPolicy,
    /// ACP `McpServer` objects passed through to `session/new|load`; each
    /// must deserialize as one (checked in [`AgentSession::start`]).
    pub mcp_servers: Vec<serde_json::Value>,
    /// A turn that receives nothing at all from the agent for this long is
    /// cancelled, then killed after `cancel_grace` (default 10 min).
    pub turn_idle_timeout: Duration,
    /// After `session/cancel`, how long the agent has to end the turn before
    /// its process group is killed (default 5 s).
    pub cancel_grace: Duration,
    /// Deadline for spawn + `initialize` + `session/new|load` (default 2 min;
    /// some agents install themselves on first start).
    pub start_timeout: Duration,
    /// Carried by every log line of this agent (e.g. the chat thread id).
    pub log_tag: String,
    /// The largest JSON-RPC message (one stdout line, without its newline)
    /// accepted from the agent, in bytes; a longer one means the agent is
    /// broken: its process group is killed ([`AgentError::MessageTooLarge`]).
    /// Default [`DEFAULT_MAX_MESSAGE_SIZE`].
    pub max_message_size: usize,
}

/// The default `max_message_size`: 16 MiB. The largest legitimate ACP
/// messages an agent sends are single `session/update`s carrying a tool
/// call's content: a diff holds the whole old and new text of a file
/// (a 4 MiB source file edited = 8 MiB before JSON escaping), an image is
/// base64 (a 5 MB screenshot, the common model limit, is 6.7 MB). History
/// replayed by `session/load` comes one update per message, and
/// `fs/write_text_file` is never sent to switchboard (it does not advertise
/// the fs capability). 16 MiB keeps those with room to spare, while a
/// runaway agent costs at most that much buffer (plus one 64 KiB read).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            permission_policy: PermissionPolicy::default(),
            mcp_servers: Vec::new(),
            turn_idle_timeout: Duration::from_secs(600),
            cancel_grace: Duration::from_secs(5),
            start_timeout: Duration::from_secs(120),
            log_tag: String::new(),
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
        }
    }
}

/// What the agent said about itself, and the session it gave us.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentInfo {
    /// The ACP session id (new, or the resumed one).
    pub session_id: String,
    /// Whether the previous session was restored with `session/load`.
    pub resumed: bool,
    /// The agent advertised `loadSession`.
    pub load_session: bool,
    /// The agent accepts image prompt content.
    pub image_prompts: bool,
    /// `agentInfo.title`, else `agentInfo.name`, when the agent sent it.
    pub agent_name: Option<String>,
    /// `agentInfo.version`, when the agent sent `agentInfo`.
    pub agent_version: Option<String>,
    /// Ids of the session modes the agent announced for this session
    /// (`modes.availableModes` of `session/new` or `session/load`).
    pub modes: Vec<String>,
    /// `modes.currentModeId`, when the agent announced modes.
    pub current_mode: Option<String>,
    /// Ids of the session config options the agent announced
    /// (`configOptions`, e.g. a model choice).
    pub config_options: Vec<String>,
    /// Ids of the authentication methods the agent advertised.
    pub auth_methods: Vec<String>,
}

/// The most late text kept between turns, in characters; beyond it the
/// rest is dropped and the text says so.
pub const LATE_TEXT_MAX: usize = 16 * 1024;

/// One piece of a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromptPart {
    /// Plain text.
    Text(String),
    /// An image; sent only if the agent advertised
    /// `promptCapabilities.image`, else dropped (DEBUG log).
    Image {
        /// e.g. `image/png`.
        mime_type: String,
        /// The bytes, base64-encoded.
        data_base64: String,
    },
}

/// One thing the agent reported during a turn, flattened for rendering.
#[derive(Debug, PartialEq, Eq)]
pub enum AgentUpdate {
    /// A piece of the answer (`agent_message_chunk` text).
    MessageChunk(String),
    /// Answer text the agent sent after its previous turn had ended (no
    /// prompt was running), handed to the next turn so it is shown, not
    /// lost. At most [`LATE_TEXT_MAX`] characters are kept.
    LateText(String),
    /// A piece of the agent's reasoning (`agent_thought_chunk` text).
    ThoughtChunk(String),
    /// A tool call started. `kind` and `status` are the ACP wire names
    /// (`read`, `edit`, ...; `pending`, `in_progress`, ...).
    ToolCall {
        /// The agent's tool call id.
        id: String,
        /// Human-readable title.
        title: String,
        /// ACP tool kind.
        kind: String,
        /// ACP tool call status.
        status: String,
    },
    /// A tool call changed.
    ToolCallUpdate {
        /// The agent's tool call id.
        id: String,
        /// New title, if changed.
        title: Option<String>,
        /// New status, if changed.
        status: Option<String>,
    },
    /// The agent's plan: (content, status) per entry; replaces the last one.
    Plan(Vec<(String, String)>),
    /// The agent asks the people in the thread (policy `ask`).
    PermissionAsked(Box<ask::PermissionAsk>),
    /// The permission policy answered a request: the option kind it chose
    /// (`allow_once`, `reject_always`, ...) or `cancelled`.
    PermissionDecided {
        /// Title of the tool call asking.
        tool_title: String,
        /// The chosen option kind, or `cancelled`.
        option_kind: String,
    },
}

/// Why a turn ended (ACP `stopReason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The agent finished its answer.
    EndTurn,
    /// The model's token limit was reached.
    MaxTokens,
    /// The agent's per-turn request limit was reached.
    MaxTurnRequests,
    /// The agent refused to continue.
    Refusal,
    /// The turn was cancelled (`session/cancel`).
    Cancelled,
}

impl StopReason {
    /// The ACP wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndTurn => "end_turn",
            Self::MaxTokens => "max_tokens",
            Self::MaxTurnRequests => "max_turn_requests",
            Self::Refusal => "refusal",
            Self::Cancelled => "cancelled",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What can go wrong with an agent.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The program could not be started.
    #[error(
        "cannot start agent `{command}`: {source} (check that the program exists and is \
         executable, that it is on switchboard's PATH or given as an absolute path, and that \
         the working directory exists)"
    )]
    Spawn {
        /// The program as configured.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The agent process ended (e.g. "exit status 3", "killed by signal 9").
    #[error("agent process ended: {status}")]
    Exited {
        /// How it ended.
        status: String,
    },
    /// The agent sent nothing at all for `turn_idle_timeout` during a turn;
    /// the turn was cancelled, and the process killed if it did not end the
    /// turn within `cancel_grace`.
    #[error("agent sent nothing for {}; turn cancelled", humantime::format_duration(*after))]
    IdleTimeout {
        /// The idle timeout.
        after: Duration,
    },
    /// After a cancel the agent did not end the turn within `cancel_grace`;
    /// its process group was killed.
    #[error(
        "agent did not stop within {} of being cancelled; killed",
        humantime::format_duration(*after)
    )]
    CancelTimeout {
        /// The cancel grace.
        after: Duration,
    },
    /// Spawn, `initialize` and `session/new|load` took longer than
    /// `start_timeout`; the process was killed.
    #[error("agent did not start within {}", humantime::format_duration(*after))]
    StartTimeout {
        /// The start timeout.
        after: Duration,
    },
    /// The agent wrote a JSON-RPC message (one stdout line) longer than
    /// `max_message_size`; it is treated as broken and its process group
    /// was killed.
    #[error(
        "agent sent a message larger than {} (agent.max_message_size); it was stopped",
        crate::config::ByteSize(*limit as u64)
    )]
    MessageTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A prompt was sent while another turn of this session was running.
    #[error("a turn is already running in this agent session")]
    Busy,
    /// The session options are unusable (e.g. an MCP server object that is
    /// not an ACP `McpServer`).
    #[error("invalid agent session options: {0}")]
    Options(String),
    /// The agent answered with an error, or sent something impossible.
    #[error("agent protocol error: {0}")]
    Protocol(String),
    /// The session was already shut down.
    #[error("agent session is closed")]
    Closed,
}
