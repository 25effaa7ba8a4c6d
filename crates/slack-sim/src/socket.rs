//! The Socket Mode WebSocket: redeeming the one-time ticket on upgrade,
//! `hello`, disconnect messages, and one task per connection that writes
//! queued frames, reads acks, and closes or aborts when told.
//!
//! Owns the socket and nothing else: decisions are taken under the state
//! lock (`sockets`, `delivery`). A delayed envelope is held in the task
//! (with every envelope queued after it, so order holds) while other
//! frames, pings and pongs go on at once. Every await on the peer has a deadline, and
//! a silent connection is not read at all, so its pings go unanswered
//! (axum answers pings only while the socket is read).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval};

use crate::config::SlackSimConfig;
use crate::delivery;
use crate::payloads;
use crate::protocol::DisconnectReason;
use crate::records::ConnectionRecord;
use crate::sockets::{Conn, ConnPhase, Outgoing, Sent};
use crate::state::{Inner, State};

/// How long a write or a close handshake may take before the peer counts
/// as gone.
const PEER_DEADLINE: Duration = Duration::from_secs(2);

/// Why a connection task ended.
#[derive(Debug)]
enum End {
    Shutdown,
    /// Close frame from the client (with its code).
    ClientClosed(Option<u16>),
    /// EOF or an error without a close frame.
    ClientGone,
    /// The sim closed it with a close frame (or silently, if half-open).
    SimClosed,
    /// The sim aborted the TCP flow.
    Aborted,
}

fn record(ticket: &str, id: u64, refused: bool) -> ConnectionRecord {
    let now = Instant::now();
    ConnectionRecord {
        id,
        opened_at: now,
        closed_at: refused.then_some(now),
        ticket: ticket.to_owned(),
        refused,
        closed_by_client: false,
        client_close_code: None,
        disconnects_sent: Vec::new(),
        aborted: false,
    }
}

/// Answers an upgrade on /socket: 401 unless the ticket is fresh.
pub(crate) fn accept(inner: Arc<Inner>, ws: WebSocketUpgrade, ticket: String) -> Response {
    let redeemed = inner.update(|s| {
        let ok = s.sock.redeem(&ticket);
        if !ok {
            let id = s.sock.next_id();
            s.rec.connections.push(record(&ticket, id, true));
        }
        ok
    });
    if !redeemed {
        tracing::debug!(%ticket, "refusing socket: unknown or used ticket");
        let body = json!({ "ok": false, "error": "invalid_ticket" });
        return (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    }
    ws.on_upgrade(move |socket| run(inner, socket, ticket))
}

/// Sends `hello` on a connection unless it is silent; then hands it what
/// waited for a connection.
pub(crate) fn say_hello(s: &mut State, config: &SlackSimConfig, conn_id: u64) {
    let frame = payloads::hello(config, s.sock.conns.len());
    if s.sock.send(conn_id, frame) == Sent::Queued {
        if let Some(conn) = s.sock.conns.get_mut(&conn_id) {
            conn.hello_sent = true;
        }
        delivery::on_connection_ready(s, config);
    }
}

/// Sends `{"type":"disconnect"}` and schedules the close the reason implies.
pub(crate) fn disconnect(
    s: &mut State,
    config: &SlackSimConfig,
    conn_id: u64,
    reason: DisconnectReason,
) {
    s.sock.send(conn_id, payloads::disconnect(reason));
    if let Some(rec) = s.rec.connection_mut(conn_id) {
        rec.disconnects_sent.push(reason);
    }
    s.sock
        .start_closing(conn_id, reason, reason.close_delay(config));
    if reason.disables_link() {
        s.switches.link_disabled = true;
    }
}

/// Registers the connection, says hello (or too_many_websockets), pumps.
async fn run(inner: Arc<Inner>, mut socket: WebSocket, ticket: String) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (conn_id, silent) = inner.update(|s| {
        let id = s.sock.next_id();
        let over_limit = s.sock.conns.len() >= inner.config.max_connections;
        s.rec.connections.push(record(&ticket, id, false));
        s.sock.conns.insert(
            id,
            Conn {
                tx,
                phase: ConnPhase::Open,
                silent: false,
                hello_sent: false,
                muted: s.sock.faults.muted_for_new_connections.clone(),
            },
        );
        if over_limit {
            disconnect(s, &inner.config, id, DisconnectReason::TooManyWebsockets);
        } else {
            say_hello(s, &inner.config, id);
        }
        (id, s.sock.is_silent(id))
    });
    tracing::debug!(conn_id, "socket mode connection opened");

    let end = pump(&inner, &mut socket, &mut rx, conn_id, silent).await;
    drop(socket);
    inner.update(|s| {
        s.sock.conns.remove(&conn_id);
        if let Some(rec) = s.rec.connection_mut(conn_id) {
            rec.closed_at = Some(Instant::now());
            match end {
                End::ClientClosed(code) => {
                    rec.closed_by_client = true;
                    rec.client_close_code = code;
                }
                End::ClientGone => rec.closed_by_client = true,
                End::Aborted => rec.aborted = true,
                End::Shutdown | End::SimClosed => {}
            }
        }
    });
    tracing::debug!(conn_id, ?end, "socket mode connection closed");
}

