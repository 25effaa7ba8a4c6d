//! Socket Mode delivery: events wrapped in `event_callback` payloads and
//! `events_api` envelopes, sent to one connection each, acknowledged by
//! `envelope_id`, and redelivered after `ack_timeout` (retry_attempt + 1,
//! retry_reason "timeout") on any open connection, up to `max_retries`.
//! Envelopes created while no connection is open wait for the next one.
//! An event kind muted on every open connection is not sent at all: it is
//! recorded as muted and dropped (no retry), as on a deaf link. A delayed
//! kind goes out after its delay; its ack timeout starts then.
//! `interactive` and `slash_commands` envelopes follow the same connection
//! choice, mute and delay rules (their kind is the payload type,
//! "block_actions" or "slash_commands"), but Slack does not redeliver
//! them: one not acked within `ack_timeout` is recorded as timed out (the
//! user saw an error), and one with no connection open is not kept.
//!
//! The bookkeeping runs under the state lock and never awaits; the one
//! timer task (`spawn_redelivery`) only sleeps until the next deadline and
//! then calls back in under the lock.

use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use crate::clock::{self, unix_now_secs};
use crate::config::SlackSimConfig;
use crate::interactions;
use crate::payloads;
use crate::records::{AckRecord, DeliveryRecord, MutedEvent};
use crate::sockets::{Picked, Sent};
use crate::state::{Inner, State};

/// The Socket Mode envelope `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EnvelopeKind {
    EventsApi,
    Interactive,
    SlashCommands,
}

impl EnvelopeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EnvelopeKind::EventsApi => "events_api",
            EnvelopeKind::Interactive => "interactive",
            EnvelopeKind::SlashCommands => "slash_commands",
        }
    }

    /// Only Events API envelopes are redelivered when not acked.
    fn redelivered(self) -> bool {
        self == EnvelopeKind::EventsApi
    }
}

/// What an envelope carries (retry fields are added per attempt).
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    pub kind: EnvelopeKind,
    pub id: String,
    pub event_id: Option<String>,
    pub event_type: Option<String>,
    pub payload: Value,
}

/// What an undelivered-or-unacked envelope is waiting for.
#[derive(Clone, Copy, Debug)]
enum Awaiting {
    /// No connection was open when it was due.
    Connection,
    /// Sent on `conn` at `sent_at`; redelivered at `due` unless acked.
    Ack { sent_at: Instant, due: Instant },
}

#[derive(Debug)]
struct Pending {
    env: Envelope,
    attempt: u32,
    reason: &'static str,
    awaiting: Awaiting,
}

#[derive(Debug, Default)]
pub(crate) struct Delivery {
    /// In creation order.
    pending: Vec<Pending>,
    last: Option<Envelope>,
    events: u64,
}

impl Delivery {
    /// Envelope ids still waiting for an ack (or a connection).
    pub fn unacked(&self) -> Vec<String> {
        self.pending.iter().map(|p| p.env.id.clone()).collect()
    }
}

/// Wraps `event` in a fresh `event_callback` and envelope, and delivers it.
/// Returns the envelope id.
pub(crate) fn deliver_event(s: &mut State, config: &SlackSimConfig, event: Value) -> String {
    s.delivery.events += 1;
    let event_id = clock::event_id(s.delivery.events);
    let event_type = event.get("type").and_then(Value::as_str).map(str::to_owned);
    let payload = payloads::event_callback(config, event, &event_id, unix_now_secs());
    let env = Envelope {
        kind: EnvelopeKind::EventsApi,
        id: clock::uuid4(),
        event_id: Some(event_id),
        event_type,
        payload,
    };
    s.delivery.last = Some(env.clone());
    let id = env.id.clone();
    s.delivery.pending.push(Pending {
        env,
        attempt: 0,
        reason: "",
        awaiting: Awaiting::Connection,
    });
    let index = s.delivery.pending.len() - 1;
    send(s, config, index);
    id
}

