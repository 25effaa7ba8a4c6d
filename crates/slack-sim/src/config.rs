//! Static configuration of a simulated Slack workspace: who the app and its
//! bot are, which channels exist, Socket Mode timing, and the fault and
//! rate-limit types a test hands to the running simulator.
//!
//! Owns only plain data and its defaults; it must never reach into the
//! running simulator (runtime switches live on `SlackSim`).

use std::collections::HashMap;
use std::time::Duration;

/// Everything a simulator needs to know before it starts.
#[derive(Clone, Debug)]
pub struct SlackSimConfig {
    /// The bot token (`xoxb-...`) accepted by every Web API method except
    /// `apps.connections.open`.
    pub bot_token: String,
    /// The app-level token (`xapp-...`) accepted only by
    /// `apps.connections.open`.
    pub app_token: String,
    /// The bot's user id (what `<@...>` mentions name).
    pub bot_user_id: String,
    /// The bot's bot id (`bot_id` on its messages).
    pub bot_id: String,
    /// The bot user's name.
    pub bot_name: String,
    /// The app id (`api_app_id`, `connection_info.app_id`).
    pub app_id: String,
    pub team_id: String,
    pub team_name: String,
    /// The workspace's public channels.
    pub channels: Vec<SlackChannel>,
    /// How long an envelope may stay unacknowledged before it is redelivered.
    pub ack_timeout: Duration,
    /// How many times an unacknowledged envelope is redelivered.
    pub max_retries: u32,
    /// How long after a `warning` disconnect message the sim closes.
    pub disconnect_warning_delay: Duration,
    /// How long after a `refresh_requested` disconnect message the sim closes.
    pub refresh_close_delay: Duration,
    /// Open Socket Mode connections allowed per app (Slack: 10); one more
    /// gets a `too_many_websockets` disconnect.
    pub max_connections: usize,
    /// Which open connection an envelope goes to.
    pub pick: ConnectionPick,
    /// When set, the sim sends a WebSocket ping this often on each
    /// connection (Slack pings its clients); off by default.
    pub server_ping_interval: Option<Duration>,
    /// Where the Web API lives, e.g. "/api" -> `http://127.0.0.1:PORT/api`.
    pub api_base_path: String,
    /// Per-method rate limits enforced from the start (off by default).
    pub rate_limits: HashMap<String, RateLimit>,
    /// How long an interaction's response_url works (Slack: 30 minutes).
    pub response_url_life: Duration,
    /// How many times a response_url may be used (Slack: 5).
    pub response_url_max_uses: u32,
}

impl Default for SlackSimConfig {
    fn default() -> Self {
        Self {
            bot_token: "xoxb-sim-bot".to_owned(),
            app_token: "xapp-sim-app".to_owned(),
            bot_user_id: "U0BOT".to_owned(),
            bot_id: "B0BOT".to_owned(),
            bot_name: "switchboard".to_owned(),
            app_id: "A0SIMAPP".to_owned(),
            team_id: "T0SIM".to_owned(),
            team_name: "sim".to_owned(),
            channels: vec![SlackChannel {
                id: "C0GENERAL".to_owned(),
                name: "general".to_owned(),
            }],
            ack_timeout: Duration::from_secs(3),
            max_retries: 3,
            disconnect_warning_delay: Duration::from_secs(2),
            refresh_close_delay: Duration::from_millis(500),
            max_connections: 10,
            pick: ConnectionPick::RoundRobin,
            server_ping_interval: None,
            api_base_path: "/api".to_owned(),
            rate_limits: HashMap::new(),
            response_url_life: Duration::from_secs(30 * 60),
            response_url_max_uses: 5,
        }
    }
}

/// A public channel of the workspace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackChannel {
    pub id: String,
    pub name: String,
}

/// Which of the two tokens a switch applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// The bot token (`xoxb-`).
    Bot,
    /// The app-level token (`xapp-`).
    App,
}

/// How the sim chooses the connection for each envelope (Slack picks one of
/// the app's open connections; tests want to know which).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectionPick {
    /// The oldest open connection.
    First,
    /// The newest open connection.
    Newest,
    /// Each envelope to the next connection in turn.
    #[default]
    RoundRobin,
    /// A uniformly random open connection.
    Random,
}

/// A fixed-window limit on one Web API method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u32,
    pub window: Duration,
}

/// A canned Web API answer injected by a test; it takes precedence over
/// auth, rate limits and the method itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// HTTP 429 with `Retry-After: <secs>` and `{"ok":false,"error":"ratelimited"}`.
    RateLimited { retry_after_secs: u64 },
    /// HTTP 200 with `{"ok":false,"error":<this>}`.
    Error(String),
    /// This HTTP status with `{"ok":false,"error":"internal_error"}`.
    ServerError(u16),
}

/// What happens to a Web API answer after its call took effect (the call is
/// applied in full first, events included): the cases a client cannot tell
/// from "never happened".
#[derive(Clone, Debug, PartialEq)]
pub enum ResponseFault {
    /// The connection is dropped before any byte of the answer is sent.
    Lose,
    /// The answer is sent only after this long (past a client's timeout).
    Delay(std::time::Duration),
}

impl Fault {
    /// `Fault::Error` from a `&str`.
    pub fn error(code: &str) -> Fault {
        Fault::Error(code.to_owned())
    }
}
