//! The gateway WebSocket: accepting (or refusing) an upgrade, and one task
//! per connection that writes queued frames and feeds received ones to
//! `ops`. A delayed dispatch is held in the task (with every dispatch
//! queued after it, so order holds) while other frames, heartbeat ACKs
//! included, go out at once.
//!
//! Owns the socket and nothing else: every decision is taken in `ops` /
//! `sessions` under the state lock. It must never hold the lock across an
//! await (it only calls synchronous `Inner::update` closures).

pub(crate) mod ops;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures_util::SinkExt;
use serde_json::json;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::payloads::{self, op};
use crate::records::ConnectionRecord;
use crate::sessions::{Conn, Outgoing};
use crate::state::Inner;

/// How long a sim-initiated close waits for the client's close reply.
const CLOSE_REPLY_WAIT: Duration = Duration::from_secs(1);

/// Op 10 Hello for this sim.
pub(crate) fn hello(inner: &Inner) -> String {
    let ms = inner.config.heartbeat_interval.as_millis() as u64;
    payloads::frame(op::HELLO, json!({ "heartbeat_interval": ms }), None, None)
}

/// Answers a WebSocket upgrade request: 503 while refusing, else upgrades.
pub(crate) fn accept(inner: Arc<Inner>, ws: WebSocketUpgrade, path: String) -> Response {
    let now = Instant::now();
    let refused = inner.update(|s| {
        if !s.switches.refusing(now) {
            return false;
        }
        let id = s.gw.next_conn_id;
        s.gw.next_conn_id += 1;
        s.rec.connections.push(ConnectionRecord {
            id,
            opened_at: now,
            closed_at: Some(now),
            close_code_from_client: None,
            close_code_from_sim: None,
            refused: true,
            path: path.clone(),
        });
        true
    });
    if refused {
        tracing::debug!(%path, "refusing gateway connection");
        let body = json!({ "message": "503: Service Unavailable", "code": 0 });
        return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    }
    ws.on_upgrade(move |socket| run(inner, socket, path))
}

/// Registers the connection, says Hello (unless silent), then pumps frames.
async fn run(inner: Arc<Inner>, mut socket: WebSocket, path: String) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let hello = hello(&inner);
    let conn_id = inner.update(|s| {
        let id = s.gw.next_conn_id;
        s.gw.next_conn_id += 1;
        s.gw.conns.insert(
            id,
            Conn {
                tx,
                path: path.clone(),
                hello_sent: false,
                session: None,
                last_sent_seq: 0,
            },
        );
        s.rec.connections.push(ConnectionRecord {
            id,
            opened_at: Instant::now(),
            closed_at: None,
            close_code_from_client: None,
            close_code_from_sim: None,
            refused: false,
            path: path.clone(),
        });
        if s.gw.send(id, hello)
            && let Some(conn) = s.gw.conns.get_mut(&id)
        {
            conn.hello_sent = true;
        }
        id
    });
    tracing::debug!(conn_id, %path, "gateway connection opened");

    let client_code = pump(&inner, &mut socket, &mut rx, conn_id).await;
    drop(socket);
    inner.update(|s| {
        if let Some(rec) = s.rec.connection_mut(conn_id) {
            rec.closed_at = Some(Instant::now());
            rec.close_code_from_client = client_code;
        }
        s.gw.connection_closed(conn_id, client_code);
    });
    tracing::debug!(conn_id, ?client_code, "gateway connection closed");
}

/// Runs until the connection ends; returns the client's close code, if any.
async fn pump(
    inner: &Inner,
    socket: &mut WebSocket,
    rx: &mut mpsc::UnboundedReceiver<Outgoing>,
    conn_id: u64,
) -> Option<u16> {
    // Dispatches waiting for their time, in sequence order. Bounded by what
    // the sim dispatches within one configured delay; they die with the
    // connection (the session's buffer keeps them for a resume).
    let mut held: VecDeque<(Instant, String)> = VecDeque::new();
    loop {
        let next_due = held.front().map(|(at, _)| *at);
        // Priority: shutdown, then a held dispatch whose time has come, then
        // our queued output (so a close we decided on goes out before more
        // input is read), then client input.
        tokio::select! {
            biased;
            () = inner.cancel.cancelled() => return None,
            () = sleep_until_opt(next_due) => {
                if let Some((_, text)) = held.pop_front()
                    && socket.send(Message::Text(text.into())).await.is_err()
                {
                    return None;
                }
            }
            cmd = rx.recv() => match cmd {
                Some(Outgoing::Text(text)) => {
                    if socket.send(Message::Text(text.into())).await.is_err() {
                        return None;
                    }
                }
                Some(Outgoing::Dispatch { text, not_before }) => {
                    if held.is_empty() && not_before <= Instant::now() {
                        if socket.send(Message::Text(text.into())).await.is_err() {
                            return None;
                        }
                    } else {
                        held.push_back((not_before, text));
                    }
                }
                Some(Outgoing::Close(code, reason)) => {
                    let frame = CloseFrame { code, reason: reason.into() };
                    if socket.send(Message::Close(Some(frame))).await.is_ok() {
                        await_close_reply(socket).await;
                    }
                    return None;
                }
                Some(Outgoing::Abort) | None => return None,
            },
            msg = socket.recv() => match msg {
                None | Some(Err(_)) => return None,
                Some(Ok(Message::Text(text))) => {
                    tracing::debug!(conn_id, frame = %text.as_str(), "client -> sim");
                    ops::handle_text(inner, conn_id, text.as_str());
                }
                Some(Ok(Message::Binary(_))) => {
                    ops::handle_text(inner, conn_id, "\u{0}binary");
                }
                Some(Ok(Message::Close(frame))) => {
                    // Flush our close reply (queued by the WebSocket layer).
                    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, socket.close()).await;
                    return Some(frame.map_or(1005, |f| f.code));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            },
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// After sending a close frame, reads (and discards) until the client's
/// close reply or EOF, with a deadline: never wait on a dead peer.
async fn await_close_reply(socket: &mut WebSocket) {
    let _ = tokio::time::timeout(CLOSE_REPLY_WAIT, async {
        while let Some(Ok(msg)) = socket.recv().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}