/// What became of an interaction's envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dispatched {
    /// Sent (or held for its delay); awaiting its ack.
    Sent,
    /// No connection was open: Slack tells the user the dispatch failed.
    NoConnection,
    /// Every open connection had muted its kind: lost and recorded.
    Muted,
}

/// Sends an `interactive` or `slash_commands` envelope now (never queued
/// for a later connection, never redelivered).
pub(crate) fn deliver_interaction(
    s: &mut State,
    config: &SlackSimConfig,
    kind: EnvelopeKind,
    envelope_id: &str,
    payload: Value,
) -> Dispatched {
    if s.sock.conns.is_empty() {
        return Dispatched::NoConnection;
    }
    let payload_type = payload.get("type").and_then(Value::as_str);
    let event_type = match kind {
        EnvelopeKind::SlashCommands => Some("slash_commands".to_owned()),
        _ => payload_type.map(str::to_owned),
    };
    s.delivery.pending.push(Pending {
        env: Envelope {
            kind,
            id: envelope_id.to_owned(),
            event_id: None,
            event_type,
            payload,
        },
        attempt: 0,
        reason: "",
        awaiting: Awaiting::Connection,
    });
    let index = s.delivery.pending.len() - 1;
    match send(s, config, index) {
        Outcome::Muted => Dispatched::Muted,
        Outcome::Pending => Dispatched::Sent,
    }
}

/// What became of a pending envelope handed to `send`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// Still pending (sent and awaiting its ack, or awaiting a connection).
    Pending,
    /// Every connection had muted its kind: recorded and removed.
    Muted,
}

/// Sends the pending envelope at `index` on a picked connection.
fn send(s: &mut State, config: &SlackSimConfig, index: usize) -> Outcome {
    let kind = s.delivery.pending[index].env.event_type.clone();
    let conn = match s.sock.pick_for(s.switches.pick, kind.as_deref()) {
        Picked::Conn(conn) => conn,
        Picked::NoConnection => {
            s.delivery.pending[index].awaiting = Awaiting::Connection;
            return Outcome::Pending;
        }
        Picked::AllMuted => {
            let p = s.delivery.pending.remove(index);
            tracing::debug!(envelope_id = %p.env.id, ?kind, "muted event not sent");
            let event = match p.env.kind {
                EnvelopeKind::EventsApi => p.env.payload.get("event").cloned().unwrap_or_default(),
                _ => p.env.payload,
            };
            s.sock.faults.record(MutedEvent {
                at: Instant::now(),
                envelope_id: p.env.id,
                event_id: p.env.event_id,
                event_type: kind,
                event,
            });
            return Outcome::Muted;
        }
    };
    let delay = s.sock.faults.delay_of(kind.as_deref()).unwrap_or_default();
    let p = &mut s.delivery.pending[index];
    let frame = match p.env.kind {
        EnvelopeKind::EventsApi => {
            payloads::envelope(&p.env.id, &p.env.payload, p.attempt, p.reason)
        }
        kind => payloads::interaction_envelope(kind.as_str(), &p.env.id, &p.env.payload),
    };
    let goes_out = Instant::now() + delay;
    let sent = s.sock.send_envelope(conn, frame, goes_out);
    p.awaiting = Awaiting::Ack {
        sent_at: goes_out,
        due: goes_out + config.ack_timeout,
    };
    s.rec.deliveries.push(DeliveryRecord {
        envelope_id: p.env.id.clone(),
        event_id: p.env.event_id.clone(),
        event_type: p.env.event_type.clone(),
        connection_id: conn,
        retry_attempt: p.attempt,
        retry_reason: p.reason.to_owned(),
        at: goes_out,
        dropped: sent == Sent::Swallowed,
    });
    Outcome::Pending
}

/// A connection said hello: deliver what waited for one.
pub(crate) fn on_connection_ready(s: &mut State, config: &SlackSimConfig) {
    let mut index = 0;
    while index < s.delivery.pending.len() {
        let waiting = matches!(s.delivery.pending[index].awaiting, Awaiting::Connection);
        if !waiting || send(s, config, index) == Outcome::Pending {
            index += 1;
        }
    }
}

