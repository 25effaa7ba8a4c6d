//! The operator's window: /livez, /readyz, /status, /metrics over HTTP.
//!
//! Everything shown is read from [`HealthRegistry`] and [`Metrics`] at
//! request time; nothing here holds state of its own or knows any platform.
//! Never shows a secret: health snapshots carry none.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::health::HealthRegistry;
use crate::metrics::Metrics;
use crate::store::{Store, now_ms};

#[derive(Clone)]
struct AdminState {
    health: HealthRegistry,
    metrics: Metrics,
    store: Option<Store>,
    started: Instant,
}

/// How long /status and /metrics wait for the journal backlog before
/// showing the last figures read: the operator's window answers at once,
/// even while the store does not.
const BACKLOG_WITHIN: Duration = Duration::from_secs(1);

impl AdminState {
    /// Read the journal backlog into the store figures before showing them
    /// (within [`BACKLOG_WITHIN`]; not while the store is known
    /// unreachable, when a read would wait out the pool's acquire timeout:
    /// the last figures stand, and the readiness reasons say why).
    async fn refresh_store(&self) {
        let Some(store) = &self.store else { return };
        if self.health.pipeline.figures().intake_paused {
            return;
        }
        let Ok(read) = tokio::time::timeout(BACKLOG_WITHIN, store.journal_backlog()).await else {
            return;
        };
        match read {
            Ok(backlog) => {
                let age = backlog
                    .oldest_unanswered_ms
                    .map(|at| (now_ms() - at).max(0) as u64);
                self.health.store.set_backlog(backlog.unanswered, age);
            }
            Err(err) => self
                .health
                .store
                .record_error(&format!("journal backlog: {err}")),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "admin.listen: cannot listen on {addr}: {source}. Choose a free address in [admin] listen (\"127.0.0.1:0\" picks any free port)"
)]
pub struct AdminBindError {
    addr: SocketAddr,
    source: std::io::Error,
}

/// A bound admin listener, ready to serve.
pub struct AdminServer {
    listener: TcpListener,
    router: Router,
}

impl AdminServer {
    pub async fn bind(
        addr: SocketAddr,
        health: HealthRegistry,
        metrics: Metrics,
        store: Option<Store>,
    ) -> Result<Self, AdminBindError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| AdminBindError { addr, source })?;
        let state = AdminState {
            health,
            metrics,
            store,
            started: Instant::now(),
        };
        let router = Router::new()
            .route("/livez", get(livez))
            .route("/readyz", get(readyz))
            .route("/status", get(status))
            .route("/metrics", get(metrics_text))
            .with_state(state);
        Ok(Self { listener, router })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serve until `shutdown`.
    pub async fn serve(self, shutdown: CancellationToken) {
        let result = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
        if let Err(err) = result {
            tracing::error!(%err, "admin API stopped");
        }
    }
}

/// 200 while the runtime still schedules the intake's heartbeat.
async fn livez(State(state): State<AdminState>) -> Response {
    match state.health.pipeline.not_live_reason() {
        None => "ok\n".into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "live": false, "reason": reason })),
        )
            .into_response(),
    }
}

async fn readyz(State(state): State<AdminState>) -> Response {
    match state.health.readiness() {
        Ok(()) => (StatusCode::OK, Json(json!({ "ready": true }))).into_response(),
        Err(reasons) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ready": false, "reason": reasons.join("; "), "reasons": reasons })),
        )
            .into_response(),
    }
}

async fn status(State(state): State<AdminState>) -> Json<serde_json::Value> {
    state.refresh_store().await;
    let connections: Vec<_> = state
        .health
        .snapshots()
        .iter()
        .map(|s| s.to_status())
        .collect();
    Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_ms": state.started.elapsed().as_millis() as u64,
        "ready": state.health.readiness().is_ok(),
        "connections": connections,
        "store": state.health.store.figures(),
        "pipeline": state.health.pipeline.figures(),
        "catch_up": state.health.catch_up.figures(),
        "delivery": state.health.delivery.figures(),
        "cluster": state.health.cluster.figures(),
        "sessions": state.health.pools().into_iter().map(|(name, f)| json!({
            "platform": name, "max": f.max, "busy": f.busy, "idle": f.idle, "live": f.busy + f.idle,
        })).collect::<Vec<_>>(),
    }))
}

async fn metrics_text(State(state): State<AdminState>) -> Response {
    state.refresh_store().await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
