//! Fault injection on a running simulator: gateway faults (drop, close,
//! op 7, op 9, server heartbeat request, withheld ACKs, silence, refused
//! connections, bad token, disallowed intent, muted or delayed dispatch
//! kinds) and REST faults / limits, including answers lost or delayed
//! after the request took effect.
//!
//! Each switch is one state change under the lock; the connection tasks do
//! the socket work. Gateway faults apply to every current connection.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{RateLimits, ResponseFault, RestFault};
use crate::dispatch_faults;
use crate::gateway::{self, ops};
use crate::payloads::{self, op};
use crate::sessions::Outgoing;
use crate::sim::DiscordSim;
use crate::state::{PendingFault, PendingResponseFault};

impl DiscordSim {
    fn conn_ids(s: &crate::state::State) -> Vec<u64> {
        s.gw.conns.keys().copied().collect()
    }

    /// Aborts every gateway TCP flow at once, without a close frame.
    /// Sessions stay resumable.
    pub fn drop_connections(&self) {
        self.inner.update(|s| {
            for id in Self::conn_ids(s) {
                s.gw.command(id, Outgoing::Abort);
            }
        });
    }

    /// Sends a close frame with `code` on every connection, then closes.
    /// 4007 and 4009 end the sessions; other codes leave them resumable.
    pub fn close_connections(&self, code: u16) {
        self.inner.update(|s| {
            for id in Self::conn_ids(s) {
                ops::close_conn(s, id, code);
            }
        });
    }

    /// Op 7 Reconnect on every connection.
    pub fn send_reconnect(&self) {
        self.send_all(payloads::frame(op::RECONNECT, Value::Null, None, None));
    }

    /// Op 9 Invalid Session; `resumable == false` also ends the sessions.
    pub fn send_invalid_session(&self, resumable: bool) {
        let frame = payloads::frame(op::INVALID_SESSION, json!(resumable), None, None);
        self.inner.update(|s| {
            for id in Self::conn_ids(s) {
                s.gw.send(id, frame.clone());
                if !resumable
                    && let Some(session) = s.gw.conns.get(&id).and_then(|c| c.session.clone())
                {
                    s.gw.end_session(&session);
                }
            }
        });
    }

    /// Op 1 to every client (a client must answer with op 1 at once).
    pub fn request_heartbeat(&self) {
        self.send_all(payloads::frame(op::HEARTBEAT, Value::Null, None, None));
    }

    fn send_all(&self, frame: String) {
        self.inner.update(|s| {
            for id in Self::conn_ids(s) {
                s.gw.send(id, frame.clone());
            }
        });
    }

    /// false: never ACK heartbeats (dispatches keep flowing).
    pub fn set_heartbeat_acks(&self, enabled: bool) {
        self.inner.update(|s| s.switches.heartbeat_acks = enabled);
    }

    /// true: send nothing at all (no Hello, ACKs or dispatches) on any
    /// connection, read and discard input (heartbeats are still recorded,
    /// unacked); dispatches are buffered in their sessions. false: withheld
    /// Hellos and missed dispatches are delivered to live connections.
    pub fn set_silent(&self, silent: bool) {
        let hello = gateway::hello(&self.inner);
        self.inner.update(|s| {
            s.gw.silent = silent;
            if !silent {
                s.gw.flush_after_silence(&hello);
            }
        });
    }

    /// Deaf but connected: the sessions that exist now (connected or
    /// resumable) stop getting dispatches of these kinds (`t`, e.g.
    /// "MESSAGE_CREATE"), spending no sequence number, so no gap shows and a
    /// RESUME replays nothing of them; a resumed session stays muted.
    /// Heartbeats are still ACKed, other kinds still delivered, REST still
    /// shows everything. A session from a later IDENTIFY is not muted.
    /// Each muted dispatch is recorded (`muted_dispatches`).
    pub fn mute_dispatches(&self, kinds: &[&str]) {
        let kinds = dispatch_faults::kinds(kinds);
        self.inner.update(|s| s.gw.mute(&kinds, false));
    }

    /// `mute_dispatches` for every session, later ones included: a new
    /// session alone does not heal it.
    pub fn mute_dispatches_all_sessions(&self, kinds: &[&str]) {
        let kinds = dispatch_faults::kinds(kinds);
        self.inner.update(|s| s.gw.mute(&kinds, true));
    }

    /// Ends every mute; later dispatches flow again (what was muted stays
    /// undelivered, as on Discord).
    pub fn unmute_dispatches(&self) {
        self.inner.update(|s| s.gw.unmute());
    }

    /// Dispatches of these kinds reach every connection `delay` after they
    /// happen (numbered and buffered at once); later dispatches on the same
    /// connection wait behind them, other frames (ACKs) do not.
    /// `Duration::ZERO` ends the delay of these kinds.
    pub fn delay_dispatches(&self, kinds: &[&str], delay: Duration) {
        self.inner.update(|s| s.gw.faults.set_delay(kinds, delay));
    }

    /// Ends every dispatch delay (frames already held still wait out
    /// theirs, and go out even if `set_silent` began meanwhile).
    pub fn clear_dispatch_delays(&self) {
        self.inner.update(|s| s.gw.faults.clear_delays());
    }

    /// true: gateway upgrades are answered 503 (REST keeps working).
    pub fn set_refuse_connections(&self, refuse: bool) {
        self.inner.update(|s| {
            s.switches.refuse = refuse;
            if !refuse {
                s.switches.refuse_until = None;
            }
        });
    }

    /// Refuses gateway upgrades for `d` from now.
    pub fn refuse_connections_for(&self, d: Duration) {
        let until = Instant::now() + d;
        self.inner.update(|s| s.switches.refuse_until = Some(until));
    }

    /// false: Identify/Resume close with 4004 and REST answers 401.
    pub fn set_token_valid(&self, valid: bool) {
        self.inner.update(|s| s.switches.token_valid = valid);
    }

    /// false: an Identify asking for MESSAGE_CONTENT closes with 4014.
    pub fn set_message_content_intent_allowed(&self, allowed: bool) {
        self.inner
            .update(|s| s.switches.message_content_intent_allowed = allowed);
    }

    /// The next `count` REST requests (whose path contains `path_contains`,
    /// if given) get `fault`, before auth, rate limits and routing.
    pub fn fail_rest(&self, fault: RestFault, count: u32, path_contains: Option<&str>) {
        if count == 0 {
            return;
        }
        self.inner.update(|s| {
            s.rest.faults.push(PendingFault {
                fault,
                remaining: count,
                path_contains: path_contains.map(str::to_owned),
            });
        });
    }

    /// The next `count` REST requests (whose path contains `path_contains`,
    /// if given) are applied in full, then their answer meets `fault`
    /// (lost with the connection, or late).
    pub fn fault_responses(&self, fault: ResponseFault, count: u32, path_contains: Option<&str>) {
        if count == 0 {
            return;
        }
        self.inner.update(|s| {
            s.rest.response_faults.push(PendingResponseFault {
                fault,
                remaining: count,
                path_contains: path_contains.map(str::to_owned),
            });
        });
    }

    /// Replaces REST rate-limit enforcement.
    pub fn set_rate_limits(&self, limits: RateLimits) {
        self.inner.update(|s| s.rest.limits = limits);
    }
}
