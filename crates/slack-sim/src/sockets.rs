//! The registry of Socket Mode connections: one-time tickets, each live
//! connection's phase and outgoing queue, silence, and which connection an
//! envelope goes to.
//!
//! Bookkeeping only: it must never touch a socket or await (it runs under
//! the state lock; the connection tasks in `socket` do the I/O).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::Instant;

use crate::config::ConnectionPick;
use crate::protocol::DisconnectReason;

/// What a connection task is asked to do with its socket.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Send one text frame.
    Text(String),
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
        if !self.conns.contains_key(&conn_id) {
            return Sent::NoConnection;
        }
        if self.is_silent(conn_id) {
            tracing::debug!(conn_id, frame = %text, "sim -> client (swallowed: silent)");
            return Sent::Swallowed;
        }
        tracing::debug!(conn_id, frame = %text, "sim -> client");
        match self
            .conns
            .get(&conn_id)
            .map(|c| c.tx.send(Outgoing::Text(text)))
        {
            Some(Ok(())) => Sent::Queued,
            _ => Sent::NoConnection,
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
    pub fn pick(&mut self, pick: ConnectionPick) -> Option<u64> {
        let open: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| c.phase == ConnPhase::Open)
            .map(|(id, _)| *id)
            .collect();
        let candidates = if open.is_empty() {
            self.conns.keys().copied().collect()
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
        assert_eq!(s.pick(ConnectionPick::First), Some(1));
        assert_eq!(s.pick(ConnectionPick::Newest), Some(3));
        let turns: Vec<_> = (0..4)
            .filter_map(|_| s.pick(ConnectionPick::RoundRobin))
            .collect();
        assert_eq!(turns, vec![1, 2, 3, 1]);
        s.start_closing(1, DisconnectReason::Warning, Duration::from_secs(1));
        assert_eq!(s.pick(ConnectionPick::First), Some(2));
        assert!(matches!(rxs[0].try_recv(), Ok(Outgoing::CloseAfter(_))));
        s.silent = true;
        assert_eq!(s.send(2, "x".into()), Sent::Swallowed);
        assert_eq!(s.send(9, "x".into()), Sent::NoConnection);
    }
}
