//! Static configuration of a simulated Discord: who the bot is, which guilds
//! and channels exist, how many shards `/gateway/bot` recommends, and the
//! knobs a test sets before start-up.
//!
//! Owns only plain data and its defaults; it must never reach into the
//! running simulator (runtime switches live on `DiscordSim`).

use std::time::Duration;

/// The application / bot user id used by default.
pub const DEFAULT_BOT_ID: u64 = 1_100_000_000_000_000_001;
/// The guild id used by default.
pub const DEFAULT_GUILD_ID: u64 = 1_100_000_000_000_000_002;
/// The id of the default "general" text channel.
pub const DEFAULT_CHANNEL_ID: u64 = 1_100_000_000_000_000_003;
/// The id of the (fake) guild owner.
pub const DEFAULT_OWNER_ID: u64 = 1_100_000_000_000_000_004;

/// Everything a simulator needs to know before it starts.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// The heartbeat interval announced in Hello (op 10).
    pub heartbeat_interval: Duration,
    /// The bot token, without the "Bot " prefix.
    pub token: String,
    /// The bot's own user (also the application id).
    pub bot_user: SimUser,
    /// The bot's first guild (the default one: REST views, interactions
    /// and commands not bound to a channel use it).
    pub guild_id: u64,
    /// The first guild's text channels.
    pub channels: Vec<SimChannel>,
    /// Further guilds the bot is in, each with its own channels (none by
    /// default). Channel ids must be unique across every guild.
    pub more_guilds: Vec<SimGuild>,
    /// `shards` as `GET /gateway/bot` recommends it (Discord: at least 1).
    pub recommended_shards: u32,
    /// `session_start_limit.max_concurrency` of `GET /gateway/bot`: how
    /// many identifies Discord takes per 5 s (informational: the sim
    /// records every identify with its time, it does not refuse any).
    pub max_concurrency: u32,
    /// Whether the privileged Message Content intent is enabled for this bot;
    /// when false, an Identify asking for it is closed with 4014.
    pub message_content_intent_allowed: bool,
    /// REST rate-limit enforcement (headers are always sent).
    pub rate_limits: RateLimits,
    /// How long after an interaction is dispatched its initial callback is
    /// accepted (Discord: 3 s; later -> 404 Unknown interaction, 10062,
    /// and the token is invalidated).
    pub interaction_callback_deadline: Duration,
    /// How long an interaction token serves follow-ups and @original edits
    /// (Discord: 15 min; later -> 401 Invalid Webhook Token, 50027).
    pub interaction_token_life: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            heartbeat_interval: Duration::from_millis(41_250),
            token: "sim-token".to_owned(),
            bot_user: SimUser {
                id: DEFAULT_BOT_ID,
                name: "switchboard-bot".to_owned(),
                bot: true,
            },
            guild_id: DEFAULT_GUILD_ID,
            channels: vec![SimChannel {
                id: DEFAULT_CHANNEL_ID,
                name: "general".to_owned(),
            }],
            more_guilds: Vec::new(),
            recommended_shards: 1,
            max_concurrency: 1,
            message_content_intent_allowed: true,
            rate_limits: RateLimits::default(),
            interaction_callback_deadline: Duration::from_secs(3),
            interaction_token_life: Duration::from_secs(15 * 60),
        }
    }
}

impl SimConfig {
    /// Adds one guild per shard of `shards` (guild `i` belongs to shard
    /// `i`), each with one text channel whose id is the guild's + 1, so a
    /// test or a demo has something on every shard.
    pub fn with_a_guild_per_shard(mut self, shards: u32) -> Self {
        for index in 0..shards {
            let id = (300_000_000_000u64..)
                .map(|n| n << 22)
                .find(|id| crate::shard_of(*id, shards) == index)
                .expect("every residue comes within `shards` steps");
            self.more_guilds.push(SimGuild {
                id,
                channels: vec![SimChannel {
                    id: id + 1,
                    name: format!("shard-{index}-general"),
                }],
            });
        }
        self
    }
}

/// A Discord user as the simulator knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SimUser {
    pub id: u64,
    pub name: String,
    pub bot: bool,
}

/// A guild text channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimChannel {
    pub id: u64,
    pub name: String,
}

/// A further guild (beside `SimConfig::guild_id`) with its text channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimGuild {
    pub id: u64,
    pub channels: Vec<SimChannel>,
}

/// REST rate-limit enforcement. `None` means "not enforced" (the
/// X-RateLimit-* headers are still sent, announcing a generous bucket).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RateLimits {
    /// `(limit, window)` per bucket; a bucket is (route, channel id).
    pub per_route: Option<(u32, Duration)>,
    /// Requests per second across all routes.
    pub global_per_second: Option<u32>,
}

/// A canned REST answer injected by a test; takes precedence over
/// everything else (auth, rate limits, routing).
#[derive(Clone, Debug, PartialEq)]
pub enum RestFault {
    /// 429 with the given `retry_after` (seconds); `global` sets the global
    /// scope headers.
    TooManyRequests { retry_after: f64, global: bool },
    /// 429 with only a Retry-After header (whole seconds, rounded up) and
    /// the JSON body `{"message", "retry_after", "global"}`: no
    /// X-RateLimit-* header at all, as Discord's edge and some global
    /// limits answer.
    HeaderlessTooManyRequests { retry_after: f64, global: bool },
    /// Any status (typically 500, 502, 503) with a Discord-style JSON body.
    ServerError(u16),
    /// 401 Unauthorized.
    Unauthorized,
}

/// What happens to a REST answer after its request took effect (the
/// request is applied in full first, dispatches included): the cases a
/// client cannot tell from "never happened".
#[derive(Clone, Debug, PartialEq)]
pub enum ResponseFault {
    /// The connection is dropped before any byte of the answer is sent (as
    /// a reset between Discord and the client).
    Lose,
    /// The answer is sent only after this long (past a client's timeout).
    Delay(std::time::Duration),
}
