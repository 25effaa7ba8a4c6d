//! What the simulator saw and did, kept for tests to assert on: identifies,
//! resumes, heartbeats, connections, READY/RESUMED sent, REST calls, and the
//! stored world (messages, threads).
//!
//! Plain data only; recording happens in the gateway and REST modules.
//! Timestamps are `tokio::time::Instant` so paused-time tests see them move.

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::SimUser;

/// One op 2 Identify received.
#[derive(Clone, Debug)]
pub struct IdentifyRecord {
    pub at: Instant,
    pub intents: u64,
    pub token_ok: bool,
    pub connection_id: u64,
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
}

impl RecordsJson<'_> {
    pub fn to_json(&self) -> Value {
        let ms = |at: Instant| at.saturating_duration_since(self.origin).as_millis() as u64;
        json!({
            "identifies": self.identifies.iter().map(|r| json!({
                "at_ms": ms(r.at), "intents": r.intents, "token_ok": r.token_ok,
                "connection_id": r.connection_id,
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
        })
    }
}
