//! The demo agent's side of the wire: writing JSON-RPC lines to stdout and
//! matching the client's replies to the requests it sent.
//!
//! Owns: stdout (one line per message, flushed), the outbound request map.
//!
//! Must never: hold the std lock across an `.await`, or write anything to
//! stdout that is not one JSON-RPC message per line (stdout is the channel),
//! except the `[[flood:N]]` directive's deliberate breakage.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};

use agent_client_protocol_schema::v1::{
    Error as RpcError, RequestId, SessionNotification, SessionUpdate,
};
use serde::Serialize;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

use crate::agent::rpc;

type Waiters = HashMap<i64, oneshot::Sender<Result<Value, RpcError>>>;

/// Write `n` bytes of `x` to `out` (then a newline if `newline`), flushed.
async fn flood(
    out: &mut (impl tokio::io::AsyncWrite + Unpin),
    n: u64,
    newline: bool,
) -> std::io::Result<()> {
    const BLOCK: usize = 1 << 20;
    let block = vec![b'x'; BLOCK];
    let mut left = n;
    while left > 0 {
        let size = usize::try_from(left.min(BLOCK as u64)).unwrap_or(BLOCK);
        out.write_all(&block[..size]).await?;
        left -= size as u64;
    }
    if newline {
        out.write_all(b"\n").await?;
    }
    out.flush().await
}

/// Our connection to the client.
pub struct Peer {
    out: tokio::sync::Mutex<tokio::io::Stdout>,
    waiting: Mutex<Waiters>,
    next_id: AtomicI64,
}

impl Peer {
    /// Writing to this process's stdout.
    pub fn stdout() -> Self {
        Self {
            out: tokio::sync::Mutex::new(tokio::io::stdout()),
            waiting: Mutex::new(HashMap::new()),
            next_id: AtomicI64::new(0),
        }
    }

    /// Write one line (a newline is added) and flush.
    pub async fn send_line(&self, line: &str) {
        let mut out = self.out.lock().await;
        let written = async {
            out.write_all(line.as_bytes()).await?;
            out.write_all(b"\n").await?;
            out.flush().await
        }
        .await;
        if let Err(err) = written {
            eprintln!("demo-agent: stdout closed ({err}); exiting");
            std::process::exit(0);
        }
    }

    /// `[[flood:N]]`: N bytes of `x` on stdout and no newline, as a broken
    /// agent would write (in 1 MiB writes; the reader's limit stops us).
    pub async fn flood_stdout(&self, n: u64) {
        let mut out = self.out.lock().await;
        if flood(&mut *out, n, false).await.is_err() {
            eprintln!("demo-agent: stdout closed during the flood; exiting");
            std::process::exit(0);
        }
    }

    /// `[[flood-stderr:N]]`: one stderr line of N bytes.
    pub async fn flood_stderr(&self, n: u64) {
        let _ = flood(&mut tokio::io::stderr(), n, true).await;
    }

    /// Answer a request.
    pub async fn respond(&self, id: RequestId, result: &impl Serialize) {
        self.send_line(&rpc::response(id, result)).await;
    }

    /// Answer a request with an error.
    pub async fn fail(&self, id: RequestId, error: RpcError) {
        self.send_line(&rpc::error_response(id, error)).await;
    }

    /// Send a `session/update` given as raw JSON (kinds the schema crate
    /// gates behind features, or that tests want exactly so).
    pub async fn update_raw(&self, session_id: &str, update: Value) {
        let notification = serde_json::json!({ "sessionId": session_id, "update": update });
        self.send_line(&rpc::notification("session/update", &notification))
            .await;
    }

    /// Send a `session/update`.
    pub async fn update(&self, session_id: &str, update: SessionUpdate) {
        let notification = SessionNotification::new(session_id.to_owned(), update);
        self.send_line(&rpc::notification("session/update", &notification))
            .await;
    }

    /// Send a request and wait for the client's answer (`Err` also when the
    /// connection ends first).
    pub async fn request(&self, method: &str, params: &impl Serialize) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) + 1;
        let (tx, rx) = oneshot::channel();
        self.waiters().insert(id, tx);
        self.send_line(&rpc::request(id, method, params)).await;
        rx.await.unwrap_or_else(|_| {
            Err(RpcError::internal_error().data(Value::from("connection closed")))
        })
    }

    /// Route the client's answer to the request waiting for it.
    pub fn on_response(&self, id: &RequestId, result: Result<Value, RpcError>) {
        let waiter = match id {
            RequestId::Number(n) => self.waiters().remove(n),
            _ => None,
        };
        match waiter {
            Some(waiter) => {
                let _ = waiter.send(result);
            }
            None => eprintln!("demo-agent: answer to unknown request {id}"),
        }
    }

    fn waiters(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
