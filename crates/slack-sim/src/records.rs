//! What the simulator saw and did, kept for tests to assert on: Socket Mode
//! connections, `apps.connections.open` calls, envelope deliveries and
//! acks, Web API calls, and the stored messages.
//!
//! Plain data only; recording happens in `socket`, `delivery` and `web`.
//! Timestamps are `tokio::time::Instant` so paused-time tests see them move.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::protocol::DisconnectReason;

/// One Socket Mode connection attempt (accepted or refused).
#[derive(Clone, Debug)]
pub struct ConnectionRecord {
    pub id: u64,
    pub opened_at: Instant,
    pub closed_at: Option<Instant>,
    /// The ticket from the URL (empty when there was none).
    pub ticket: String,
    /// The upgrade was refused (unknown or already used ticket): HTTP 401.
    pub refused: bool,
    /// The client ended it (close frame or EOF) before the sim did.
    pub closed_by_client: bool,
    /// The close code the client sent, if it closed with a frame.
    pub client_close_code: Option<u16>,
    /// Disconnect messages the sim sent on it, in order.
    pub disconnects_sent: Vec<DisconnectReason>,
    /// The sim aborted the TCP flow without a close frame.
    pub aborted: bool,
}

/// One `apps.connections.open` call.
#[derive(Clone, Debug)]
pub struct OpenRecord {
    pub at: Instant,
    pub ok: bool,
    pub error: Option<String>,
    pub ticket: Option<String>,
    pub url: Option<String>,
}

/// One envelope frame written (or, on a silent connection, swallowed).
#[derive(Clone, Debug)]
pub struct DeliveryRecord {
    pub envelope_id: String,
    /// `payload.event_id` for events_api envelopes.
    pub event_id: Option<String>,
    /// `payload.event.type`, e.g. "message" or "app_mention".
    pub event_type: Option<String>,
    pub connection_id: u64,
    pub retry_attempt: u32,
    pub retry_reason: String,
    /// When it goes out on the connection (after any `delay_events`).
    pub at: Instant,
    /// The connection was silent: nothing reached the socket.
    pub dropped: bool,
}

/// One event a muted connection did not get and no other connection took:
/// lost, as on a deaf link (no retry follows).
#[derive(Clone, Debug)]
pub struct MutedEvent {
    pub at: Instant,
    pub envelope_id: String,
    pub event_id: Option<String>,
    /// `payload.event.type`, e.g. "message" or "app_mention".
    pub event_type: Option<String>,
    /// The `event` object the app would have got.
    pub event: Value,
}

/// One `{"envelope_id": ...}` acknowledgement received.
#[derive(Clone, Debug)]
pub struct AckRecord {
    pub envelope_id: String,
    pub connection_id: u64,
    pub at: Instant,
    /// Time since the envelope's latest delivery; `None` when the envelope
    /// was not awaiting an ack (unknown, or acked before).
    pub latency: Option<Duration>,
    /// The optional `payload` of the ack.
    pub payload: Option<Value>,
}

/// One Web API call and its outcome.
#[derive(Clone, Debug)]
pub struct WebCall {
    pub at: Instant,
    /// The method name, e.g. "chat.postMessage".
    pub method: String,
    /// The merged query, form or JSON parameters.
    pub params: Value,
    pub status: u16,
    pub ok: bool,
    pub error: Option<String>,
}

/// A stored message, with its edit history and the bot's reactions.
#[derive(Clone, Debug)]
pub struct SlackMessage {
    pub channel: String,
    pub ts: String,
    /// The parent's ts for a thread reply; `None` for top-level messages,
    /// thread parents included (the Web API shows `thread_ts` on parents).
    pub thread_ts: Option<String>,
    /// The author's user id (the bot user for bot posts).
    pub user: String,
    /// Set on bot posts.
    pub bot_id: Option<String>,
    /// The current text.
    pub text: String,
    /// The current Block Kit blocks (empty when none), ids filled in.
    pub blocks: Vec<Value>,
    /// The text after each edit, in order.
    pub edits: Vec<String>,
    /// The bot's reactions (emoji names without colons).
    pub reactions: Vec<String>,
    pub created_at: Instant,
    pub edited_at: Vec<Instant>,
}

