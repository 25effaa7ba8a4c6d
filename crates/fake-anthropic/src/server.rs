//! The HTTP side: `HEAD /` (and `GET /`) 200; `POST /v1/messages` (any
//! query, any key) answered by the script, streamed or not as the body
//! asks; `POST /v1/messages/count_tokens`; anything else 404 with the
//! API's JSON error. Every request is recorded.
//!
//! Must never: check credentials (any x-api-key is accepted), or reach the
//! network beyond its own listener.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, OriginalUri, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::records::{RecordedRequest, Records};
use crate::script;
use crate::sse;

/// Largest request body read (Claude Code sends its whole system prompt
/// and tool list each time, well under this); larger ones get 413.
const BODY_LIMIT: usize = 32 * 1024 * 1024;

pub(crate) struct Shared {
    pub(crate) records: Records,
    pub(crate) event_delay: Duration,
    pub(crate) dump_dir: Option<std::path::PathBuf>,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(shared)
}

fn record(
    method: &Method,
    uri: &OriginalUri,
    answered: &str,
    status: StatusCode,
) -> RecordedRequest {
    RecordedRequest {
        method: method.to_string(),
        path: uri.0.to_string(),
        model: None,
        stream: false,
        has_tools: false,
        messages: 0,
        last_user_text: String::new(),
        tool_result: None,
        answered: answered.to_owned(),
        status: status.as_u16(),
    }
}

async fn root(State(shared): State<Arc<Shared>>, method: Method, uri: OriginalUri) -> StatusCode {
    shared
        .records
        .push(record(&method, &uri, "ok", StatusCode::OK));
    StatusCode::OK
}

async fn not_found(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: OriginalUri,
) -> Response {
    tracing::warn!(%method, path = %uri.0, "fake-anthropic: unknown path");
    shared
        .records
        .push(record(&method, &uri, "not_found", StatusCode::NOT_FOUND));
    let message = format!("fake-anthropic does not serve {method} {}", uri.0.path());
    (
        StatusCode::NOT_FOUND,
        axum::Json(sse::error_json("not_found_error", &message)),
    )
        .into_response()
}

/// The 400 answer (recorded) to a body that is not JSON.
fn refuse(
    shared: &Shared,
    method: &Method,
    uri: &OriginalUri,
    err: &serde_json::Error,
) -> Response {
    shared
        .records
        .push(record(method, uri, "bad_request", StatusCode::BAD_REQUEST));
    let message = format!("request body is not JSON: {err}");
    (
        StatusCode::BAD_REQUEST,
        axum::Json(sse::error_json("invalid_request_error", &message)),
    )
        .into_response()
}

async fn count_tokens(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: OriginalUri,
    body: Bytes,
) -> Response {
    if let Err(err) = serde_json::from_slice::<Value>(&body) {
        return refuse(&shared, &method, &uri, &err);
    }
    shared
        .records
        .push(record(&method, &uri, "count_tokens", StatusCode::OK));
    axum::Json(json!({ "input_tokens": (body.len() / 4).max(1) })).into_response()
}

async fn messages(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: OriginalUri,
    body: Bytes,
) -> Response {
    let request: Value = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(err) => return refuse(&shared, &method, &uri, &err),
    };
    let sequence = shared.records.next_sequence();
    if let Some(dir) = &shared.dump_dir {
        let file = dir.join(format!("{sequence:06}.json"));
        if let Err(err) = std::fs::write(&file, &body) {
            tracing::warn!(%err, file = %file.display(), "fake-anthropic: cannot dump the body");
        }
    }
    let last = script::last_message(&request);
    let tools_offered = request["tools"].as_array().is_some_and(|t| !t.is_empty());
    let reply = script::reply(&last, tools_offered, sequence);
    let model = request["model"]
        .as_str()
        .unwrap_or("claude-fake")
        .to_owned();
    let stream = request["stream"].as_bool() == Some(true);
    let usage = sse::usage(body.len(), &reply);
    let id = format!("msg_fake{sequence:06}");
    tracing::info!(
        path = %uri.0, %model, stream, answered = %reply.kind(),
        text = %last.text.chars().take(80).collect::<String>(),
        "fake-anthropic: messages"
    );
    shared.records.push(RecordedRequest {
        model: Some(model.clone()),
        stream,
        has_tools: tools_offered,
        messages: request["messages"].as_array().map_or(0, Vec::len),
        last_user_text: last.text,
        tool_result: last.tool_result,
        ..record(&method, &uri, &reply.kind(), StatusCode::OK)
    });
    if !stream {
        return axum::Json(sse::message_json(&id, &model, &reply, usage)).into_response();
    }
    let delay = shared.event_delay;
    let events = sse::stream_events(&id, &model, &reply, usage);
    let body = futures_util::stream::iter(events).then(move |event| async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Ok::<_, Infallible>(event.to_wire())
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(body))
        .expect("static headers are valid")
}
