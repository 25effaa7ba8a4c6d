//! The one listener: the Web API under `api_base_path`, Socket Mode on
//! `/socket?ticket=...`, and the control API under `/_sim`.
//!
//! Owns only routing and the serve task; it must never implement protocol
//! behaviour itself (that is `web`, `socket` and `control`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::json;
use tokio::net::TcpListener;

use crate::state::Inner;
use crate::{control, socket, web};

/// Serves until `inner.cancel` fires.
pub(crate) fn spawn(inner: Arc<Inner>, listener: TcpListener) {
    let cancel = inner.cancel.clone();
    let base = inner.config.api_base_path.trim_end_matches('/').to_owned();
    let app = Router::new()
        .route(&format!("{base}/{{method}}"), any(web::entry))
        .route("/socket", get(upgrade))
        .nest("/_sim", control::router())
        .fallback(not_found)
        .with_state(inner);
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await;
        if let Err(error) = served {
            tracing::warn!(%error, "slack-sim listener ended");
        }
    });
}

async fn upgrade(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    match ws {
        Ok(ws) => socket::accept(inner, ws, q.get("ticket").cloned().unwrap_or_default()),
        Err(_) => (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({ "ok": false, "error": "websocket_upgrade_required" })),
        )
            .into_response(),
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "ok": false, "error": "not_found" })),
    )
        .into_response()
}