/// What a user did that reached the app as an interaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InteractionKind {
    /// A Block Kit button click (`interactive` envelope, `block_actions`).
    BlockActions,
    /// A slash command (`slash_commands` envelope).
    SlashCommand,
}

impl InteractionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionKind::BlockActions => "block_actions",
            InteractionKind::SlashCommand => "slash_commands",
        }
    }
}

/// Where an interaction's envelope stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InteractionOutcome {
    /// Sent; no ack yet (and `ack_timeout` has not passed).
    Awaiting,
    /// Acked within `ack_timeout`.
    Acked,
    /// Not acked within `ack_timeout`: the user saw an error; Slack does
    /// not redeliver it.
    TimedOut,
    /// No Socket Mode connection was open: not sent (dispatch failed).
    NoConnection,
    /// Every open connection had muted its kind: not sent.
    Muted,
}

impl InteractionOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            InteractionOutcome::Awaiting => "awaiting",
            InteractionOutcome::Acked => "acked",
            InteractionOutcome::TimedOut => "timed_out",
            InteractionOutcome::NoConnection => "no_connection",
            InteractionOutcome::Muted => "muted",
        }
    }
}

/// One button click or slash command and what became of it.
#[derive(Clone, Debug)]
pub struct InteractionRecord {
    pub envelope_id: String,
    pub kind: InteractionKind,
    pub channel: String,
    /// The user who clicked or typed the command.
    pub user: String,
    pub trigger_id: String,
    pub response_url: String,
    /// The clicked button's `action_id` (block_actions).
    pub action_id: Option<String>,
    /// The message the button is on (block_actions).
    pub message_ts: Option<String>,
    /// The command, e.g. "/switchboard" (slash commands).
    pub command: Option<String>,
    /// The text after the command (slash commands).
    pub text: Option<String>,
    pub created_at: Instant,
    pub outcome: InteractionOutcome,
    /// When the (first) ack arrived, however late.
    pub acked_at: Option<Instant>,
    /// Time from the envelope going out to its ack (`None` for a late ack).
    pub ack_latency: Option<Duration>,
    /// The ack's `payload`, if any.
    pub ack_payload: Option<Value>,
    /// Why a slash command's ack payload was not shown (e.g. "invalid_blocks").
    pub response_error: Option<String>,
}

/// How an ephemeral message came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EphemeralSource {
    /// `chat.postEphemeral`.
    PostEphemeral,
    /// A slash command ack payload (response_type ephemeral, the default).
    CommandAck,
    /// A response_url post (response_type ephemeral, the default).
    ResponseUrl,
}

impl EphemeralSource {
    pub fn as_str(self) -> &'static str {
        match self {
            EphemeralSource::PostEphemeral => "chat.postEphemeral",
            EphemeralSource::CommandAck => "command_ack",
            EphemeralSource::ResponseUrl => "response_url",
        }
    }
}

/// A message only `user` sees; never stored in the channel's history.
#[derive(Clone, Debug)]
pub struct EphemeralMessage {
    pub channel: String,
    /// The one user who sees it.
    pub user: String,
    pub text: String,
    pub blocks: Vec<Value>,
    pub thread_ts: Option<String>,
    /// The ts Slack hands back (`message_ts`); no stored message has it.
    pub message_ts: String,
    pub source: EphemeralSource,
    pub at: Instant,
}

/// One POST to a response_url, accepted or refused.
#[derive(Clone, Debug)]
pub struct ResponseUrlUse {
    /// The envelope whose payload carried the URL.
    pub envelope_id: String,
    pub at: Instant,
    pub status: u16,
    /// `None` when accepted; else Slack's error, e.g. "expired_url".
    pub error: Option<String>,
    /// What it did: "ephemeral", "in_channel", "replaced", "deleted".
    pub effect: Option<String>,
    pub body: Value,
}

