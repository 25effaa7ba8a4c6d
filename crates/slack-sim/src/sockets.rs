//! The registry of Socket Mode connections: one-time tickets, each live
//! connection's phase and outgoing queue, silence, muted event kinds, and
//! which connection an envelope goes to.
//!
//! Bookkeeping only: it must never touch a socket or await (it runs under
//! the state lock; the connection tasks in `socket` do the I/O).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::config::ConnectionPick;
use crate::event_faults::EventFaults;
use crate::protocol::DisconnectReason;

/// What a connection task is asked to do with its socket.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send one text frame now (ahead of any held envelope).
    Text(String),
    /// Send one envelope no earlier than `not_before`, and never before the
    /// envelopes queued ahead of it on this connection.
    Envelope { text: String, not_before: Instant },
    /// Stop (true) or resume (false) reading the socket and answering pings.
    Silence(bool),
    /// Send a close frame after this delay, then end.
    CloseAfter(Duration),
    /// Abort the TCP flow at once, without a close frame.
    Abort,
}

/// Where a live connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnPhase {
    /// Carrying envelopes.
    Open,
    /// A disconnect message was sent; the sim closes it at `close_at`.
    Closing {
        reason: DisconnectReason,
        close_at: Instant,
    },
}

/// One live connection.
#[derive(Debug)]
pub(crate) struct Conn {
    pub tx: UnboundedSender<Outgoing>,
    pub phase: ConnPhase,
    /// Half-open on its own (see `SlackSim::silence_current_connections`).
    pub silent: bool,
    /// Hello is withheld while silent and sent when silence ends.
    pub hello_sent: bool,
    /// Event kinds never sent on it (`SlackSim::mute_events`).
    pub muted: BTreeSet<String>,
}

/// Where an envelope may go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Picked {
    Conn(u64),
    /// Connections exist, but every one has muted this kind.
    AllMuted,
    NoConnection,
}

/// Whether a frame reached a connection's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    Queued,
    /// The connection is silent: the frame vanished, as on a dead flow.
    Swallowed,
    NoConnection,
}

#[derive(Debug, Default)]
pub(crate) struct Sockets {
    pub conns: BTreeMap<u64, Conn>,
    /// Issued tickets; `true` once redeemed.
    tickets: HashMap<String, bool>,
    pub next_conn_id: u64,
    /// Every connection silent (new ones included).
    pub silent: bool,
    round_robin: u64,
    pub faults: EventFaults,
}

impl Sockets {
    pub fn issue_ticket(&mut self, ticket: &str) {
        self.tickets.insert(ticket.to_owned(), false);
    }