/// An `{"envelope_id": ...}` frame from the client.
pub(crate) fn on_ack(
    s: &mut State,
    config: &SlackSimConfig,
    conn_id: u64,
    envelope_id: &str,
    payload: Option<Value>,
) {
    let now = Instant::now();
    let latency = s
        .delivery
        .pending
        .iter()
        .position(|p| p.env.id == envelope_id)
        .map(|i| s.delivery.pending.remove(i))
        .and_then(|p| match p.awaiting {
            Awaiting::Ack { sent_at, .. } => Some(now.saturating_duration_since(sent_at)),
            Awaiting::Connection => None,
        });
    s.rec.acks.push(AckRecord {
        envelope_id: envelope_id.to_owned(),
        connection_id: conn_id,
        at: now,
        latency,
        payload: payload.clone(),
    });
    interactions::on_ack(s, config, envelope_id, payload, latency);
}

/// The earliest redelivery deadline.
fn next_due(s: &State) -> Option<Instant> {
    s.delivery
        .pending
        .iter()
        .filter_map(|p| match p.awaiting {
            Awaiting::Ack { due, .. } => Some(due),
            Awaiting::Connection => None,
        })
        .min()
}

/// Redelivers (or, past `max_retries`, abandons) every overdue envelope.
fn fire_due(s: &mut State, config: &SlackSimConfig, now: Instant) {
    let mut index = 0;
    while index < s.delivery.pending.len() {
        let p = &mut s.delivery.pending[index];
        let overdue = matches!(p.awaiting, Awaiting::Ack { due, .. } if due <= now);
        if !overdue {
            index += 1;
            continue;
        }
        if !p.env.kind.redelivered() {
            let id = p.env.id.clone();
            s.delivery.pending.remove(index);
            interactions::on_ack_timeout(s, &id);
            continue;
        }
        if p.attempt >= config.max_retries {
            tracing::debug!(envelope_id = %p.env.id, "envelope abandoned after retries");
            s.delivery.pending.remove(index);
            continue;
        }
        p.attempt += 1;
        p.reason = "timeout";
        if send(s, config, index) == Outcome::Pending {
            index += 1;
        }
    }
}

/// Sends the last event's envelope again at once (retry_attempt + 1,
/// retry_reason "timeout"), acked or not. Returns its id.
pub(crate) fn redeliver_last(s: &mut State, config: &SlackSimConfig) -> Option<String> {
    let env = s.delivery.last.clone()?;
    let attempt = s
        .rec
        .deliveries
        .iter()
        .filter(|d| d.envelope_id == env.id)
        .map(|d| d.retry_attempt + 1)
        .max()
        .unwrap_or(0);
    let index = match s.delivery.pending.iter().position(|p| p.env.id == env.id) {
        Some(i) => i,
        None => {
            s.delivery.pending.push(Pending {
                env: env.clone(),
                attempt,
                reason: "timeout",
                awaiting: Awaiting::Connection,
            });
            s.delivery.pending.len() - 1
        }
    };
    let p = &mut s.delivery.pending[index];
    p.attempt = attempt;
    p.reason = "timeout";
    let _ = send(s, config, index);
    Some(env.id)
}

/// The one timer: sleeps until the next redelivery deadline (re-reading it
/// on every state change) until the simulator shuts down.
pub(crate) fn spawn_redelivery(inner: Arc<Inner>) {
    tokio::spawn(async move {
        let mut rx = inner.subscribe();
        loop {
            rx.borrow_and_update();
            let due = inner.read(next_due);
            // Priority: shutdown, then a due deadline, then a state change
            // (which may move the deadline).
            tokio::select! {
                biased;
                () = inner.cancel.cancelled() => return,
                () = sleep_until_opt(due) => {
                    inner.update(|s| fire_due(s, &inner.config, Instant::now()));
                }
                changed = rx.changed() => {
                    if changed.is_err() {
                        return;
                    }
                }
            }
        }
    });
}