/// All records as JSON for the control API; instants as ms since `origin`.
pub(crate) struct RecordsJson<'a> {
    pub origin: Instant,
    pub connections: &'a [ConnectionRecord],
    pub opens: &'a [OpenRecord],
    pub deliveries: &'a [DeliveryRecord],
    pub acks: &'a [AckRecord],
    pub web_calls: &'a [WebCall],
    pub muted: &'a [MutedEvent],
    pub interactions: &'a [InteractionRecord],
    pub ephemerals: &'a [EphemeralMessage],
    pub response_uses: &'a [ResponseUrlUse],
}

impl RecordsJson<'_> {
    pub fn to_json(&self) -> Value {
        let ms = |at: Instant| at.saturating_duration_since(self.origin).as_millis() as u64;
        json!({
            "connections": self.connections.iter().map(|r| json!({
                "id": r.id, "opened_at_ms": ms(r.opened_at), "closed_at_ms": r.closed_at.map(ms),
                "ticket": r.ticket, "refused": r.refused, "closed_by_client": r.closed_by_client,
                "client_close_code": r.client_close_code, "aborted": r.aborted,
                "disconnects_sent": r.disconnects_sent.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "opens": self.opens.iter().map(|r| json!({
                "at_ms": ms(r.at), "ok": r.ok, "error": r.error, "ticket": r.ticket, "url": r.url,
            })).collect::<Vec<_>>(),
            "deliveries": self.deliveries.iter().map(|r| json!({
                "envelope_id": r.envelope_id, "event_id": r.event_id, "event_type": r.event_type,
                "connection_id": r.connection_id, "retry_attempt": r.retry_attempt,
                "retry_reason": r.retry_reason, "at_ms": ms(r.at), "dropped": r.dropped,
            })).collect::<Vec<_>>(),
            "acks": self.acks.iter().map(|r| json!({
                "envelope_id": r.envelope_id, "connection_id": r.connection_id, "at_ms": ms(r.at),
                "latency_ms": r.latency.map(|d| d.as_millis() as u64),
            })).collect::<Vec<_>>(),
            "web_calls": self.web_calls.iter().map(|r| json!({
                "at_ms": ms(r.at), "method": r.method, "params": r.params, "status": r.status,
                "ok": r.ok, "error": r.error,
            })).collect::<Vec<_>>(),
            "muted_events": self.muted.iter().map(|r| json!({
                "at_ms": ms(r.at), "envelope_id": r.envelope_id, "event_id": r.event_id,
                "event_type": r.event_type, "ts": r.event.get("ts"),
                "channel": r.event.get("channel"),
            })).collect::<Vec<_>>(),
            "interactions": self.interactions.iter().map(|r| json!({
                "envelope_id": r.envelope_id, "kind": r.kind.as_str(), "channel": r.channel,
                "user": r.user, "trigger_id": r.trigger_id, "response_url": r.response_url,
                "action_id": r.action_id, "message_ts": r.message_ts, "command": r.command,
                "text": r.text, "created_at_ms": ms(r.created_at), "outcome": r.outcome.as_str(),
                "acked_at_ms": r.acked_at.map(ms),
                "ack_latency_ms": r.ack_latency.map(|d| d.as_millis() as u64),
                "ack_payload": r.ack_payload, "response_error": r.response_error,
            })).collect::<Vec<_>>(),
            "ephemerals": self.ephemerals.iter().map(|r| json!({
                "channel": r.channel, "user": r.user, "text": r.text, "blocks": r.blocks,
                "thread_ts": r.thread_ts, "message_ts": r.message_ts,
                "source": r.source.as_str(), "at_ms": ms(r.at),
            })).collect::<Vec<_>>(),
            "response_url_uses": self.response_uses.iter().map(|r| json!({
                "envelope_id": r.envelope_id, "at_ms": ms(r.at), "status": r.status,
                "error": r.error, "effect": r.effect, "body": r.body,
            })).collect::<Vec<_>>(),
        })
    }
}
