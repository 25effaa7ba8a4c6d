//! Every rule about config values, in one place: turns the file's raw shape
//! ([`RawConfig`]) into the typed [`Config`], applying defaults, parsing ids,
//! addresses, URLs and durations, and checking ranges and cross-key rules.
//!
//! Each error names its key path. It never prints the token (the caller's
//! [`Redactor`](super::error::Redactor) also scrubs every message).

use std::net::SocketAddr;
use std::time::Duration;

use super::duration::{format_duration, parse_duration};
use super::endpoint::{http_base_url, websocket_url};
use super::raw::{RawAdmin, RawConfig, RawDiscord, RawId, RawLog, RawSupervisor};
use super::{
    AdminConfig, Config, ConfigError, DiscordConfig, LogConfig, LogFormat, Secret, SupervisorConfig,
};

/// Where REST goes when `discord.api_url` is not set.
pub const DEFAULT_DISCORD_API_URL: &str = "https://discord.com";
/// Where the admin HTTP server listens when `admin.listen` is not set.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9464";
/// The log filter when `log.level` is not set.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// Raw file -> typed config, or the first rule it breaks.
pub(super) fn validate(raw: RawConfig, file: &str) -> Result<Config, ConfigError> {
    Ok(Config {
        discord: raw.discord.map(|d| discord(d, file)).transpose()?,
        admin: admin(raw.admin, file)?,
        log: log(raw.log, file)?,
        supervisor: supervisor(raw.supervisor, file)?,
        source: file.to_owned(),
    })
}

fn discord(raw: RawDiscord, file: &str) -> Result<DiscordConfig, ConfigError> {
    let err = |key: &str, reason: String| ConfigError::invalid(file, key, reason);
    let token = raw.token.trim();
    if token.is_empty() {
        return Err(err(
            "discord.token",
            "is empty; put the bot token here (Discord developer portal > your application > \
             Bot > Reset Token), usually as \"${DISCORD_BOT_TOKEN}\""
                .to_owned(),
        ));
    }
    if token.chars().any(char::is_whitespace) {
        return Err(err(
            "discord.token",
            "contains whitespace; a bot token is one word (do not include a \"Bot \" prefix)"
                .to_owned(),
        ));
    }

    let mut allowed_channels = Vec::with_capacity(raw.allowed_channels.len());
    for (index, id) in raw.allowed_channels.iter().enumerate() {
        let key = format!("discord.allowed_channels[{index}]");
        allowed_channels.push(snowflake(id).map_err(|reason| err(&key, reason))?);
    }
    match (allowed_channels.len(), raw.allow_all_channels) {
        (0, false) => {
            return Err(err(
                "discord.allowed_channels",
                "empty list would allow no channel; list channel ids, or set \
                 allow_all_channels = true to answer in every channel"
                    .to_owned(),
            ));
        }
        (n, true) if n > 0 => {
            return Err(err(
                "discord.allow_all_channels",
                format!(
                    "is true, but allowed_channels lists {n} channel(s); remove the list to \
                     answer in every channel, or set allow_all_channels = false"
                ),
            ));
        }
        _ => {}
    }

    let api_url = match raw.api_url {
        None => DEFAULT_DISCORD_API_URL.to_owned(),
        Some(url) => http_base_url(&url).map_err(|reason| err("discord.api_url", reason))?,
    };
    let gateway_url = raw
        .gateway_url
        .map(|url| websocket_url(&url).map_err(|reason| err("discord.gateway_url", reason)))
        .transpose()?;

    Ok(DiscordConfig {
        token: Secret::new(token.to_owned()),
        allowed_channels,
        allow_all_channels: raw.allow_all_channels,
        api_url,
        gateway_url,
    })
}

