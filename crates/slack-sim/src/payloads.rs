//! The JSON shapes Slack sends: stored messages (Web API), events
//! (`message`, `app_mention`, `message_changed`), the `event_callback`
//! payload, Socket Mode envelopes, `hello` and `disconnect`.
//!
//! Pure builders: they never mutate state or decide who receives what.

use serde_json::{Map, Value, json};

use crate::config::SlackSimConfig;
use crate::protocol::{DisconnectReason, Ts};
use crate::world::{StoredMessage, World};

/// The host name the sim reports in `debug_info`.
const HOST: &str = "slack-sim";

/// `{"type":"hello",...}`, the first frame of every connection.
pub(crate) fn hello(config: &SlackSimConfig, num_connections: usize) -> String {
    json!({
        "type": "hello",
        "num_connections": num_connections,
        "debug_info": {
            "host": HOST,
            "build_number": 1,
            "approximate_connection_time": 18_060,
        },
        "connection_info": { "app_id": config.app_id },
    })
    .to_string()
}

/// `{"type":"disconnect","reason":...}`.
pub(crate) fn disconnect(reason: DisconnectReason) -> String {
    json!({
        "type": "disconnect",
        "reason": reason.as_str(),
        "debug_info": { "host": HOST },
    })
    .to_string()
}

/// The fields every message shape shares (history, events, responses).
fn message_core(config: &SlackSimConfig, m: &StoredMessage) -> Map<String, Value> {
    let mut o = Map::new();
    o.insert("type".into(), json!("message"));
    o.insert("user".into(), json!(m.sim.user));
    o.insert("text".into(), json!(m.sim.text));
    o.insert("ts".into(), json!(m.ts.to_string()));
    o.insert("team".into(), json!(config.team_id));
    if !m.sim.blocks.is_empty() {
        o.insert("blocks".into(), json!(m.sim.blocks));
    }
    if let Some(thread_ts) = m.thread_ts {
        o.insert("thread_ts".into(), json!(thread_ts.to_string()));
    }
    if let Some(id) = &m.client_msg_id {
        o.insert("client_msg_id".into(), json!(id));
    }
    if let Some(bot_id) = &m.sim.bot_id {
        o.insert("bot_id".into(), json!(bot_id));
        o.insert("app_id".into(), json!(config.app_id));
        o.insert(
            "bot_profile".into(),
            json!({
                "id": bot_id, "app_id": config.app_id, "name": config.bot_name,
                "deleted": false, "team_id": config.team_id,
            }),
        );
    }
    if let Some(edit_ts) = m.edited {
        o.insert(
            "edited".into(),
            json!({ "user": m.sim.user, "ts": edit_ts.to_string() }),
        );
    }
    o
}

/// A stored message as the Web API returns it (with thread summary and
/// reactions).
/// [`message`], with the message's `metadata` when `with_metadata` (Slack
/// returns it from history and replies only with `include_all_metadata`).
pub(crate) fn message_with_metadata(
    world: &World,
    config: &SlackSimConfig,
    m: &StoredMessage,
    with_metadata: bool,
) -> Value {
    let mut v = message(world, config, m);
    if with_metadata && let Some(metadata) = &m.metadata {
        v["metadata"] = metadata.clone();
    }
    v
}

pub(crate) fn message(world: &World, config: &SlackSimConfig, m: &StoredMessage) -> Value {
    let mut o = message_core(config, m);
    if m.thread_ts.is_none()
        && let Some(summary) = world.thread_summary(&m.sim.channel, m.ts)
    {
        o.insert("thread_ts".into(), json!(m.ts.to_string()));
        o.insert("reply_count".into(), json!(summary.reply_count));
        o.insert("reply_users_count".into(), json!(summary.reply_users.len()));
        o.insert("reply_users".into(), json!(summary.reply_users));
        o.insert(
            "latest_reply".into(),
            json!(summary.latest_reply.to_string()),
        );
    }
    if !m.sim.reactions.is_empty() {
        let reactions: Vec<Value> = m
            .sim
            .reactions
            .iter()
            .map(|name| json!({ "name": name, "users": [config.bot_user_id], "count": 1 }))
            .collect();
        o.insert("reactions".into(), json!(reactions));
    }
    Value::Object(o)
}

/// A `message` event for a new message (user or bot).
pub(crate) fn message_event(config: &SlackSimConfig, m: &StoredMessage) -> Value {
    let mut o = message_core(config, m);
    o.insert("channel".into(), json!(m.sim.channel));
    o.insert("event_ts".into(), json!(m.ts.to_string()));
    o.insert("channel_type".into(), json!("channel"));
    Value::Object(o)
}

