//! What the sim does with each frame a client sends: Heartbeat (op 1),
//! Identify (op 2, its `shard` checked: 4010 when invalid), Resume (op 6); malformed JSON closes with 4002, unknown
//! opcodes are logged and ignored.
//!
//! Runs synchronously under the state lock; output goes to the connection's
//! queue in `sessions`, so replies keep their order. Never awaits.

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::clock::random_session_id;
use crate::events::intents;
use crate::payloads::{self, op};
use crate::records::{HeartbeatRecord, IdentifyRecord, ReadyKind, ReadyRecord, ResumeRecord};
use crate::sessions::Outgoing;
use crate::shards::parse_identify_shard;
use crate::state::{Inner, State};

/// Close codes the sim uses.
pub(crate) mod close {
    pub const DECODE_ERROR: u16 = 4002;
    pub const AUTHENTICATION_FAILED: u16 = 4004;
    pub const ALREADY_AUTHENTICATED: u16 = 4005;
    pub const INVALID_SEQ: u16 = 4007;
    pub const SESSION_TIMED_OUT: u16 = 4009;
    pub const INVALID_SHARD: u16 = 4010;
    pub const DISALLOWED_INTENTS: u16 = 4014;

    /// Discord's reason text for a code.
    pub fn reason(code: u16) -> &'static str {
        match code {
            4000 => "Unknown error.",
            4001 => "Unknown opcode.",
            DECODE_ERROR => "Error while decoding payload.",
            4003 => "Not authenticated.",
            AUTHENTICATION_FAILED => "Authentication failed.",
            ALREADY_AUTHENTICATED => "Already authenticated.",
            INVALID_SEQ => "Invalid seq.",
            4008 => "Rate limited.",
            SESSION_TIMED_OUT => "Session timed out.",
            INVALID_SHARD => "Invalid shard.",
            4011 => "Sharding required.",
            4012 => "Invalid API version.",
            4013 => "Invalid intent(s).",
            DISALLOWED_INTENTS => "Disallowed intent(s).",
            _ => "",
        }
    }

    /// Whether a sim-sent close with this code ends the session.
    pub fn ends_session(code: u16) -> bool {
        matches!(code, INVALID_SEQ | SESSION_TIMED_OUT)
    }
}

/// Handles one text frame from a client.
pub(crate) fn handle_text(inner: &Inner, conn_id: u64, text: &str) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else {
        tracing::debug!(conn_id, "undecodable frame; closing 4002");
        inner.update(|s| close_conn(s, conn_id, close::DECODE_ERROR));
        return;
    };
    let opcode = frame.get("op").and_then(Value::as_u64);
    let d = frame.get("d").cloned().unwrap_or(Value::Null);
    inner.update(|s| {
        if s.gw.silent && opcode != Some(u64::from(op::HEARTBEAT)) {
            tracing::debug!(conn_id, ?opcode, "silent: discarding frame");
            return;
        }
        match opcode.and_then(|o| u8::try_from(o).ok()) {
            Some(op::HEARTBEAT) => heartbeat(s, conn_id, &d),
            Some(op::IDENTIFY) => identify(inner, s, conn_id, &d),
            Some(op::RESUME) => resume(inner, s, conn_id, &d),
            other => tracing::info!(conn_id, opcode = ?other, "ignoring unhandled opcode"),
        }
    });
}

/// Sends a close frame from the sim and records it.
pub(crate) fn close_conn(s: &mut State, conn_id: u64, code: u16) {
    if let Some(rec) = s.rec.connection_mut(conn_id) {
        rec.close_code_from_sim = Some(code);
    }
    if close::ends_session(code)
        && let Some(session) = s.gw.conns.get(&conn_id).and_then(|c| c.session.clone())
    {
        s.gw.end_session(&session);
    }
    s.gw.command(
        conn_id,
        Outgoing::Close(code, close::reason(code).to_owned()),
    );
}

