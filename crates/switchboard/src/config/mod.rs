//! Typed configuration: the TOML file (default `./switchboard.toml`) read,
//! `${VAR}`-expanded, checked and turned into [`Config`].
//!
//! Owns the file format and its every rule. Pipeline, one file per step:
//! TOML syntax -> `expand` (`${VAR}` in every string; `$${` for a literal
//! `${`) -> `raw` (serde shapes, unknown keys and wrong types rejected, with
//! the key path) -> `validate` (defaults and all value rules) -> [`Config`].
//! Errors ([`ConfigError`], in `error`) name file, key path and reason, and
//! never contain the token ([`Secret`], in `secret`). This module never
//! connects anywhere and never reads `RUST_LOG` (the log set-up does).

mod bridge;
mod canary;
mod cluster;
mod duration;
mod endpoint;
mod error;
mod expand;
mod isolation;
mod raw;
mod secret;
mod shards;
mod size;
mod validate;
mod validate_bridge;
mod validate_slack;
mod validate_store;

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

pub use bridge::{
    AgentConfig, BotMessages, BrokerConfig, DEFAULT_MAX_MESSAGE_SIZE, DEFAULT_PRUNE_AFTER, Gating,
    PostgresStoreConfig, Reactions, StoreConfig,
};
pub use canary::{CanaryConfig, DEFAULT_DISCORD_CALLS_PER_MINUTE, DEFAULT_SLACK_CALLS_PER_MINUTE};
pub use cluster::{ClusterConfig, DEFAULT_LEASE_TTL, valid_instance_id};
pub use error::ConfigError;
pub use secret::Secret;
pub use shards::{DiscordShards, MAX_DISCORD_SHARDS};
pub use size::ByteSize;
pub use validate::{DEFAULT_ADMIN_LISTEN, DEFAULT_DISCORD_API_URL, DEFAULT_LOG_LEVEL};
pub use validate_slack::DEFAULT_SLACK_API_URL;

/// What `source` says for a config that did not come from a file.
pub const EMBEDDED: &str = "<embedded>";

/// The whole configuration. Sections a file leaves out get their defaults,
/// except platforms: `discord` is `None` when `[discord]` is absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `[discord]`, if the file has it.
    pub discord: Option<DiscordConfig>,
    /// `[slack]`, if the file has it.
    pub slack: Option<SlackConfig>,
    /// `[admin]`.
    pub admin: AdminConfig,
    /// `[log]`.
    pub log: LogConfig,
    /// `[supervisor]`.
    pub supervisor: SupervisorConfig,
    pub broker: BrokerConfig,
    /// The agent every conversation runs; required when a platform is set.
    pub agent: Option<AgentConfig>,
    pub store: StoreConfig,
    /// `[canary]`: the check that the connections deliver.
    pub canary: CanaryConfig,
    /// `[cluster]`: this instance and its leases (PostgreSQL store only).
    pub cluster: ClusterConfig,
    /// The file path (or [`EMBEDDED`]), for messages.
    pub source: String,
}

/// `[discord]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscordConfig {
    /// The bot token (without a "Bot " prefix).
    pub token: Secret,
    /// Who may talk to the bot.
    pub gating: Gating,
    /// Status reactions on the user's message.
    pub reactions: Reactions,
    /// REST base, normalised without a trailing slash; requests go to
    /// `{api_url}/api/v10/...`. Default [`DEFAULT_DISCORD_API_URL`].
    pub api_url: String,
    /// Gateway URL (ws:// or wss://, no trailing slash); `None` = Discord's own.
    pub gateway_url: Option<String>,
    /// `discord.guild_ids`: register the slash commands in these guilds
    /// (shown at once); empty = globally (Discord may take up to an hour).
    pub guild_ids: Vec<u64>,
    /// `discord.shards`: how many gateway shards (default 1).
    pub shards: DiscordShards,
}

/// `[slack]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackConfig {
    /// The bot token (`xoxb-...`): every Web API call.
    pub bot_token: Secret,
    /// The app-level token (`xapp-...`): `apps.connections.open`.
    pub app_token: Secret,
    /// Who may talk to the bot.
    pub gating: Gating,
    /// Status reactions (emoji names) on the user's message.
    pub reactions: Reactions,
    /// Web API base without a trailing slash; methods go to
    /// `{api_url}/{method}`. Default [`DEFAULT_SLACK_API_URL`].
    pub api_url: String,
    /// Concurrent Socket Mode connections (Slack spreads events over them).
    pub connections: usize,
}

/// `[admin]`: the health/metrics HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    /// Address to bind; default [`DEFAULT_ADMIN_LISTEN`].
    pub listen: SocketAddr,
}

