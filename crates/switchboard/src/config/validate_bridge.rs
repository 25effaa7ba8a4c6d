//! The value rules of the bridge settings: gating lists, `[broker]` and
//! `[agent]`. Part of `validate` (one rule, one place), split out by topic.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::bridge::{
    AgentConfig, BotMessages, BrokerConfig, DEFAULT_MAX_MESSAGE_SIZE, Gating, MAX_MAX_MESSAGE_SIZE,
    MIN_MAX_MESSAGE_SIZE, Reactions,
};
use super::duration::parse_duration;
use super::raw::{RawAgent, RawApprovers, RawBroker, RawId, RawReactions, RawSize};
use super::size::{ByteSize, parse_size};
use super::{ConfigError, Secret};

/// Permission policies the agent module understands.
const POLICIES: [&str; 4] = ["ask", "allow", "deny", "allow_reads"];
/// Reply tool display modes.
const TOOL_DISPLAYS: [&str; 3] = ["full", "compact", "none"];

/// A positive duration at `key`, or `default` when absent.
pub(super) fn duration(
    file: &str,
    key: &str,
    text: Option<&str>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let Some(text) = text else {
        return Ok(default);
    };
    match parse_duration(text) {
        Ok(d) if d.is_zero() => Err(ConfigError::invalid(
            file,
            key,
            format!("is {text:?}, but must be longer than zero"),
        )),
        Ok(d) => Ok(d),
        Err(reason) => Err(ConfigError::invalid(file, key, reason)),
    }
}

/// A platform section's gating keys as written, borrowed from its raw
/// struct, so one set of rules serves every platform.
pub(super) struct GatingKeys<'a> {
    /// The section name: "discord", "slack".
    pub section: &'static str,
    pub allowed_channels: &'a [RawId],
    pub allow_all_channels: bool,
    pub allowed_users: &'a [RawId],
    pub allow_all_users: bool,
    pub mention_roles: &'a [RawId],
    pub allow_bot_messages: Option<&'a str>,
    pub trusted_bot_ids: &'a [RawId],
    pub approvers: &'a RawApprovers,
    /// The platform's word for a group of approvers: "roles" (Discord) or
    /// "groups" (Slack user groups).
    pub approver_group_key: &'static str,
    /// Checks one id and gives its canonical text.
    pub id: fn(&RawId) -> Result<String, String>,
}

impl GatingKeys<'_> {
    fn key(&self, name: &str) -> String {
        format!("{}.{name}", self.section)
    }

    /// A list of ids at `name`, each checked by `self.id`.
    fn ids(&self, file: &str, name: &str, raw: &[RawId]) -> Result<Vec<String>, ConfigError> {
        let key = self.key(name);
        raw.iter()
            .enumerate()
            .map(|(index, value)| {
                (self.id)(value).map_err(|reason| {
                    ConfigError::invalid(file, &format!("{key}[{index}]"), reason)
                })
            })
            .collect()
    }
}

/// An allowlist and its "allow everything" switch: exactly one of the two.
fn allowlist(
    file: &str,
    key: &str,
    all_key: &str,
    list: &[String],
    all: bool,
    what: &str,
) -> Result<(), ConfigError> {
    match (list.len(), all) {
        (0, false) => Err(ConfigError::invalid(
            file,
            key,
            format!(
                "empty list would allow no {what}; list {what} ids, or set {all_key} = true to allow every {what}"
            ),
        )),
        (n, true) if n > 0 => Err(ConfigError::invalid(
            file,
            all_key,
            format!(
                "is true, but {key} lists {n} {what}(s); remove the list to allow every {what}, or set {all_key} = false"
            ),
        )),
        _ => Ok(()),
    }
}

/// A platform's channel allowlist (checked before its URLs).
pub(super) fn channels(keys: &GatingKeys<'_>, file: &str) -> Result<Vec<String>, ConfigError> {
    let allowed_channels = keys.ids(file, "allowed_channels", keys.allowed_channels)?;
    allowlist(
        file,
        &keys.key("allowed_channels"),
        &keys.key("allow_all_channels"),
        &allowed_channels,
        keys.allow_all_channels,
        "channel",
    )?;
    Ok(allowed_channels)
}

