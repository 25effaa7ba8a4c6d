//! The value rules of `[slack]`: tokens of the right kind, Slack-shaped ids,
//! the Web API URL and the number of Socket Mode connections. Part of
//! `validate` (one rule, one place), split out by platform.

use super::endpoint::http_api_url;
use super::raw::{RawId, RawSlack};
use super::validate_bridge::{self, GatingKeys};
use super::{ConfigError, Reactions, Secret, SlackConfig};

/// Where the Web API goes when `slack.api_url` is not set.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api";
/// Socket Mode connections kept open when `slack.connections` is not set.
const DEFAULT_CONNECTIONS: usize = 2;
/// Slack allows at most 10 concurrent Socket Mode connections per app.
const MAX_CONNECTIONS: i64 = 10;

pub(super) fn slack(raw: RawSlack, file: &str) -> Result<SlackConfig, ConfigError> {
    let bot_token = token(
        file,
        "slack.bot_token",
        &raw.bot_token,
        "xoxb-",
        "the Bot User OAuth Token (api.slack.com/apps > your app > OAuth & Permissions), \
         usually as \"${SLACK_BOT_TOKEN}\"",
    )?;
    let app_token = token(
        file,
        "slack.app_token",
        &raw.app_token,
        "xapp-",
        "an app-level token with the connections:write scope (api.slack.com/apps > your app \
         > Basic Information > App-Level Tokens), usually as \"${SLACK_APP_TOKEN}\"",
    )?;
    let keys = GatingKeys {
        section: "slack",
        allowed_channels: &raw.allowed_channels,
        allow_all_channels: raw.allow_all_channels,
        allowed_users: &raw.allowed_users,
        allow_all_users: raw.allow_all_users,
        mention_roles: &raw.mention_roles,
        allow_bot_messages: raw.allow_bot_messages.as_deref(),
        trusted_bot_ids: &raw.trusted_bot_ids,
        approvers: &raw.approvers,
        approver_group_key: "groups",
        id: slack_id,
    };
    let allowed_channels = validate_bridge::channels(&keys, file)?;
    let api_url = match raw.api_url.as_deref() {
        None => DEFAULT_SLACK_API_URL.to_owned(),
        Some(url) => http_api_url(url)
            .map_err(|reason| ConfigError::invalid(file, "slack.api_url", reason))?,
    };
    let connections = match raw.connections {
        None => DEFAULT_CONNECTIONS,
        Some(n) if (1..=MAX_CONNECTIONS).contains(&n) => n as usize,
        Some(n) => {
            return Err(ConfigError::invalid(
                file,
                "slack.connections",
                format!(
                    "is {n}; use 1 to {MAX_CONNECTIONS} (Slack allows up to {MAX_CONNECTIONS} \
                     Socket Mode connections per app; 2 is usual)"
                ),
            ));
        }
    };
    let gating = validate_bridge::gating(&keys, file, allowed_channels)?;
    let reactions = validate_bridge::reactions(
        &raw.reactions,
        file,
        "slack",
        Reactions::slack_default(),
        "\"white_check_mark\" (a Slack emoji name, without colons)",
    )?;
    Ok(SlackConfig {
        bot_token,
        app_token,
        gating,
        reactions,
        api_url,
        connections,
    })
}

/// A token at `key`: one word with the expected prefix. Errors never echo
/// the value.
fn token(
    file: &str,
    key: &str,
    value: &str,
    prefix: &str,
    what: &str,
) -> Result<Secret, ConfigError> {
    let value = value.trim();
    let err = |reason: String| ConfigError::invalid(file, key, reason);
    if value.is_empty() {
        return Err(err(format!("is empty; put {what} here")));
    }
    if value.chars().any(char::is_whitespace) {
        return Err(err(
            "contains whitespace; a Slack token is one word".to_owned()
        ));
    }
    if !value.starts_with(prefix) {
        let other = match prefix {
            "xoxb-" if value.starts_with("xapp-") => {
                " (this is an app-level token: it belongs in slack.app_token)"
            }
            "xapp-" if value.starts_with("xoxb-") => {
                " (this is a bot token: it belongs in slack.bot_token)"
            }
            _ => "",
        };
        return Err(err(format!(
            "does not start with \"{prefix}\"{other}; put {what} here"
        )));
    }
    Ok(Secret::new(value.to_owned()))
}

/// A Slack id: capital letters and digits, starting with a letter
/// (`C0123456789`, `U0123456789`).
fn slack_id(id: &RawId) -> Result<String, String> {
    const HOW: &str = "a Slack id looks like \"C0123456789\" (in Slack: open the channel's or \
                       person's details; the id is at the bottom of the About tab)";
    match id {
        RawId::Text(text)
            if text.len() >= 2
                && text.starts_with(|c: char| c.is_ascii_uppercase())
                && text
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) =>
        {
            Ok(text.clone())
        }
        RawId::Text(text) => Err(format!("invalid id {text:?}; {HOW}")),
        RawId::Integer(n) => Err(format!("invalid id {n}; {HOW}")),
    }
}