/// A Discord id: a positive integer (given as digits or as a TOML integer).
fn snowflake(id: &RawId) -> Result<u64, String> {
    const HOW: &str = "an id is a number like \"123456789012345678\" (in Discord: enable \
                       Developer Mode, right-click the channel, Copy Channel ID)";
    let parsed = match id {
        RawId::Integer(n) => u64::try_from(*n).ok(),
        RawId::Text(text) if text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        RawId::Text(_) => None,
    };
    match parsed {
        Some(n) if n > 0 => Ok(n),
        _ => Err(match id {
            RawId::Integer(n) => format!("invalid id {n}; {HOW}"),
            RawId::Text(text) => format!("invalid id {text:?}; {HOW}"),
        }),
    }
}

fn admin(raw: RawAdmin, file: &str) -> Result<AdminConfig, ConfigError> {
    let text = raw.listen.as_deref().unwrap_or(DEFAULT_ADMIN_LISTEN);
    let listen: SocketAddr = text.trim().parse().map_err(|err| {
        ConfigError::invalid(
            file,
            "admin.listen",
            format!(
                "invalid socket address {text:?}: {err}; write IP:PORT, e.g. \"127.0.0.1:9464\" \
                 or \"[::1]:9464\" (host names are not resolved)"
            ),
        )
    })?;
    Ok(AdminConfig { listen })
}

fn log(raw: RawLog, file: &str) -> Result<LogConfig, ConfigError> {
    let format = match raw.format.as_deref() {
        None => LogFormat::Text,
        Some(text) => text
            .parse()
            .map_err(|reason| ConfigError::invalid(file, "log.format", reason))?,
    };
    let level = raw.level.unwrap_or_else(|| DEFAULT_LOG_LEVEL.to_owned());
    let bad_level = |why: String| {
        ConfigError::invalid(
            file,
            "log.level",
            format!(
                "invalid filter {level:?}: {why}; use a level (error, warn, info, debug, trace) \
                 or directives such as \"info,switchboard=debug\""
            ),
        )
    };
    if level.trim().is_empty() {
        return Err(bad_level("it is empty".to_owned()));
    }
    if let Err(err) = tracing_subscriber::EnvFilter::try_new(&level) {
        return Err(bad_level(err.to_string()));
    }
    Ok(LogConfig { format, level })
}

fn supervisor(raw: RawSupervisor, file: &str) -> Result<SupervisorConfig, ConfigError> {
    let defaults = SupervisorConfig::default();
    let duration = |key: &str, text: Option<String>, default: Duration| {
        let full = format!("supervisor.{key}");
        let Some(text) = text else {
            return Ok(default);
        };
        match parse_duration(&text) {
            Ok(d) if d.is_zero() => Err(ConfigError::invalid(
                file,
                &full,
                format!("is {text:?}, but must be longer than zero"),
            )),
            Ok(d) => Ok(d),
            Err(reason) => Err(ConfigError::invalid(file, &full, reason)),
        }
    };
    let config = SupervisorConfig {
        backoff_initial: duration(
            "backoff_initial",
            raw.backoff_initial,
            defaults.backoff_initial,
        )?,
        backoff_max: duration("backoff_max", raw.backoff_max, defaults.backoff_max)?,
        healthy_reset: duration("healthy_reset", raw.healthy_reset, defaults.healthy_reset)?,
        probe_after: duration("probe_after", raw.probe_after, defaults.probe_after)?,
        ack_deadline: duration("ack_deadline", raw.ack_deadline, defaults.ack_deadline)?,
        summary_interval: duration(
            "summary_interval",
            raw.summary_interval,
            defaults.summary_interval,
        )?,
        handshake_timeout: duration(
            "handshake_timeout",
            raw.handshake_timeout,
            defaults.handshake_timeout,
        )?,
    };
    if config.backoff_initial > config.backoff_max {
        return Err(ConfigError::invalid(
            file,
            "supervisor.backoff_initial",
            format!(
                "is {}, longer than backoff_max ({}); the first retry delay must not exceed the cap",
                format_duration(config.backoff_initial),
                format_duration(config.backoff_max)
            ),
        ));
    }
    Ok(config)
}
