//! Gateway sessions and live connections: per-session sequence numbers and
//! replay buffers, which connection currently carries a session, and the
//! fan-out of dispatches to the sessions of the shard that owns the event's
//! guild (delivered live, or buffered for a later resume; muted or delayed
//! per `dispatch_faults`).
//!
//! Holds only bookkeeping and the outgoing queue of each connection; it must
//! never touch a socket or await (it runs under the state lock, which keeps
//! frame order equal to sequence order).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::dispatch_faults::DispatchFaults;
use crate::payloads;
use crate::records::MutedDispatch;
use crate::shards::ShardPair;

/// What a connection task is asked to do with its socket.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send one text frame now (ahead of any held dispatch).
    Text(String),
    /// Send one live dispatch no earlier than `not_before`, and never
    /// before the dispatches queued ahead of it on this connection.
    Dispatch { text: String, not_before: Instant },
    /// Send a close frame with this code and reason, then close.
    Close(u16, String),
    /// Abort the TCP flow at once, no close frame.
    Abort,
}

/// One live gateway connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub tx: UnboundedSender<Outgoing>,
    pub path: String,
    pub hello_sent: bool,
    /// The session this connection identified or resumed.
    pub session: Option<String>,
    /// Highest sequence number sent on this connection.
    pub last_sent_seq: u64,
}

/// One gateway session (READY .. end), surviving reconnects while resumable.
#[derive(Debug)]
pub(crate) struct Session {
    pub intents: u64,
    /// The shard it identified as; a RESUME keeps it.
    pub shard: ShardPair,
    pub seq: u64,
    /// Every numbered dispatch of this session, in order: (s, frame).
    pub buffer: Vec<(u64, String)>,
    /// The newest connection carrying the session, if it is connected.
    pub conn: Option<u64>,
    pub resumable: bool,
    /// Dispatch kinds this session never gets (`DiscordSim::mute_dispatches`).
    pub muted: BTreeSet<String>,
}

#[derive(Debug, Default)]
pub(crate) struct Gateway {
    pub conns: BTreeMap<u64, Conn>,
    pub sessions: BTreeMap<String, Session>,
    pub next_conn_id: u64,
    pub silent: bool,
    pub last_session_id: Option<String>,
    pub faults: DispatchFaults,
}

impl Gateway {
    /// Queues a frame on a connection unless the sim is silent.
    /// Returns whether it was queued.
    pub fn send(&mut self, conn_id: u64, text: String) -> bool {
        self.queue(conn_id, Outgoing::Text(text))
    }

    /// Queues a frame (text or dispatch) unless the sim is silent.
    fn queue(&mut self, conn_id: u64, out: Outgoing) -> bool {
        if self.silent {
            return false;
        }
        match self.conns.get(&conn_id) {
            Some(conn) => {
                tracing::debug!(conn_id, frame = ?out, "sim -> client");
                conn.tx.send(out).is_ok()
            }
            None => false,
        }
    }

    /// Sends a control command (close/abort) regardless of silence.
    pub fn command(&mut self, conn_id: u64, cmd: Outgoing) {
        if let Some(conn) = self.conns.get(&conn_id) {
            tracing::debug!(conn_id, ?cmd, "sim -> client (command)");
            let _ = conn.tx.send(cmd);
        }
    }

    /// Starts a session of `shard` on a connection.
    pub fn open_session(&mut self, conn_id: u64, session_id: &str, intents: u64, shard: ShardPair) {
        self.sessions.insert(
            session_id.to_owned(),
            Session {
                intents,
                shard,
                seq: 0,
                buffer: Vec::new(),
                conn: Some(conn_id),
                resumable: true,
                muted: self.faults.muted_for_new_sessions.clone(),
            },
        );
        if let Some(conn) = self.conns.get_mut(&conn_id) {
            conn.session = Some(session_id.to_owned());
        }
        self.last_session_id = Some(session_id.to_owned());
    }

