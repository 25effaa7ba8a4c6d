//! Fault injection on a running simulator: Socket Mode faults (disconnect
//! messages, dropped flows, silence / half-open sockets, refused or
//! disabled connection opening, bad tokens, muted or delayed event kinds)
//! and Web API faults and limits, including answers lost or delayed after
//! the call took effect.
//!
//! Each switch is one state change under the lock; the connection tasks do
//! the socket work.

use std::time::Duration;

use crate::config::{ConnectionPick, Fault, RateLimit, ResponseFault, TokenKind};
use crate::event_faults;
use crate::protocol::DisconnectReason;
use crate::sim::SlackSim;
use crate::socket;
use crate::sockets::Outgoing;
use crate::state::{PendingFault, PendingResponseFault};

impl SlackSim {
    /// Sends `{"type":"disconnect","reason":...}` on every open connection,
    /// then closes each as the reason says: `warning` after
    /// `disconnect_warning_delay`, `refresh_requested` after
    /// `refresh_close_delay`, `link_disabled` at once (and later
    /// `apps.connections.open` calls answer `link_disabled`).
    pub fn send_disconnect(&self, reason: DisconnectReason) {
        self.inner.update(|s| {
            let ids: Vec<u64> = s.sock.conns.keys().copied().collect();
            for id in ids {
                socket::disconnect(s, &self.inner.config, id, reason);
            }
            if reason.disables_link() {
                s.switches.link_disabled = true;
            }
        });
    }

    /// `send_disconnect` on one connection.
    pub fn send_disconnect_to(&self, connection_id: u64, reason: DisconnectReason) {
        self.inner
            .update(|s| socket::disconnect(s, &self.inner.config, connection_id, reason));
    }

    /// Aborts every connection's TCP flow at once, without a close frame.
    pub fn drop_connections(&self) {
        self.inner.update(|s| {
            for id in s.sock.conns.keys() {
                s.sock.command(*id, Outgoing::Abort);
            }
        });
    }

    /// true: every connection, current and new, goes half-open: nothing is
    /// sent (hello, envelopes, pongs; envelopes count as delivered and are
    /// retried after `ack_timeout`) and nothing is read, but sockets stay
    /// open. false: reading resumes and withheld hellos are sent.
    pub fn set_silent(&self, silent: bool) {
        self.inner.update(|s| {
            s.sock.silent = silent;
            let ids: Vec<u64> = s.sock.conns.keys().copied().collect();
            for id in ids {
                let own = s.sock.conns.get(&id).is_some_and(|c| c.silent);
                s.sock.command(id, Outgoing::Silence(silent || own));
                let needs_hello = s.sock.conns.get(&id).is_some_and(|c| !c.hello_sent);
                if !silent && !own && needs_hello {
                    socket::say_hello(s, &self.inner.config, id);
                }
            }
        });
    }

    /// Makes the connections open now half-open for good (as when a NAT
    /// forgets the flow); connections opened later work normally.
    pub fn silence_current_connections(&self) {
        self.inner.update(|s| {
            let ids: Vec<u64> = s.sock.conns.keys().copied().collect();
            for id in ids {
                if let Some(conn) = s.sock.conns.get_mut(&id) {
                    conn.silent = true;
                }
                s.sock.command(id, Outgoing::Silence(true));
            }
        });
    }

    /// Deaf but connected: the connections open now stop getting events of
    /// these kinds (the inner `event.type`, e.g. "message", "app_mention").
    /// Such an event goes to a connection that has not muted it, if one is
    /// open (a new `apps.connections.open` socket is not muted); else it is
    /// lost without a retry and recorded (`muted_events`). Pings, pongs,
    /// acks, other kinds and the Web API (conversations.history/replies
    /// list the messages) keep working.
    pub fn mute_events(&self, kinds: &[&str]) {
        let kinds = event_faults::kinds(kinds);
        self.inner.update(|s| s.sock.mute(&kinds, false));
    }

    /// `mute_events` on every connection, later ones included: a new
    /// connection alone does not heal it.
    pub fn mute_events_all_connections(&self, kinds: &[&str]) {
        let kinds = event_faults::kinds(kinds);
        self.inner.update(|s| s.sock.mute(&kinds, true));
    }

    /// Ends every mute; later events flow again (what was muted stays lost).
    pub fn unmute_events(&self) {
        self.inner.update(|s| s.sock.unmute());
    }

    /// Envelopes of these kinds go out `delay` after the event (their ack
    /// timeout starts then); later envelopes on the same connection wait
    /// behind them, pings and pongs do not. `Duration::ZERO` ends the delay
    /// of these kinds.
    pub fn delay_events(&self, kinds: &[&str], delay: Duration) {
        self.inner.update(|s| s.sock.faults.set_delay(kinds, delay));
    }

    /// Ends every event delay (envelopes already held still wait out theirs).
    pub fn clear_event_delays(&self) {
        self.inner.update(|s| s.sock.faults.clear_delays());
    }

    /// true: `apps.connections.open` answers HTTP 503
    /// `{"ok":false,"error":"service_unavailable"}` (for an HTTP 200
    /// `ok:false`, use `fail_web` with `Fault::Error`).
    pub fn set_refuse_open(&self, refuse: bool) {
        self.inner.update(|s| s.switches.refuse_open = refuse);
    }

    /// Turns Socket Mode off (`apps.connections.open` -> `link_disabled`)
    /// or back on, without touching open connections.
    pub fn set_link_disabled(&self, disabled: bool) {
        self.inner.update(|s| s.switches.link_disabled = disabled);
    }

    /// false: the token is revoked (`invalid_auth`).
    pub fn set_token_valid(&self, which: TokenKind, valid: bool) {
        self.inner.update(|s| match which {
            TokenKind::Bot => s.switches.bot_token_valid = valid,
            TokenKind::App => s.switches.app_token_valid = valid,
        });
    }

    /// The next `count` Web API calls whose method name contains
    /// `method_substring` ("" matches all) get `fault`, before auth, rate
    /// limits and the method.
    pub fn fail_web(&self, method_substring: &str, fault: Fault, count: u32) {
        if count == 0 {
            return;
        }
        self.inner.update(|s| {
            s.web.faults.push(PendingFault {
                fault,
                remaining: count,
                method_contains: method_substring.to_owned(),
            });
        });
    }

    /// The next `count` Web API calls whose method name contains
    /// `method_substring` are applied in full, then their answer meets
    /// `fault` (lost with the connection, or late).
    pub fn fault_responses(&self, method_substring: &str, fault: ResponseFault, count: u32) {
        if count == 0 {
            return;
        }
        self.inner.update(|s| {
            s.web.response_faults.push(PendingResponseFault {
                fault,
                remaining: count,
                method_contains: method_substring.to_owned(),
            });
        });
    }

    /// Enforces (or, with `None`, lifts) a limit on one method.
    pub fn set_rate_limit(&self, method: &str, limit: Option<RateLimit>) {
        self.inner.update(|s| {
            s.web.windows.remove(method);
            match limit {
                Some(l) => s.web.limits.insert(method.to_owned(), l),
                None => s.web.limits.remove(method),
            };
        });
    }

    /// How later envelopes choose their connection.
    pub fn set_connection_pick(&self, pick: ConnectionPick) {
        self.inner.update(|s| s.switches.pick = pick);
    }
}