/// A platform's other gating keys, completing [`Gating`].
pub(super) fn gating(
    keys: &GatingKeys<'_>,
    file: &str,
    allowed_channels: Vec<String>,
) -> Result<Gating, ConfigError> {
    let allowed_users = keys.ids(file, "allowed_users", keys.allowed_users)?;
    allowlist(
        file,
        &keys.key("allowed_users"),
        &keys.key("allow_all_users"),
        &allowed_users,
        keys.allow_all_users,
        "user",
    )?;
    let allow_bot_messages = match keys.allow_bot_messages {
        None => BotMessages::None,
        Some(text) => text.parse().map_err(|reason: String| {
            ConfigError::invalid(file, &keys.key("allow_bot_messages"), reason)
        })?,
    };
    let trusted_bot_ids = keys.ids(file, "trusted_bot_ids", keys.trusted_bot_ids)?;
    if allow_bot_messages != BotMessages::None && trusted_bot_ids.is_empty() {
        let setting = keys.allow_bot_messages.unwrap_or_default();
        return Err(ConfigError::invalid(
            file,
            &keys.key("trusted_bot_ids"),
            format!(
                "is empty, but {} = {setting:?} hears bots only from this list (a bot never \
                 passes through allowed_users or allow_all_users); list the bot user ids to \
                 hear, or set {} = \"none\"",
                keys.key("allow_bot_messages"),
                keys.key("allow_bot_messages"),
            ),
        ));
    }
    let (approver_users, approver_groups) = approvers(keys, file)?;
    Ok(Gating {
        approver_users,
        approver_groups,
        allowed_channels,
        allow_all_channels: keys.allow_all_channels,
        allowed_users,
        allow_all_users: keys.allow_all_users,
        mention_roles: keys.ids(file, "mention_roles", keys.mention_roles)?,
        allow_bot_messages,
        trusted_bot_ids,
    })
}

/// `[<section>.reactions]`; `defaults` are the platform's own.
pub(super) fn reactions(
    raw: &RawReactions,
    file: &str,
    section: &str,
    defaults: Reactions,
    example: &str,
) -> Result<Reactions, ConfigError> {
    let pick = |key: &str, value: &Option<String>, default: String| match value
        .as_deref()
        .map(str::trim)
    {
        None => Ok(default),
        Some("") => Err(ConfigError::invalid(
            file,
            &format!("{section}.reactions.{key}"),
            format!("is empty; give an emoji such as {example}"),
        )),
        Some(text) => Ok(text.to_owned()),
    };
    Ok(Reactions {
        queued: pick("queued", &raw.queued, defaults.queued)?,
        thinking: pick("thinking", &raw.thinking, defaults.thinking)?,
        tool: pick("tool", &raw.tool, defaults.tool)?,
        done: pick("done", &raw.done, defaults.done)?,
        error: pick("error", &raw.error, defaults.error)?,
        denied: pick("denied", &raw.denied, defaults.denied)?,
    })
}