fn heartbeat(s: &mut State, conn_id: u64, d: &Value) {
    let acked = s.switches.heartbeat_acks && !s.gw.silent;
    s.rec.heartbeats.push(HeartbeatRecord {
        at: Instant::now(),
        seq: d.as_u64(),
        connection_id: conn_id,
        acked,
    });
    if acked {
        s.gw.send(
            conn_id,
            payloads::frame(op::HEARTBEAT_ACK, Value::Null, None, None),
        );
    }
}

fn identify(inner: &Inner, s: &mut State, conn_id: u64, d: &Value) {
    let (Some(token), Some(requested)) = (
        d.get("token").and_then(Value::as_str),
        d.get("intents").and_then(Value::as_u64),
    ) else {
        close_conn(s, conn_id, close::DECODE_ERROR);
        return;
    };
    let token_ok = inner.token_ok(s, token);
    let shard = parse_identify_shard(d);
    s.rec.identifies.push(IdentifyRecord {
        at: Instant::now(),
        intents: requested,
        token_ok,
        connection_id: conn_id,
        shard: shard.ok(),
    });
    let has_session =
        s.gw.conns
            .get(&conn_id)
            .and_then(|c| c.session.as_ref())
            .and_then(|id| s.gw.sessions.get(id))
            .is_some_and(|session| session.resumable);
    if has_session {
        close_conn(s, conn_id, close::ALREADY_AUTHENTICATED);
        return;
    }
    if !token_ok {
        close_conn(s, conn_id, close::AUTHENTICATION_FAILED);
        return;
    }
    let Ok(shard) = shard else {
        close_conn(s, conn_id, close::INVALID_SHARD);
        return;
    };
    if requested & intents::MESSAGE_CONTENT != 0 && !s.switches.message_content_intent_allowed {
        close_conn(s, conn_id, close::DISALLOWED_INTENTS);
        return;
    }
    let session_id = random_session_id();
    s.gw.open_session(conn_id, &session_id, requested, shard);
    let guilds: Vec<u64> = (s.world.guild_ids.iter().copied())
        .filter(|guild| shard.receives(Some(*guild)))
        .collect();
    let ready = payloads::ready(&s.world, &session_id, &inner.gateway_url(), shard, &guilds);
    s.gw.dispatch_to(&session_id, "READY", &ready);
    s.rec.ready_sent.push(ReadyRecord {
        at: Instant::now(),
        kind: ReadyKind::Ready,
        session_id: session_id.clone(),
        connection_id: conn_id,
    });
    for guild_id in guilds {
        let guild = payloads::guild(&s.world, guild_id, crate::config::DEFAULT_OWNER_ID);
        s.gw.dispatch_to(&session_id, "GUILD_CREATE", &guild);
    }
}

fn resume(inner: &Inner, s: &mut State, conn_id: u64, d: &Value) {
    let session_id = d
        .get("session_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
    let token = d.get("token").and_then(Value::as_str).unwrap_or_default();
    let path =
        s.gw.conns
            .get(&conn_id)
            .map(|c| c.path.clone())
            .unwrap_or_default();
    if !inner.token_ok(s, token) {
        push_resume(s, conn_id, &session_id, seq, path, false);
        close_conn(s, conn_id, close::AUTHENTICATION_FAILED);
        return;
    }
    let accepted = s.gw.resume(conn_id, &session_id, seq);
    push_resume(s, conn_id, &session_id, seq, path, accepted);
    if accepted {
        s.gw.dispatch_unbuffered(&session_id, conn_id, "RESUMED", &json!({}));
        s.rec.ready_sent.push(ReadyRecord {
            at: Instant::now(),
            kind: ReadyKind::Resumed,
            session_id,
            connection_id: conn_id,
        });
    } else {
        tracing::debug!(conn_id, %session_id, "resume of unknown session: op 9 false");
        s.gw.send(
            conn_id,
            payloads::frame(op::INVALID_SESSION, json!(false), None, None),
        );
    }
}

fn push_resume(
    s: &mut State,
    conn_id: u64,
    session_id: &str,
    seq: u64,
    path: String,
    accepted: bool,
) {
    s.rec.resumes.push(ResumeRecord {
        at: Instant::now(),
        session_id: session_id.to_owned(),
        seq,
        connection_id: conn_id,
        path,
        accepted,
    });
}
