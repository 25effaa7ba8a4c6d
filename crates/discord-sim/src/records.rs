//! What the simulator saw and did, kept for tests to assert on: identifies,
//! resumes, heartbeats, connections, READY/RESUMED sent, REST calls, and the
//! stored world (messages, threads).
//!
//! Plain data only; recording happens in the gateway and REST modules.
//! Timestamps are `tokio::time::Instant` so paused-time tests see them move.

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::SimUser;
use crate::shards::ShardPair;

/// One op 2 Identify received.
#[derive(Clone, Debug)]
pub struct IdentifyRecord {
    pub at: Instant,
    pub intents: u64,
    pub token_ok: bool,
    pub connection_id: u64,
    /// The shard it asked for (`[0, 1]` when it sent none); `None` when
    /// it was invalid (closed with 4010).
    pub shard: Option<ShardPair>,
}

/// One op 6 Resume received.
#[derive(Clone, Debug)]
pub struct ResumeRecord {
    pub at: Instant,
    pub session_id: String,
    pub seq: u64,
    pub connection_id: u64,
    /// The request path + query of the connection the resume came on.
    pub path: String,
    /// Whether the session was resumable (false: op 9 d=false was sent).
    pub accepted: bool,
}

/// One op 1 Heartbeat received from the client.
#[derive(Clone, Debug)]
pub struct HeartbeatRecord {
    pub at: Instant,
    pub seq: Option<u64>,
    pub connection_id: u64,
    /// Whether the sim answered it with op 11.
    pub acked: bool,
}

/// One gateway connection attempt (accepted or refused).
#[derive(Clone, Debug)]
pub struct ConnectionRecord {
    pub id: u64,
    pub opened_at: Instant,
    pub closed_at: Option<Instant>,
    /// The close code the client sent, if it closed with a frame.
    pub close_code_from_client: Option<u16>,
    /// The close code the sim sent, if it closed with a frame.
    pub close_code_from_sim: Option<u16>,
    /// True when the upgrade was refused (503) by `set_refuse_connections`.
    pub refused: bool,
    /// The request path + query.
    pub path: String,
}

/// Which session-start dispatch was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadyKind {
    Ready,
    Resumed,
}

/// One READY or RESUMED dispatch sent.
#[derive(Clone, Debug)]
pub struct ReadyRecord {
    pub at: Instant,
    pub kind: ReadyKind,
    pub session_id: String,
    pub connection_id: u64,
}

/// One REST request and the status it got.
#[derive(Clone, Debug)]
pub struct RestCall {
    pub at: Instant,
    pub method: String,
    /// The path without the query, e.g. "/api/v10/channels/1/messages".
    pub path: String,
    pub query: Option<String>,
    pub status: u16,
    /// The parsed JSON request body, if any.
    pub body: Option<Value>,
}

/// One dispatch a muted session did not get (no sequence number spent).
#[derive(Clone, Debug)]
pub struct MutedDispatch {
    pub at: Instant,
    pub session_id: String,
    /// The dispatch name (`t`), e.g. "MESSAGE_CREATE".
    pub event: String,
    /// The `d` the session would have got.
    pub data: Value,
}

/// A stored message (guild channel or thread), oldest edits first.
#[derive(Clone, Debug)]
pub struct SimMessage {
    pub id: u64,
    pub channel_id: u64,
    pub author: SimUser,
    /// The current content.
    pub content: String,
    /// The content after each edit, in order.
    pub edits: Vec<String>,
    pub created_at: Instant,
    pub edited_at: Vec<Instant>,
    /// The message this one replies to (message_reference.message_id).
    pub reply_to: Option<u64>,
    /// The message's action rows as Discord returns them (`[]` for none).
    pub components: Value,
}

/// A thread created through REST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimThread {
    /// Equal to the id of the message it was started from.
    pub id: u64,
    pub parent_id: u64,
    pub name: String,
    pub auto_archive_duration: u16,
}

/// One INTERACTION_CREATE the sim made (dispatched to every session, or
/// muted / delayed like any dispatch).
#[derive(Clone, Debug)]
pub struct InteractionRecord {
    pub id: u64,
    pub token: String,
    /// 2 APPLICATION_COMMAND or 3 MESSAGE_COMPONENT.
    pub kind: u8,
    pub channel_id: u64,
    pub user: SimUser,
    /// The message whose component was clicked.
    pub message_id: Option<u64>,
    pub custom_id: Option<String>,
    /// The command's name and the options sent with it.
    pub command: Option<String>,
    pub options: Value,
    pub dispatched_at: Instant,
}

/// One `POST /interactions/{id}/{token}/callback` (accepted or refused).
#[derive(Clone, Debug)]
pub struct CallbackRecord {
    pub interaction_id: u64,
    /// The callback `type` asked for (4, 5, 6, 7, ...; 0 when missing).
    pub kind: u8,
    /// 204 when accepted, else the error status.
    pub status: u16,
    /// Discord's JSON error code when refused (10062, 40060, 50035, ...).
    pub error_code: Option<u64>,
    pub at: Instant,
    /// From the dispatch to this callback.
    pub after: std::time::Duration,
    pub content: Option<String>,
    pub flags: u64,
    pub components: Option<Value>,
}

impl CallbackRecord {
    pub fn accepted(&self) -> bool {
        self.status == 204
    }

    pub fn ephemeral(&self) -> bool {
        self.flags & 64 != 0
    }
}