async fn sleep_until_opt(due: Option<Instant>) {
    match due {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};
    use std::time::Duration;

    use serde_json::json;
    use tokio::sync::mpsc;

    use super::*;
    use crate::sockets::{Conn, ConnPhase, Outgoing};

    fn retry_of(rx: &mut mpsc::UnboundedReceiver<Outgoing>) -> Option<(u64, String)> {
        match rx.try_recv().ok()? {
            Outgoing::Text(t) | Outgoing::Envelope { text: t, .. } => {
                let v: Value = serde_json::from_str(&t).unwrap();
                Some((
                    v["retry_attempt"].as_u64()?,
                    v["retry_reason"].as_str()?.to_owned(),
                ))
            }
            _ => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn redelivers_on_timeout_then_abandons() {
        let config = SlackSimConfig {
            ack_timeout: Duration::from_secs(3),
            max_retries: 2,
            ..SlackSimConfig::default()
        };
        let inner = Inner::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config);
        let (tx, mut rx) = mpsc::unbounded_channel();
        let conn = Conn {
            tx,
            phase: ConnPhase::Open,
            silent: false,
            hello_sent: true,
            muted: Default::default(),
        };
        let id = inner.update(|s| {
            s.sock.conns.insert(1, conn);
            deliver_event(s, &inner.config, json!({ "type": "message" }))
        });
        assert_eq!(retry_of(&mut rx), Some((0, String::new())));
        let start = Instant::now();
        assert_eq!(inner.read(next_due), Some(start + Duration::from_secs(3)));

        tokio::time::advance(Duration::from_millis(2_999)).await;
        inner.update(|s| fire_due(s, &inner.config, Instant::now()));
        assert_eq!(retry_of(&mut rx), None);
        tokio::time::advance(Duration::from_millis(1)).await;
        inner.update(|s| fire_due(s, &inner.config, Instant::now()));
        assert_eq!(retry_of(&mut rx), Some((1, "timeout".to_owned())));
        tokio::time::advance(Duration::from_secs(3)).await;
        inner.update(|s| fire_due(s, &inner.config, Instant::now()));
        assert_eq!(retry_of(&mut rx), Some((2, "timeout".to_owned())));
        tokio::time::advance(Duration::from_secs(3)).await;
        inner.update(|s| fire_due(s, &inner.config, Instant::now()));
        assert_eq!(retry_of(&mut rx), None);
        assert!(inner.read(|s| s.delivery.unacked()).is_empty());
        let attempts: Vec<u32> =
            inner.read(|s| s.rec.deliveries.iter().map(|d| d.retry_attempt).collect());
        assert_eq!(attempts, [0, 1, 2]);
        inner.update(|s| on_ack(s, &inner.config, 1, &id, None));
        assert_eq!(
            inner.read(|s| s.rec.acks[0].latency),
            None,
            "ack after abandonment"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn ack_latency_is_measured_from_the_latest_send() {
        let inner = Inner::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            SlackSimConfig::default(),
        );
        let (tx, _rx) = mpsc::unbounded_channel();
        let conn = Conn {
            tx,
            phase: ConnPhase::Open,
            silent: false,
            hello_sent: true,
            muted: Default::default(),
        };
        let id = inner.update(|s| {
            s.sock.conns.insert(7, conn);
            deliver_event(s, &inner.config, json!({ "type": "message" }))
        });
        tokio::time::advance(Duration::from_millis(250)).await;
        inner.update(|s| on_ack(s, &inner.config, 7, &id, Some(json!({}))));
        let ack = inner.read(|s| s.rec.acks[0].clone());
        assert_eq!(ack.latency, Some(Duration::from_millis(250)));
        assert_eq!(ack.connection_id, 7);
        assert!(inner.read(next_due).is_none());
    }
}
