//! The one listener: HTTP REST under /api/v10, the control API under /_sim,
//! and the gateway WebSocket upgrade on any other path.
//!
//! Owns only routing and the serve task; it must never implement protocol
//! behaviour itself (that is `gateway`, `rest` and `control`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::ws::{WebSocketUpgrade, rejection::WebSocketUpgradeRejection};
use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;
use tokio::net::TcpListener;

use crate::state::Inner;
use crate::{control, gateway, rest};

/// Serves until `inner.cancel` fires.
pub(crate) fn spawn(inner: Arc<Inner>, listener: TcpListener) {
    let cancel = inner.cancel.clone();
    let app = Router::new()
        .route("/api/v10/{*rest}", any(rest::entry))
        .nest("/_sim", control::router())
        .fallback(fallback)
        .with_state(inner);
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(cancel.cancelled_owned())
        .await;
        if let Err(error) = served {
            tracing::warn!(%error, "discord-sim listener ended");
        }
    });
}

/// Gateway upgrade on any path (twilight connects to `/?v=10&encoding=json`).
async fn fallback(
    State(inner): State<Arc<Inner>>,
    OriginalUri(uri): OriginalUri,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), ToString::to_string);
    match ws {
        Ok(ws) => gateway::accept(inner, ws, path),
        Err(_) => (
            StatusCode::NOT_FOUND,
            axum::Json(json!({ "message": "404: Not Found", "code": 0 })),
        )
            .into_response(),
    }
}