/// One call on an interaction's webhook: a follow-up (`POST`) or an
/// edit / read of the original answer (`PATCH` / `GET` on `@original`).
#[derive(Clone, Debug)]
pub struct WebhookCallRecord {
    pub interaction_id: Option<u64>,
    pub method: String,
    /// "followup", "@original", or the follow-up message id edited.
    pub target: String,
    pub status: u16,
    pub error_code: Option<u64>,
    pub at: Instant,
    /// From the interaction's dispatch, when the token was known.
    pub after: Option<std::time::Duration>,
    /// The message created or edited.
    pub message_id: Option<u64>,
    pub body: Option<Value>,
}

/// A message only its interaction's user sees (flags 64): never stored in
/// the channel and never dispatched to the bot.
#[derive(Clone, Debug)]
pub struct EphemeralMessage {
    pub id: u64,
    pub interaction_id: u64,
    pub channel_id: u64,
    pub visible_to: u64,
    pub content: String,
    pub components: Value,
    /// The content after each edit, in order.
    pub edits: Vec<String>,
    pub created_at: Instant,
}

/// All records, as JSON, for the control API (`GET /_sim/records`).
/// Instants are rendered as milliseconds since `origin`.
pub(crate) struct RecordsJson<'a> {
    pub origin: Instant,
    pub identifies: &'a [IdentifyRecord],
    pub resumes: &'a [ResumeRecord],
    pub heartbeats: &'a [HeartbeatRecord],
    pub connections: &'a [ConnectionRecord],
    pub ready_sent: &'a [ReadyRecord],
    pub rest_calls: &'a [RestCall],
    pub muted: &'a [MutedDispatch],
    pub interactions: &'a [InteractionRecord],
    pub callbacks: &'a [CallbackRecord],
    pub webhook_calls: &'a [WebhookCallRecord],
    pub ephemeral: &'a [EphemeralMessage],
    /// Registered commands by scope ("global" or the guild id).
    pub commands: Value,
}

impl RecordsJson<'_> {
    pub fn to_json(&self) -> Value {
        let ms = |at: Instant| at.saturating_duration_since(self.origin).as_millis() as u64;
        json!({
            "identifies": self.identifies.iter().map(|r| json!({
                "at_ms": ms(r.at), "intents": r.intents, "token_ok": r.token_ok,
                "connection_id": r.connection_id,
                "shard": r.shard.map(|p| [p.index, p.count]),
            })).collect::<Vec<_>>(),
            "resumes": self.resumes.iter().map(|r| json!({
                "at_ms": ms(r.at), "session_id": r.session_id, "seq": r.seq,
                "connection_id": r.connection_id, "path": r.path, "accepted": r.accepted,
            })).collect::<Vec<_>>(),
            "heartbeats": self.heartbeats.iter().map(|r| json!({
                "at_ms": ms(r.at), "seq": r.seq, "connection_id": r.connection_id,
                "acked": r.acked,
            })).collect::<Vec<_>>(),
            "connections": self.connections.iter().map(|r| json!({
                "id": r.id, "opened_at_ms": ms(r.opened_at),
                "closed_at_ms": r.closed_at.map(ms),
                "close_code_from_client": r.close_code_from_client,
                "close_code_from_sim": r.close_code_from_sim,
                "refused": r.refused, "path": r.path,
            })).collect::<Vec<_>>(),
            "ready_sent": self.ready_sent.iter().map(|r| json!({
                "at_ms": ms(r.at),
                "kind": match r.kind { ReadyKind::Ready => "READY", ReadyKind::Resumed => "RESUMED" },
                "session_id": r.session_id, "connection_id": r.connection_id,
            })).collect::<Vec<_>>(),
            "rest_calls": self.rest_calls.iter().map(|r| json!({
                "at_ms": ms(r.at), "method": r.method, "path": r.path, "query": r.query,
                "status": r.status, "body": r.body,
            })).collect::<Vec<_>>(),
            "muted_dispatches": self.muted.iter().map(|r| json!({
                "at_ms": ms(r.at), "session_id": r.session_id, "event": r.event,
                "id": r.data.get("id"), "channel_id": r.data.get("channel_id"),
            })).collect::<Vec<_>>(),
            "interactions": self.interactions.iter().map(|r| json!({
                "id": r.id.to_string(), "type": r.kind, "channel_id": r.channel_id.to_string(),
                "user_id": r.user.id.to_string(), "message_id": r.message_id.map(|m| m.to_string()),
                "custom_id": r.custom_id, "command": r.command, "options": r.options,
                "dispatched_at_ms": ms(r.dispatched_at),
            })).collect::<Vec<_>>(),
            "interaction_callbacks": self.callbacks.iter().map(|r| json!({
                "interaction_id": r.interaction_id.to_string(), "type": r.kind,
                "status": r.status, "error_code": r.error_code, "at_ms": ms(r.at),
                "after_ms": r.after.as_secs_f64() * 1000.0, "content": r.content,
                "flags": r.flags, "components": r.components,
            })).collect::<Vec<_>>(),
            "interaction_webhook_calls": self.webhook_calls.iter().map(|r| json!({
                "interaction_id": r.interaction_id.map(|i| i.to_string()), "method": r.method,
                "target": r.target, "status": r.status, "error_code": r.error_code,
                "at_ms": ms(r.at), "after_ms": r.after.map(|a| a.as_secs_f64() * 1000.0),
                "message_id": r.message_id.map(|m| m.to_string()),
            })).collect::<Vec<_>>(),
            "ephemeral_messages": self.ephemeral.iter().map(|r| json!({
                "id": r.id.to_string(), "interaction_id": r.interaction_id.to_string(),
                "channel_id": r.channel_id.to_string(), "visible_to": r.visible_to.to_string(),
                "content": r.content, "components": r.components, "edits": r.edits,
                "created_at_ms": ms(r.created_at),
            })).collect::<Vec<_>>(),
            "application_commands": self.commands,
        })
    }
}