/// `[log]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Text or JSON lines.
    pub format: LogFormat,
    /// A tracing `EnvFilter` directive (already checked to parse).
    pub level: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines (the default).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    /// The name as written in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "unknown log format {other:?} (expected one of: text, json)"
            )),
        }
    }
}

/// `[supervisor]`: timings for every platform connection's supervisor loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SupervisorConfig {
    /// First reconnect delay; doubles per attempt.
    pub backoff_initial: Duration,
    /// Cap on the reconnect delay.
    pub backoff_max: Duration,
    /// Backoff resets once a connection stayed healthy this long.
    pub healthy_reset: Duration,
    /// Silence before an active probe heartbeat.
    pub probe_after: Duration,
    /// A probe must be ACKed within this.
    pub ack_deadline: Duration,
    /// Period of the INFO summary line.
    pub summary_interval: Duration,
    /// A new connection must reach READY/RESUMED within this.
    pub handshake_timeout: Duration,
}

impl Default for SupervisorConfig {
    fn default() -> Self {
        SupervisorConfig {
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(60),
            healthy_reset: Duration::from_secs(60),
            probe_after: Duration::from_secs(10),
            ack_deadline: Duration::from_secs(5),
            summary_interval: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(15),
        }
    }
}

impl Config {
    /// Reads and parses the file at `path`, expanding `${VAR}` from the
    /// process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| {
            if source.kind() == std::io::ErrorKind::NotFound {
                ConfigError::NotFound { file: file.clone() }
            } else {
                ConfigError::Read {
                    file: file.clone(),
                    source,
                }
            }
        })?;
        Config::from_toml_str(&text, &file, &|name| std::env::var(name).ok())
    }

    /// Parses config text. `source` names it in messages (a path, or
    /// [`EMBEDDED`]); `env` looks up `${VAR}` references.
    pub fn from_toml_str(
        text: &str,
        source: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut tree: toml::Table = toml::from_str(text).map_err(|err| {
            let offset = err.span().map_or(0, |span| span.start);
            ConfigError::syntax(source, text, offset, err.message())
        })?;
        let substitutions = expand::expand_tree(&mut tree, env)
            .map_err(|(key, err)| ConfigError::expansion(source, key, err))?;
        let secret = |section: &str, key: &str| {
            tree.get(section)
                .and_then(|table| table.get(key))
                .and_then(toml::Value::as_str)
        };
        // The agent's env values are secrets too (API keys).
        let agent_env = tree
            .get("agent")
            .and_then(|agent| agent.get("env"))
            .and_then(toml::Value::as_table)
            .into_iter()
            .flat_map(|env| env.values().filter_map(toml::Value::as_str));
        // The store's URL may hold a password: hide the URL and the password.
        let store_url = secret("store", "url");
        let store_password = store_url.and_then(validate_store::password_in);
        let tokens: Vec<Option<&str>> = [
            secret("discord", "token"),
            secret("slack", "bot_token"),
            secret("slack", "app_token"),
            store_url,
            store_password.as_deref(),
        ]
        .into_iter()
        .chain(agent_env.map(Some))
        .collect();
        let redactor = error::Redactor::new(&tokens, &substitutions);

        let raw: raw::RawConfig = serde_path_to_error::deserialize(toml::Value::Table(tree))
            .map_err(|err| {
                ConfigError::from_serde(source, &err.path().to_string(), err.inner().message())
                    .redact(&redactor)
            })?;
        validate::validate(raw, source).map_err(|err| err.redact(&redactor))
    }

    /// One line for `switchboard check`: what was configured.
    pub fn summary(&self) -> String {
        let describe = |name: &str, gating: &Gating| {
            if gating.allow_all_channels {
                format!("{name} (all channels)")
            } else {
                match gating.allowed_channels.len() {
                    1 => format!("{name} (1 allowed channel)"),
                    n => format!("{name} ({n} allowed channels)"),
                }
            }
        };
        let platforms: Vec<String> = [
            self.discord.as_ref().map(|d| {
                let name = match d.shards {
                    DiscordShards::Count(1) => "discord".to_owned(),
                    shards => format!("discord, shards {shards}"),
                };
                describe(&name, &d.gating)
            }),
            self.slack.as_ref().map(|s| describe("slack", &s.gating)),
        ]
        .into_iter()
        .flatten()
        .collect();
        let platforms = if platforms.is_empty() {
            "no chat platform configured".to_owned()
        } else {
            platforms.join(", ")
        };
        format!(
            "ok: {}: {platforms}, admin on {}",
            self.source, self.admin.listen
        )
    }
}

/// `switchboard check`: loads and validates `path` without connecting, and
/// returns the line to print on success.
pub fn check(path: &Path) -> Result<String, ConfigError> {
    Config::load(path).map(|config| config.summary())
}