/// An `app_mention` event for a user message that names the bot.
pub(crate) fn app_mention_event(config: &SlackSimConfig, m: &StoredMessage) -> Value {
    let mut o = message_core(config, m);
    o.insert("type".into(), json!("app_mention"));
    o.insert("channel".into(), json!(m.sim.channel));
    o.insert("event_ts".into(), json!(m.ts.to_string()));
    Value::Object(o)
}

/// A `message` event with subtype `message_changed` for an edit.
pub(crate) fn message_changed_event(
    config: &SlackSimConfig,
    before: &StoredMessage,
    after: &StoredMessage,
    event_ts: Ts,
) -> Value {
    json!({
        "type": "message",
        "subtype": "message_changed",
        "hidden": true,
        "channel": after.sim.channel,
        "ts": event_ts.to_string(),
        "event_ts": event_ts.to_string(),
        "channel_type": "channel",
        "message": Value::Object(message_core(config, after)),
        "previous_message": Value::Object(message_core(config, before)),
    })
}

/// A `message` event with subtype `message_deleted` for a removal.
pub(crate) fn message_deleted_event(
    config: &SlackSimConfig,
    deleted: &StoredMessage,
    event_ts: Ts,
) -> Value {
    json!({
        "type": "message",
        "subtype": "message_deleted",
        "hidden": true,
        "channel": deleted.sim.channel,
        "ts": event_ts.to_string(),
        "event_ts": event_ts.to_string(),
        "deleted_ts": deleted.ts.to_string(),
        "channel_type": "channel",
        "previous_message": Value::Object(message_core(config, deleted)),
    })
}

/// The `event_callback` payload around one event.
pub(crate) fn event_callback(
    config: &SlackSimConfig,
    event: Value,
    event_id: &str,
    event_time: u64,
) -> Value {
    json!({
        "token": "sim-verification-token",
        "team_id": config.team_id,
        "context_team_id": config.team_id,
        "api_app_id": config.app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": event_time,
        "authorizations": [{
            "enterprise_id": null,
            "team_id": config.team_id,
            "user_id": config.bot_user_id,
            "is_bot": true,
            "is_enterprise_install": false,
        }],
        "is_ext_shared_channel": false,
    })
}

/// An `events_api` envelope frame.
pub(crate) fn envelope(
    envelope_id: &str,
    payload: &Value,
    retry_attempt: u32,
    retry_reason: &str,
) -> String {
    json!({
        "envelope_id": envelope_id,
        "payload": payload,
        "type": "events_api",
        "accepts_response_payload": false,
        "retry_attempt": retry_attempt,
        "retry_reason": retry_reason,
    })
    .to_string()
}

/// An `interactive` or `slash_commands` envelope frame: the ack may carry
/// a response payload, and there are no retry fields (Slack does not
/// redeliver these).
pub(crate) fn interaction_envelope(
    envelope_type: &str,
    envelope_id: &str,
    payload: &Value,
) -> String {
    json!({
        "envelope_id": envelope_id,
        "payload": payload,
        "type": envelope_type,
        "accepts_response_payload": true,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bot_message_event_has_bot_fields_and_no_subtype() {
        let config = SlackSimConfig::default();
        let mut w = World::new(&config);
        let m = w.post("C0GENERAL", "U0BOT", Some("B0BOT"), "hi", None, None);
        let e = message_event(&config, &m);
        assert_eq!(e["bot_id"], "B0BOT");
        assert_eq!(e["user"], "U0BOT");
        assert_eq!(e["event_ts"], e["ts"]);
        assert!(e.get("subtype").is_none());
        let cb = event_callback(&config, e, "Ev1", 5);
        let env: Value = serde_json::from_str(&envelope("id", &cb, 0, "")).unwrap();
        assert_eq!(env["payload"]["event"]["channel"], "C0GENERAL");
        assert_eq!(env["accepts_response_payload"], false);
    }

    #[tokio::test]
    async fn parents_carry_thread_summaries() {
        let config = SlackSimConfig::default();
        let mut w = World::new(&config);
        let root = w.post("C0GENERAL", "U1", None, "q", None, Some("c1".into()));
        w.post(
            "C0GENERAL",
            "U0BOT",
            Some("B0BOT"),
            "a",
            Some(root.ts),
            None,
        );
        let v = message(&w, &config, &root);
        assert_eq!(v["reply_count"], 1);
        assert_eq!(v["thread_ts"], root.ts.to_string());
        assert_eq!(v["reply_users"], json!(["U0BOT"]));
        assert_eq!(v["client_msg_id"], "c1");
    }
}