pub(super) fn broker(raw: RawBroker, file: &str) -> Result<BrokerConfig, ConfigError> {
    let defaults = BrokerConfig::default();
    let max_bot_turns = match raw.max_bot_turns {
        None => defaults.max_bot_turns,
        Some(n) => u32::try_from(n).map_err(|_| {
            ConfigError::invalid(
                file,
                "broker.max_bot_turns",
                format!("is {n}; use 0 (never answer bots twice in a row) or more"),
            )
        })?,
    };
    let max_queued = match raw.max_queued {
        None => defaults.max_queued,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=super::bridge::MAX_MAX_QUEUED).contains(n))
            .ok_or_else(|| {
                ConfigError::invalid(
                    file,
                    "broker.max_queued",
                    format!(
                        "is {n}; use 1 to {} (messages that may wait in one thread while its agent works)",
                        super::bridge::MAX_MAX_QUEUED
                    ),
                )
            })?,
    };
    let catch_up_max_pages = match raw.catch_up_max_pages {
        None => defaults.catch_up_max_pages,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=super::bridge::MAX_CATCH_UP_MAX_PAGES).contains(n))
            .ok_or_else(|| {
                ConfigError::invalid(
                    file,
                    "broker.catch_up_max_pages",
                    format!(
                        "is {n}; use 1 to {} (pages of history read per channel after downtime)",
                        super::bridge::MAX_CATCH_UP_MAX_PAGES
                    ),
                )
            })?,
    };
    let tool_display = one_of(
        file,
        "broker.tool_display",
        raw.tool_display,
        &defaults.tool_display,
        &TOOL_DISPLAYS,
    )?;
    Ok(BrokerConfig {
        max_bot_turns,
        max_queued,
        edit_interval: duration(
            file,
            "broker.edit_interval",
            raw.edit_interval.as_deref(),
            defaults.edit_interval,
        )?,
        tool_display,
        shutdown_grace: duration(
            file,
            "broker.shutdown_grace",
            raw.shutdown_grace.as_deref(),
            defaults.shutdown_grace,
        )?,
        catch_up_window: duration(
            file,
            "broker.catch_up_window",
            raw.catch_up_window.as_deref(),
            defaults.catch_up_window,
        )?,
        catch_up_max_pages,
        catch_up_max_time: duration(
            file,
            "broker.catch_up_max_time",
            raw.catch_up_max_time.as_deref(),
            defaults.catch_up_max_time,
        )?,
    })
}

fn one_of(
    file: &str,
    key: &str,
    value: Option<String>,
    default: &str,
    allowed: &[&str],
) -> Result<String, ConfigError> {
    let value = value.unwrap_or_else(|| default.to_owned());
    if allowed.contains(&value.as_str()) {
        Ok(value)
    } else {
        Err(ConfigError::invalid(
            file,
            key,
            format!(
                "unknown value {value:?} (expected one of: {})",
                allowed.join(", ")
            ),
        ))
    }
}

/// `[agent]`; a relative `cwd`, and a relative `command` path (one with a
/// slash), are resolved against `base` (the config file's directory).
pub(super) fn agent(raw: RawAgent, file: &str, base: &Path) -> Result<AgentConfig, ConfigError> {
    let err = |key: &str, reason: String| ConfigError::invalid(file, key, reason);
    let command = raw.command.trim().to_owned();
    if command.is_empty() {
        return Err(err("agent.command", "is empty; name the ACP agent to run, e.g. \"npx\" with args [\"@agentclientprotocol/claude-agent-acp\"]".into()));
    }
    // A command with a slash is a path: a relative one is resolved against
    // the config file's folder, like every other path in the file. A bare
    // name is looked up on the agent's PATH when it is started.
    let command = if command.contains('/') && !Path::new(&command).is_absolute() {
        let relative: PathBuf = Path::new(&command)
            .components()
            .filter(|part| !matches!(part, std::path::Component::CurDir))
            .collect();
        base.join(relative).to_string_lossy().into_owned()
    } else {
        command
    };
    let cwd = match raw.cwd.as_deref().map(str::trim) {
        None | Some("") => base.to_path_buf(),
        Some(dir) if Path::new(dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => base.join(dir),
    };
    for name in raw.env.keys() {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(err(
                &format!("agent.env.{name}"),
                "is not a valid environment variable name".into(),
            ));
        }
    }
    let mut mcp_servers = Vec::with_capacity(raw.mcp_servers.len());
    for (index, server) in raw.mcp_servers.into_iter().enumerate() {
        let key = format!("agent.mcp_servers[{index}]");
        let json = serde_json::to_value(&server).map_err(|e| err(&key, e.to_string()))?;
        if !json.get("name").is_some_and(serde_json::Value::is_string) {
            return Err(err(&key, "needs a \"name\" (and \"command\"/\"args\"/\"env\" for a stdio server, or \"type\" and \"url\" for http/sse)".into()));
        }
        mcp_servers.push(json);
    }
    let permission_policy = one_of(
        file,
        "agent.permission_policy",
        raw.permission_policy,
        "ask",
        &POLICIES,
    )?;
    let max_sessions = match raw.max_sessions {
        None => 10,
        Some(n) if (1..=10_000).contains(&n) => n as usize,
        Some(n) => return Err(err("agent.max_sessions", format!("is {n}; use 1 or more"))),
    };
    let max_message_size = message_size(file, raw.max_message_size.as_ref())?;
    Ok(AgentConfig {
        command,
        args: raw.args,
        cwd,
        env: raw
            .env
            .into_iter()
            .map(|(name, value)| (name, Secret::new(value)))
            .collect(),
        max_message_size,
        mcp_servers,
        permission_policy,
        permission_timeout: duration(
            file,
            "agent.permission_timeout",
            raw.permission_timeout.as_deref(),
            Duration::from_secs(600),
        )?,
        turn_idle_timeout: duration(
            file,
            "agent.turn_idle_timeout",
            raw.turn_idle_timeout.as_deref(),
            Duration::from_secs(600),
        )?,
        cancel_grace: duration(
            file,
            "agent.cancel_grace",
            raw.cancel_grace.as_deref(),
            Duration::from_secs(5),
        )?,
        max_sessions,
        idle_ttl: duration(
            file,
            "agent.idle_ttl",
            raw.idle_ttl.as_deref(),
            Duration::from_secs(4 * 3600),
        )?,
    })
}