/// Runs until the connection ends.
async fn pump(
    inner: &Inner,
    socket: &mut WebSocket,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    conn_id: u64,
    mut silent: bool,
) -> End {
    let mut close_at: Option<Instant> = None;
    // Envelopes waiting for their time, in order. Bounded by what the sim
    // delivers within one configured delay; they die with the connection
    // (unacked, they are redelivered like any other).
    let mut held: VecDeque<(Instant, String)> = VecDeque::new();
    let mut pings = inner
        .config
        .server_ping_interval
        .map(|every| tokio::time::interval_at(Instant::now() + every, every));
    loop {
        let next_due = held.front().map(|(at, _)| *at);
        // Priority: shutdown, a due close, a held envelope whose time has
        // come, then our queued output (so a decided close or abort wins
        // over more input), pings, then input.
        tokio::select! {
            biased;
            () = inner.cancel.cancelled() => return End::Shutdown,
            () = sleep_until_opt(close_at) => {
                if !silent {
                    close(socket).await;
                }
                return End::SimClosed;
            }
            () = sleep_until_opt(next_due), if !silent => {
                if let Some((_, text)) = held.pop_front()
                    && !write_text(socket, text).await
                {
                    return End::ClientGone;
                }
            }
            cmd = rx.recv() => match cmd {
                Some(Outgoing::Text(text)) => {
                    if !write_text(socket, text).await {
                        return End::ClientGone;
                    }
                }
                Some(Outgoing::Envelope { text, not_before }) => {
                    if held.is_empty() && not_before <= Instant::now() {
                        if !write_text(socket, text).await {
                            return End::ClientGone;
                        }
                    } else {
                        held.push_back((not_before, text));
                    }
                }
                Some(Outgoing::Silence(on)) => silent = on,
                Some(Outgoing::CloseAfter(delay)) => close_at = Some(Instant::now() + delay),
                Some(Outgoing::Abort) | None => return End::Aborted,
            },
            () = tick(&mut pings), if !silent => {
                let ping = Message::Ping(axum::body::Bytes::from_static(b"slack-sim"));
                if !matches!(tokio::time::timeout(PEER_DEADLINE, socket.send(ping)).await, Ok(Ok(()))) {
                    return End::ClientGone;
                }
            }
            msg = socket.recv(), if !silent => match msg {
                None | Some(Err(_)) => return End::ClientGone,
                Some(Ok(Message::Text(text))) => handle_text(inner, conn_id, text.as_str()),
                Some(Ok(Message::Close(frame))) => {
                    // Flush our close reply (queued by the WebSocket layer).
                    let _ = tokio::time::timeout(PEER_DEADLINE, socket.close()).await;
                    return End::ClientClosed(frame.map(|f| f.code));
                }
                // Pings are answered by the WebSocket layer as they are read.
                Some(Ok(Message::Binary(_) | Message::Ping(_) | Message::Pong(_))) => {}
            },
        }
    }
}

/// Writes one text frame within `PEER_DEADLINE`; false when the peer is gone.
async fn write_text(socket: &mut WebSocket, text: String) -> bool {
    let sent = tokio::time::timeout(PEER_DEADLINE, socket.send(Message::Text(text.into()))).await;
    matches!(sent, Ok(Ok(())))
}

/// A client frame: in Socket Mode only acks (`{"envelope_id", "payload"?}`).
fn handle_text(inner: &Inner, conn_id: u64, text: &str) {
    tracing::debug!(conn_id, frame = %text, "client -> sim");
    let Ok(v) = serde_json::from_str::<Value>(text) else {
        tracing::warn!(conn_id, "client sent non-JSON text");
        return;
    };
    let Some(envelope_id) = v.get("envelope_id").and_then(Value::as_str) else {
        tracing::warn!(conn_id, frame = %text, "client frame without envelope_id");
        return;
    };
    let payload = v.get("payload").cloned();
    inner.update(|s| delivery::on_ack(s, &inner.config, conn_id, envelope_id, payload));
}

/// Sends a normal close frame and waits (with a deadline) for the reply.
async fn close(socket: &mut WebSocket) {
    let frame = CloseFrame {
        code: 1000,
        reason: "".into(),
    };
    let sent = tokio::time::timeout(PEER_DEADLINE, socket.send(Message::Close(Some(frame)))).await;
    if matches!(sent, Ok(Ok(()))) {
        let _ = tokio::time::timeout(PEER_DEADLINE, async {
            while let Some(Ok(msg)) = socket.recv().await {
                if matches!(msg, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn tick(interval: &mut Option<Interval>) {
    match interval {
        Some(i) => {
            i.tick().await;
        }
        None => std::future::pending().await,
    }
}