    /// Uses a ticket up; false when unknown or already used.
    pub fn redeem(&mut self, ticket: &str) -> bool {
        match self.tickets.get_mut(ticket) {
            Some(used) if !*used => {
                *used = true;
                true
            }
            _ => false,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        self.next_conn_id += 1;
        self.next_conn_id
    }

    pub fn is_silent(&self, conn_id: u64) -> bool {
        self.silent || self.conns.get(&conn_id).is_some_and(|c| c.silent)
    }

    /// Queues a text frame unless the connection is silent.
    pub fn send(&mut self, conn_id: u64, text: String) -> Sent {
        self.queue(conn_id, Outgoing::Text(text))
    }

    /// Queues an envelope (held until `not_before`) unless silent.
    pub fn send_envelope(&mut self, conn_id: u64, text: String, not_before: Instant) -> Sent {
        self.queue(conn_id, Outgoing::Envelope { text, not_before })
    }

    fn queue(&mut self, conn_id: u64, out: Outgoing) -> Sent {
        if !self.conns.contains_key(&conn_id) {
            return Sent::NoConnection;
        }
        if self.is_silent(conn_id) {
            tracing::debug!(conn_id, frame = ?out, "sim -> client (swallowed: silent)");
            return Sent::Swallowed;
        }
        tracing::debug!(conn_id, frame = ?out, "sim -> client");
        match self.conns.get(&conn_id).map(|c| c.tx.send(out)) {
            Some(Ok(())) => Sent::Queued,
            _ => Sent::NoConnection,
        }
    }

    /// Mutes `kinds` on every connection open now; `new_connections` also
    /// on every connection opened later.
    pub fn mute(&mut self, kinds: &BTreeSet<String>, new_connections: bool) {
        for conn in self.conns.values_mut() {
            conn.muted.extend(kinds.iter().cloned());
        }
        if new_connections {
            self.faults
                .muted_for_new_connections
                .extend(kinds.iter().cloned());
        }
    }

    /// Ends every mute (current and future connections).
    pub fn unmute(&mut self) {
        for conn in self.conns.values_mut() {
            conn.muted.clear();
        }
        self.faults.muted_for_new_connections.clear();
    }

    /// `pick` among the connections that have not muted `kind`.
    pub fn pick_for(&mut self, pick: ConnectionPick, kind: Option<&str>) -> Picked {
        if self.conns.is_empty() {
            return Picked::NoConnection;
        }
        let hearing = |c: &Conn| kind.is_none_or(|k| !c.muted.contains(k));
        match self.pick_where(pick, hearing) {
            Some(id) => Picked::Conn(id),
            None => Picked::AllMuted,
        }
    }

    /// Sends a control command regardless of silence.
    pub fn command(&self, conn_id: u64, cmd: Outgoing) {
        if let Some(conn) = self.conns.get(&conn_id) {
            tracing::debug!(conn_id, ?cmd, "sim -> client (command)");
            let _ = conn.tx.send(cmd);
        }
    }

    /// The one phase transition: a disconnect message makes a connection
    /// `Closing` and schedules the close in its task.
    pub fn start_closing(&mut self, conn_id: u64, reason: DisconnectReason, delay: Duration) {
        let Some(conn) = self.conns.get_mut(&conn_id) else {
            return;
        };
        conn.phase = ConnPhase::Closing {
            reason,
            close_at: Instant::now() + delay,
        };
        self.command(conn_id, Outgoing::CloseAfter(delay));
    }

    /// The connection for the next envelope: among open ones per `pick`,
    /// falling back to closing ones (Slack still delivers on a connection
    /// it has warned until it is gone).
    fn pick_where(
        &mut self,
        pick: ConnectionPick,
        eligible: impl Fn(&Conn) -> bool,
    ) -> Option<u64> {
        let open: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.phase == ConnPhase::Open && eligible(c))
            .map(|(id, _)| *id)
            .collect();
        let candidates = if open.is_empty() {
            self.conns
                .iter()
                .filter(|(_, c)| eligible(c))
                .map(|(id, _)| *id)
                .collect()
        } else {
            open
        };
        if candidates.is_empty() {
            return None;
        }
        let index = match pick {
            ConnectionPick::First => 0,
            ConnectionPick::Newest => candidates.len() - 1,
            ConnectionPick::RoundRobin => {
                self.round_robin = self.round_robin.wrapping_add(1);
                ((self.round_robin - 1) % candidates.len() as u64) as usize
            }
            ConnectionPick::Random => rand::random_range(0..candidates.len()),
        };
        candidates.get(index).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn conn() -> (Conn, mpsc::UnboundedReceiver<Outgoing>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let c = Conn {
            tx,
            phase: ConnPhase::Open,
            silent: false,
            hello_sent: true,
            muted: BTreeSet::new(),
        };
        (c, rx)
    }

    #[test]
    fn tickets_are_one_time() {
        let mut s = Sockets::default();
        s.issue_ticket("t");
        assert!(s.redeem("t"));
        assert!(!s.redeem("t"));
        assert!(!s.redeem("never-issued"));
    }

    #[tokio::test]
    async fn pick_prefers_open_connections_and_rotates() {
        let mut s = Sockets::default();
        let mut rxs = Vec::new();
        for id in 1..=3 {
            let (c, rx) = conn();
            s.conns.insert(id, c);
            rxs.push(rx);
        }
        assert_eq!(s.pick_for(ConnectionPick::First, None), Picked::Conn(1));
        assert_eq!(s.pick_for(ConnectionPick::Newest, None), Picked::Conn(3));
        let turns: Vec<_> = (0..4)
            .map(|_| s.pick_for(ConnectionPick::RoundRobin, None))
            .collect();
        let conns = |ids: &[u64]| ids.iter().map(|id| Picked::Conn(*id)).collect::<Vec<_>>();
        assert_eq!(turns, conns(&[1, 2, 3, 1]));
        s.start_closing(1, DisconnectReason::Warning, Duration::from_secs(1));
        assert_eq!(s.pick_for(ConnectionPick::First, None), Picked::Conn(2));
        assert!(matches!(rxs[0].try_recv(), Ok(Outgoing::CloseAfter(_))));
        s.silent = true;
        assert_eq!(s.send(2, "x".into()), Sent::Swallowed);
        assert_eq!(s.send(9, "x".into()), Sent::NoConnection);
    }

    #[tokio::test]
    async fn muted_connections_are_passed_over() {
        let mut s = Sockets::default();
        let mut rxs = Vec::new();
        assert_eq!(
            s.pick_for(ConnectionPick::First, Some("message")),
            Picked::NoConnection
        );
        for id in 1..=2 {
            let (c, rx) = conn();
            s.conns.insert(id, c);
            rxs.push(rx);
        }
        s.mute(&crate::event_faults::kinds(&["message"]), false);
        let (c, rx) = conn();
        s.conns.insert(3, c);
        rxs.push(rx);
        let message = Some("message");
        assert_eq!(s.pick_for(ConnectionPick::First, message), Picked::Conn(3));
        assert_eq!(
            s.pick_for(ConnectionPick::First, Some("app_mention")),
            Picked::Conn(1)
        );
        s.conns.remove(&3);
        assert_eq!(s.pick_for(ConnectionPick::First, message), Picked::AllMuted);
        s.unmute();
        assert_eq!(s.pick_for(ConnectionPick::First, message), Picked::Conn(1));
    }
}