/// `agent.max_message_size`, within [`MIN_MAX_MESSAGE_SIZE`] and
/// [`MAX_MAX_MESSAGE_SIZE`].
fn message_size(file: &str, raw: Option<&RawSize>) -> Result<ByteSize, ConfigError> {
    const KEY: &str = "agent.max_message_size";
    let size = match raw {
        None => return Ok(DEFAULT_MAX_MESSAGE_SIZE),
        Some(RawSize::Integer(n)) => u64::try_from(*n).map(ByteSize).map_err(|_| {
            ConfigError::invalid(file, KEY, format!("is {n}; a size cannot be negative"))
        })?,
        Some(RawSize::Text(text)) => {
            parse_size(text).map_err(|reason| ConfigError::invalid(file, KEY, reason))?
        }
    };
    if !(MIN_MAX_MESSAGE_SIZE..=MAX_MAX_MESSAGE_SIZE).contains(&size) {
        return Err(ConfigError::invalid(
            file,
            KEY,
            format!(
                "is {size}; use between {MIN_MAX_MESSAGE_SIZE} (an agent's first answers are \
                 several KiB) and {MAX_MAX_MESSAGE_SIZE} (each agent may buffer this much); the \
                 default {DEFAULT_MAX_MESSAGE_SIZE} fits large diffs and images"
            ),
        ));
    }
    Ok(size)
}

/// `<section>.approvers`: user ids and the platform's groups (Discord
/// roles, Slack user groups); the other platform's word is refused, with
/// the key to use instead.
fn approvers(keys: &GatingKeys<'_>, file: &str) -> Result<(Vec<String>, Vec<String>), ConfigError> {
    let raw = keys.approvers;
    let (groups, wrong, wrong_name) = match keys.approver_group_key {
        "roles" => (&raw.roles, &raw.groups, "groups"),
        _ => (&raw.groups, &raw.roles, "roles"),
    };
    if !wrong.is_empty() {
        return Err(ConfigError::invalid(
            file,
            &keys.key(&format!("approvers.{wrong_name}")),
            format!(
                "is not a {} setting; list these ids in {}",
                keys.section,
                keys.key(&format!("approvers.{}", keys.approver_group_key))
            ),
        ));
    }
    let users = keys.ids(file, "approvers.users", &raw.users)?;
    let groups = keys.ids(
        file,
        &format!("approvers.{}", keys.approver_group_key),
        groups,
    )?;
    Ok((users, groups))
}
