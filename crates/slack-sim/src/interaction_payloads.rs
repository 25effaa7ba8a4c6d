//! The JSON shapes of interactions as Slack sends them over Socket Mode:
//! the `block_actions` payload of a button click and the slash command
//! payload (form fields as strings), plus the ids they carry
//! (`trigger_id`, `action_ts`).
//!
//! Pure builders: they never mutate state or decide who receives what.

use serde_json::{Value, json};

use crate::config::SlackSimConfig;
use crate::payloads;
use crate::world::{StoredMessage, World};

/// Who acted, as the payloads name them.
pub(crate) struct Actor<'a> {
    pub id: &'a str,
    pub name: &'a str,
}

/// A `trigger_id`: "<secs>.<n>.<32 hex>" (Slack's shape; valid 3 s there,
/// unused by the sim).
pub(crate) fn trigger_id(now_secs: u64, n: u64) -> String {
    format!("{now_secs}.{n}.{}", crate::clock::ticket())
}

/// An `action_ts`: the wall clock with microseconds.
pub(crate) fn action_ts() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", now.as_secs(), now.subsec_micros())
}

/// What a click needs beyond the message.
pub(crate) struct Click<'a> {
    pub actor: Actor<'a>,
    pub channel_name: &'a str,
    pub block_id: &'a str,
    pub button: &'a Value,
    pub response_url: &'a str,
    pub trigger_id: &'a str,
}

/// The `block_actions` payload of a button click on a channel message.
pub(crate) fn block_actions(
    config: &SlackSimConfig,
    world: &World,
    m: &StoredMessage,
    click: &Click<'_>,
) -> Value {
    let mut container = json!({
        "type": "message",
        "message_ts": m.ts.to_string(),
        "channel_id": m.sim.channel,
        "is_ephemeral": false,
    });
    if let Some(thread_ts) = m.thread_ts {
        container["thread_ts"] = json!(thread_ts.to_string());
    }
    let b = click.button;
    let mut action = json!({
        "action_id": b["action_id"],
        "block_id": click.block_id,
        "text": b["text"],
        "type": "button",
        "action_ts": action_ts(),
    });
    for key in ["value", "style", "url"] {
        if let Some(v) = b.get(key) {
            action[key] = v.clone();
        }
    }
    json!({
        "type": "block_actions",
        "user": {
            "id": click.actor.id, "username": click.actor.name,
            "name": click.actor.name, "team_id": config.team_id,
        },
        "api_app_id": config.app_id,
        "token": "sim-verification-token",
        "container": container,
        "trigger_id": click.trigger_id,
        "team": { "id": config.team_id, "domain": config.team_name },
        "enterprise": null,
        "is_enterprise_install": false,
        "channel": { "id": m.sim.channel, "name": click.channel_name },
        "message": payloads::message(world, config, m),
        "state": { "values": {} },
        "response_url": click.response_url,
        "actions": [action],
    })
}

/// What a slash command needs.
pub(crate) struct Command<'a> {
    pub actor: Actor<'a>,
    pub channel: &'a str,
    pub channel_name: &'a str,
    pub command: &'a str,
    pub text: &'a str,
    pub response_url: &'a str,
    pub trigger_id: &'a str,
}

/// The slash command payload (its fields are strings, as in the form
/// Slack posts over HTTP).
pub(crate) fn slash_command(config: &SlackSimConfig, c: &Command<'_>) -> Value {
    json!({
        "token": "sim-verification-token",
        "team_id": config.team_id,
        "team_domain": config.team_name,
        "channel_id": c.channel,
        "channel_name": c.channel_name,
        "user_id": c.actor.id,
        "user_name": c.actor.name,
        "command": c.command,
        "text": c.text,
        "api_app_id": config.app_id,
        "is_enterprise_install": "false",
        "response_url": c.response_url,
        "trigger_id": c.trigger_id,
    })
}