    /// Appends one dispatch to a session (numbered, buffered) and delivers
    /// it if the session's connection is live (after its kind's delay).
    /// A kind the session has muted is only recorded: no number, no buffer.
    pub fn dispatch_to(&mut self, session_id: &str, event: &str, d: &Value) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        if !session.resumable {
            return;
        }
        if session.muted.contains(event) {
            tracing::debug!(session_id, event, "muted dispatch not sent");
            self.faults.record(MutedDispatch {
                at: Instant::now(),
                session_id: session_id.to_owned(),
                event: event.to_owned(),
                data: d.clone(),
            });
            return;
        }
        session.seq += 1;
        let seq = session.seq;
        let text = payloads::dispatch(event, seq, d);
        session.buffer.push((seq, text.clone()));
        let not_before = Instant::now() + self.faults.delay_of(event).unwrap_or_default();
        if let Some(conn_id) = session.conn
            && self.queue(conn_id, Outgoing::Dispatch { text, not_before })
            && let Some(conn) = self.conns.get_mut(&conn_id)
        {
            conn.last_sent_seq = seq;
        }
    }

    /// Mutes `kinds` for every session that can still be resumed (connected
    /// or not); `new_sessions` also for every session identified later.
    pub fn mute(&mut self, kinds: &BTreeSet<String>, new_sessions: bool) {
        for session in self.sessions.values_mut().filter(|s| s.resumable) {
            session.muted.extend(kinds.iter().cloned());
        }
        if new_sessions {
            self.faults
                .muted_for_new_sessions
                .extend(kinds.iter().cloned());
        }
    }

    /// Ends every mute (current and future sessions). What was muted stays
    /// undelivered.
    pub fn unmute(&mut self) {
        for session in self.sessions.values_mut() {
            session.muted.clear();
        }
        self.faults.muted_for_new_sessions.clear();
    }

    /// Sends an unbuffered numbered dispatch (RESUMED) on a connection.
    pub fn dispatch_unbuffered(&mut self, session_id: &str, conn_id: u64, event: &str, d: &Value) {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return;
        };
        session.seq += 1;
        let seq = session.seq;
        if self.send(conn_id, payloads::dispatch(event, seq, d))
            && let Some(conn) = self.conns.get_mut(&conn_id)
        {
            conn.last_sent_seq = seq;
        }
    }

    /// Fans a dispatch of `guild` (`None`: no guild, e.g. a DM) out to
    /// every resumable session of the shard that owns it; `render` may drop
    /// it for a session (returns None) or adapt it to the session's intents.
    pub fn dispatch_to_owners(
        &mut self,
        event: &str,
        guild: Option<u64>,
        render: impl Fn(u64) -> Option<Value>,
    ) {
        let ids: Vec<(String, u64)> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.resumable && s.shard.receives(guild))
            .map(|(id, s)| (id.clone(), s.intents))
            .collect();
        for (id, intents) in ids {
            if let Some(d) = render(intents) {
                self.dispatch_to(&id, event, &d);
            }
        }
    }

    /// Moves a session to a new connection and replays everything after
    /// `seq`. Returns false when the session is unknown or not resumable.
    pub fn resume(&mut self, conn_id: u64, session_id: &str, seq: u64) -> bool {
        let Some(session) = self.sessions.get_mut(session_id) else {
            return false;
        };
        if !session.resumable {
            return false;
        }
        session.conn = Some(conn_id);
        let replay: Vec<(u64, String)> = session
            .buffer
            .iter()
            .filter(|(s, _)| *s > seq)
            .cloned()
            .collect();
        if let Some(conn) = self.conns.get_mut(&conn_id) {
            conn.session = Some(session_id.to_owned());
            conn.last_sent_seq = seq;
        }
        for (s, text) in replay {
            if self.send(conn_id, text)
                && let Some(conn) = self.conns.get_mut(&conn_id)
            {
                conn.last_sent_seq = s;
            }
        }
        true
    }

    /// Ends a session for good (no resume possible afterwards).
    pub fn end_session(&mut self, session_id: &str) {
        if let Some(session) = self.sessions.get_mut(session_id) {
            session.resumable = false;
            session.conn = None;
            session.buffer.clear();
        }
        for conn in self.conns.values_mut() {
            if conn.session.as_deref() == Some(session_id) {
                conn.session = None;
            }
        }
    }

    /// A connection ended. A client close with 1000/1001 ends its session;
    /// any other ending leaves it resumable.
    pub fn connection_closed(&mut self, conn_id: u64, client_code: Option<u16>) {
        let Some(conn) = self.conns.remove(&conn_id) else {
            return;
        };
        let Some(session_id) = conn.session else {
            return;
        };
        let current = self
            .sessions
            .get(&session_id)
            .is_some_and(|s| s.conn == Some(conn_id));
        if !current {
            return;
        }
        if matches!(client_code, Some(1000 | 1001)) {
            self.end_session(&session_id);
        } else if let Some(session) = self.sessions.get_mut(&session_id) {
            session.conn = None;
        }
    }

    /// After silence ends: say Hello where it was withheld and deliver the
    /// dispatches each live connection missed.
    pub fn flush_after_silence(&mut self, hello: &str) {
        let mut pending: Vec<(u64, String)> = Vec::new();
        for (conn_id, conn) in &mut self.conns {
            if !conn.hello_sent {
                conn.hello_sent = true;
                pending.push((*conn_id, hello.to_owned()));
            }
            let Some(session) = conn.session.as_ref().and_then(|s| self.sessions.get(s)) else {
                continue;
            };
            if session.conn != Some(*conn_id) {
                continue;
            }
            let after = conn.last_sent_seq;
            for (s, text) in session.buffer.iter().filter(|(s, _)| *s > after) {
                pending.push((*conn_id, text.clone()));
                conn.last_sent_seq = *s;
            }
        }
        for (conn_id, text) in pending {
            self.send(conn_id, text);
        }
    }
}
