//! The config file's shape as serde sees it: one struct per `[section]`, every
//! one `deny_unknown_fields`, values still as written (strings, integers).
//!
//! Owns only types and the names of keys. It never judges a value: that is
//! `validate`'s job, so every rule about values lives in one place. To add a
//! section: a `Raw*` struct here, a field on [`RawConfig`], a typed struct in
//! `mod.rs` and one function in `validate`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Visitor};

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub discord: Option<RawDiscord>,
    pub slack: Option<RawSlack>,
    #[serde(default)]
    pub admin: RawAdmin,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub supervisor: RawSupervisor,
    #[serde(default)]
    pub broker: RawBroker,
    pub agent: Option<RawAgent>,
    #[serde(default)]
    pub store: RawStore,
    #[serde(default)]
    pub canary: RawCanary,
    pub cluster: Option<RawCluster>,
}

/// `[cluster]`: several instances of one bot.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCluster {
    pub instance_id: Option<String>,
    pub lease_ttl: Option<String>,
}

/// `[canary]`: checking that the live connections deliver what the
/// platforms hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCanary {
    pub enabled: Option<bool>,
    pub interval: Option<String>,
    pub idle_interval: Option<String>,
    pub grace: Option<String>,
    pub thread_window: Option<String>,
    pub max_misses: Option<i64>,
    #[serde(default)]
    pub calls_per_minute: RawPerPlatform<i64>,
    #[serde(default)]
    pub channel: RawPerPlatform<RawId>,
    pub post_interval: Option<String>,
}

/// A value per platform: `{ discord = ..., slack = ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPerPlatform<T> {
    pub discord: Option<T>,
    pub slack: Option<T>,
}

impl<T> Default for RawPerPlatform<T> {
    fn default() -> Self {
        Self {
            discord: None,
            slack: None,
        }
    }
}

/// `[store]`: where durable state lives.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub data_dir: Option<String>,
    /// PostgreSQL instead of the SQLite file; a secret (it may hold a
    /// password).
    pub url: Option<String>,
    pub max_connections: Option<i64>,
    pub statement_timeout: Option<String>,
    pub prune_after: Option<String>,
    #[serde(default)]
    pub allow_inside_agent_cwd: bool,
}

/// `[discord]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDiscord {
    pub token: String,
    #[serde(default)]
    pub allowed_channels: Vec<RawId>,
    #[serde(default)]
    pub allow_all_channels: bool,
    pub api_url: Option<String>,
    pub gateway_url: Option<String>,
    #[serde(default)]
    pub allowed_users: Vec<RawId>,
    #[serde(default)]
    pub allow_all_users: bool,
    #[serde(default)]
    pub mention_roles: Vec<RawId>,
    pub allow_bot_messages: Option<String>,
    #[serde(default)]
    pub trusted_bot_ids: Vec<RawId>,
    #[serde(default)]
    pub reactions: RawReactions,
    #[serde(default)]
    pub approvers: RawApprovers,
    #[serde(default)]
    pub guild_ids: Vec<RawId>,
    /// A whole number or "auto": checked in `shards.rs` (kept as written
    /// so the error names both forms).
    pub shards: Option<toml::Value>,
}

/// `[discord.approvers]` / `[slack.approvers]`: who may decide an agent's
/// permission requests besides the requester. Discord names roles, Slack
/// user groups; validation refuses the other platform's word.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApprovers {
    #[serde(default)]
    pub users: Vec<RawId>,
    #[serde(default)]
    pub roles: Vec<RawId>,
    #[serde(default)]
    pub groups: Vec<RawId>,
}

/// `[slack]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlack {
    pub bot_token: String,
    pub app_token: String,
    #[serde(default)]
    pub allowed_channels: Vec<RawId>,
    #[serde(default)]
    pub allow_all_channels: bool,
    pub api_url: Option<String>,
    #[serde(default)]
    pub allowed_users: Vec<RawId>,
    #[serde(default)]
    pub allow_all_users: bool,
    /// User group ids (`S...`) whose @mention counts as a mention of the bot.
    #[serde(default)]
    pub mention_roles: Vec<RawId>,
    pub allow_bot_messages: Option<String>,
    #[serde(default)]
    pub trusted_bot_ids: Vec<RawId>,
    pub connections: Option<i64>,
    #[serde(default)]
    pub reactions: RawReactions,
    #[serde(default)]
    pub approvers: RawApprovers,
}

/// `[discord.reactions]` / `[slack.reactions]`: status emojis on the user's
/// message.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReactions {
    pub queued: Option<String>,
    pub thinking: Option<String>,
    pub tool: Option<String>,
    pub done: Option<String>,
    pub error: Option<String>,
    pub denied: Option<String>,
}

/// `[broker]`: conversation rules shared by every platform.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBroker {
    pub max_bot_turns: Option<i64>,
    pub max_queued: Option<i64>,
    pub edit_interval: Option<String>,
    pub tool_display: Option<String>,
    pub shutdown_grace: Option<String>,
    pub catch_up_window: Option<String>,
    pub catch_up_max_pages: Option<i64>,
    pub catch_up_max_time: Option<String>,
}

/// `[agent]`: the ACP agent each conversation runs.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAgent {
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    pub cwd: Option<String>,
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    pub mcp_servers: Vec<toml::Value>,
    pub permission_policy: Option<String>,
    pub permission_timeout: Option<String>,
    pub turn_idle_timeout: Option<String>,
    pub cancel_grace: Option<String>,
    pub max_sessions: Option<i64>,
    pub idle_ttl: Option<String>,
    pub max_message_size: Option<RawSize>,
}

/// `[admin]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub listen: Option<String>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub format: Option<String>,
    pub level: Option<String>,
}

/// `[supervisor]`: durations as written ("10s").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSupervisor {
    pub backoff_initial: Option<String>,
    pub backoff_max: Option<String>,
    pub healthy_reset: Option<String>,
    pub probe_after: Option<String>,
    pub ack_deadline: Option<String>,
    pub summary_interval: Option<String>,
    pub handshake_timeout: Option<String>,
}

/// A size as written: a string with a unit (`"16MiB"`) or a TOML integer
/// (bytes). Whether it is a valid size is decided in `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RawSize {
    Text(String),
    Integer(i64),
}

impl<'de> Deserialize<'de> for RawSize {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;

        impl Visitor<'_> for SizeVisitor {
            type Value = RawSize;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size (a string such as \"16MiB\", or an integer of bytes)")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawSize, E> {
                Ok(RawSize::Text(value.to_owned()))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawSize, E> {
                Ok(RawSize::Integer(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<RawSize, E> {
                i64::try_from(value)
                    .map(RawSize::Integer)
                    .map_err(|_| E::custom(format!("size {value} is too large")))
            }
        }

        deserializer.deserialize_any(SizeVisitor)
    }
}

/// A platform id as written: a string (`"1234"`, the form Discord shows) or a
/// TOML integer. Anything else is a type error here; whether the text is a
/// valid id is decided in `validate`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum RawId {
    Text(String),
    Integer(i64),
}

impl<'de> Deserialize<'de> for RawId {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;

        impl Visitor<'_> for IdVisitor {
            type Value = RawId;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id (a string of digits, or an integer)")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<RawId, E> {
                Ok(RawId::Text(value.to_owned()))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<RawId, E> {
                Ok(RawId::Integer(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<RawId, E> {
                i64::try_from(value)
                    .map(RawId::Integer)
                    .map_err(|_| E::custom(format!("id {value} is too large")))
            }
        }

        deserializer.deserialize_any(IdVisitor)
    }
}
