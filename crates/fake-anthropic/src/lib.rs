//! fake-anthropic: a small fake of the Anthropic Messages API for offline
//! tests of agents built on it (Claude Code through its ACP adapter). It
//! listens on loopback; point `ANTHROPIC_BASE_URL` at [`FakeAnthropic::base_url`].
//! Replies are scripted by the last message's text (see `script`), so a
//! test steers the "model" with its prompt: plain text is echoed,
//! `[[bash:cmd]]` asks for the Bash tool, `[[write:path:content]]` for
//! Write, and a tool result ends the turn with "done: ...".
//!
//! Module map:
//! - `script`   the request -> reply rules (pure)
//! - `sse`      the reply as the API streams it (SSE) or as one JSON message
//! - `server`   the HTTP routes and request recording
//! - `records`  what tests assert on (bounded)
//!
//! Must never: reach the real API or any other network peer, or keep state
//! that changes an answer (the same request gets the same reply, ids aside).

mod records;
pub mod script;
mod server;
pub mod sse;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use records::{MAX_RECORDS, RecordedRequest};

/// How the fake answers.
#[derive(Debug, Clone, Default)]
pub struct FakeConfig {
    /// Pause before each server-sent event (zero: none), to make a streamed
    /// answer last long enough to be cancelled mid-way.
    pub event_delay: Duration,
    /// When set, each request body is written to `<dir>/<n>.json` (for
    /// seeing what an agent sends; tests leave it unset).
    pub dump_dir: Option<std::path::PathBuf>,
}

/// A running fake; the server stops when this is dropped.
pub struct FakeAnthropic {
    addr: SocketAddr,
    shared: Arc<server::Shared>,
    task: JoinHandle<()>,
}

impl FakeAnthropic {
    /// Start on 127.0.0.1 on a free port with the default config.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_on(
            "127.0.0.1:0".parse().expect("literal address"),
            FakeConfig::default(),
        )
        .await
    }

    /// Start on `addr` with `config`.
    pub async fn start_on(addr: SocketAddr, config: FakeConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(server::Shared {
            records: records::Records::default(),
            event_delay: config.event_delay,
            dump_dir: config.dump_dir,
        });
        let app = server::router(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app).await {
                tracing::error!(%err, "fake-anthropic: server ended");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash), for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request recorded so far (up to [`MAX_RECORDS`], oldest first).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.records.all()
    }

    /// How many old records were dropped to stay within [`MAX_RECORDS`].
    pub fn dropped_records(&self) -> u64 {
        self.shared.records.dropped()
    }

    /// Wait up to `timeout` until `f` over the records returns `Some`;
    /// `None` when the deadline passes first. Wakes on each new record.
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&[RecordedRequest]) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut changed = self.shared.records.subscribe();
        loop {
            changed.borrow_and_update();
            if let Some(found) = f(&self.requests()) {
                return Some(found);
            }
            tokio::select! {
                result = changed.changed() => {
                    if result.is_err() {
                        return f(&self.requests());
                    }
                }
                () = tokio::time::sleep_until(deadline) => return f(&self.requests()),
            }
        }
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.task.abort();
    }
}
