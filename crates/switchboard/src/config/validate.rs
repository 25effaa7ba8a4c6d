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
use super::validate_bridge::{self, GatingKeys};
use super::{
    AdminConfig, Config, ConfigError, DiscordConfig, LogConfig, LogFormat, Reactions, Secret,
    SupervisorConfig,
};

/// Where REST goes when `discord.api_url` is not set.
pub const DEFAULT_DISCORD_API_URL: &str = "https://discord.com";
/// Where the admin HTTP server listens when `admin.listen` is not set.
pub const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9464";
/// The log filter when `log.level` is not set.
pub const DEFAULT_LOG_LEVEL: &str = "info";

/// Raw file -> typed config, or the first rule it breaks.
pub(super) fn validate(raw: RawConfig, file: &str) -> Result<Config, ConfigError> {
    let admin = admin(raw.admin, file)?;
    let log = log(raw.log, file)?;
    let supervisor = supervisor(raw.supervisor, file)?;
    let discord = raw.discord.map(|d| discord(d, file)).transpose()?;
    let slack = raw
        .slack
        .map(|s| super::validate_slack::slack(s, file))
        .transpose()?;
    let base = config_dir(file);
    let agent = raw
        .agent
        .map(|a| super::validate_bridge::agent(a, file, &base))
        .transpose()?;
    if (discord.is_some() || slack.is_some()) && agent.is_none() {
        return Err(ConfigError::invalid(
            file,
            "agent",
            "missing section: a chat platform is configured but no agent to answer; add              [agent] with command = \"...\" (any ACP agent, e.g. the output of `switchboard demo`              uses `switchboard demo-agent`)",
        ));
    }
    let broker = super::validate_bridge::broker(raw.broker, file)?;
    let store = super::validate_store::store(raw.store, file, &base)?;
    let canary = super::canary::canary(raw.canary, file)?;
    let cluster = super::cluster::cluster(raw.cluster, store.postgres.is_some(), file)?;
    if let Some(agent) = &agent {
        super::isolation::store_outside_agent(&store, agent, file)?;
    }
    Ok(Config {
        discord,
        slack,
        admin,
        log,
        supervisor,
        broker,
        agent,
        store,
        canary,
        cluster,
        source: file.to_owned(),
    })
}

/// The directory relative paths in the file are resolved against: the
/// file's own directory, or the working directory for an embedded config.
fn config_dir(file: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(file)
        .parent()
        .filter(|p| !p.as_os_str().is_empty() && file != super::EMBEDDED)
        .unwrap_or(std::path::Path::new("."));
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
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

    let keys = GatingKeys {
        section: "discord",
        allowed_channels: &raw.allowed_channels,
        allow_all_channels: raw.allow_all_channels,
        allowed_users: &raw.allowed_users,
        allow_all_users: raw.allow_all_users,
        mention_roles: &raw.mention_roles,
        allow_bot_messages: raw.allow_bot_messages.as_deref(),
        trusted_bot_ids: &raw.trusted_bot_ids,
        approvers: &raw.approvers,
        approver_group_key: "roles",
        id: |id| snowflake(id).map(|n| n.to_string()),
    };
    let allowed_channels = validate_bridge::channels(&keys, file)?;
    let api_url = match raw.api_url.as_deref() {
        None => DEFAULT_DISCORD_API_URL.to_owned(),
        Some(url) => http_base_url(url).map_err(|reason| err("discord.api_url", reason))?,
    };
    let gateway_url = raw
        .gateway_url
        .as_deref()
        .map(|url| websocket_url(url).map_err(|reason| err("discord.gateway_url", reason)))
        .transpose()?;
    let gating = validate_bridge::gating(&keys, file, allowed_channels)?;
    let guild_ids = raw
        .guild_ids
        .iter()
        .enumerate()
        .map(|(index, id)| {
            snowflake(id).map_err(|reason| err(&format!("discord.guild_ids[{index}]"), reason))
        })
        .collect::<Result<Vec<u64>, _>>()?;
    let shards = super::shards::discord_shards(raw.shards.as_ref(), file)?;
    let reactions = validate_bridge::reactions(
        &raw.reactions,
        file,
        "discord",
        Reactions::default(),
        "\"✅\" or a custom one as \"name:id\"",
    )?;

    Ok(DiscordConfig {
        token: Secret::new(token.to_owned()),
        gating,
        reactions,
        api_url,
        gateway_url,
        guild_ids,
        shards,
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
