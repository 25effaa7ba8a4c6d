//! The Web API under `api_base_path`: parameters from the query and a form
//! or JSON body, then the pipeline (injected faults, method lookup, auth
//! and token type, rate limits, the method), Slack-style answers (HTTP 200
//! with `"ok"`, except 429 + Retry-After and injected 5xx), recording
//! every call, and response faults (the answer lost or late after the call
//! took effect).
//!
//! The pipeline runs synchronously under the state lock (no awaits), so a
//! call and the events it causes are atomic.

mod methods;
mod params;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{Fault, ResponseFault, TokenKind};
use crate::protocol::ApiError;
use crate::records::{OpenRecord, WebCall};
use crate::state::{Inner, State, Window};

pub(crate) use methods::Method;
use params::Params;

/// A Web API answer before it becomes an HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    pub retry_after: Option<u64>,
}

impl Reply {
    /// HTTP 200 with `"ok": true` added to `body` (an object).
    pub fn ok(mut body: Value) -> Self {
        body["ok"] = json!(true);
        Self {
            status: 200,
            body,
            retry_after: None,
        }
    }

    /// HTTP 200 `{"ok": false, "error": code}`.
    pub fn error(code: &str) -> Self {
        Self::status_error(200, code)
    }

    pub fn status_error(status: u16, code: &str) -> Self {
        Self {
            status,
            body: json!({ "ok": false, "error": code }),
            retry_after: None,
        }
    }

    fn rate_limited(retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::status_error(429, "ratelimited")
        }
    }

    fn error_code(&self) -> Option<String> {
        self.body
            .get("error")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Self {
        Reply::error(e.as_str())
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// axum handler for `{api_base_path}/{method}` (any HTTP verb).
pub(crate) async fn entry(
    AxumState(inner): AxumState<Arc<Inner>>,
    Path(method): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = Instant::now();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let params = Params::parse(uri.query(), content_type, &body);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let (reply, after) = inner.update(|s| {
        let reply = match &params {
            Ok(p) => pipeline(&inner, s, &method, bearer.as_deref(), p, now),
            Err(e) => Reply::from(e.clone()),
        };
        record(s, &method, &params, &reply, now);
        (reply, take_response_fault(s, &method))
    });
    tracing::debug!(%method, status = reply.status, error = ?reply.error_code(), "web api");
    match after {
        None => {}
        Some(ResponseFault::Delay(delay)) => tokio::time::sleep(delay).await,
        // Unwinding out of the handler ends the connection's task: the
        // socket closes with no answer at all. `resume_unwind` runs no
        // panic hook, so this prints nothing.
        Some(ResponseFault::Lose) => {
            std::panic::resume_unwind(Box::new("response lost on purpose"))
        }
    }
    reply.into_response()
}

/// Takes one use of the first response fault whose substring is in `method`.
fn take_response_fault(s: &mut State, method: &str) -> Option<ResponseFault> {
    let faults = &mut s.web.response_faults;
    let index = faults
        .iter()
        .position(|f| f.remaining > 0 && method.contains(&f.method_contains))?;
    faults[index].remaining -= 1;
    let fault = faults[index].fault.clone();
    if faults[index].remaining == 0 {
        faults.remove(index);
    }
    Some(fault)
}

fn record(
    s: &mut State,
    method: &str,
    params: &Result<Params, ApiError>,
    reply: &Reply,
    now: Instant,
) {
    let error = reply.error_code();
    let ok = reply
        .body
        .get("ok")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if method == Method::AppsConnectionsOpen.name() {
        let url = reply
            .body
            .get("url")
            .and_then(Value::as_str)
            .map(str::to_owned);
        s.rec.opens.push(OpenRecord {
            at: now,
            ok,
            error: error.clone(),
            ticket: url.as_deref().and_then(ticket_of).map(str::to_owned),
            url,
        });
    }
    s.rec.web_calls.push(WebCall {
        at: now,
        method: method.to_owned(),
        params: params.as_ref().map_or(Value::Null, Params::to_json),
        status: reply.status,
        ok,
        error,
    });
}

/// The ticket in a socket URL.
fn ticket_of(url: &str) -> Option<&str> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("ticket="))
}

fn pipeline(
    inner: &Inner,
    s: &mut State,
    name: &str,
    bearer: Option<&str>,
    params: &Params,
    now: Instant,
) -> Reply {
    if let Some(fault) = take_fault(s, name) {
        return match fault {
            Fault::RateLimited { retry_after_secs } => Reply::rate_limited(retry_after_secs),
            Fault::Error(code) => Reply::error(&code),
            Fault::ServerError(status) => Reply::status_error(status, "internal_error"),
        };
    }
    let Some(method) = Method::parse(name) else {
        return ApiError::UnknownMethod.into();
    };
    // apps.connections.open takes the token from the header only.
    let token = match method.token_kind() {
        TokenKind::App => bearer.map(str::to_owned),
        TokenKind::Bot => bearer.map(str::to_owned).or_else(|| params.str("token")),
    };
    let Some(token) = token else {
        return ApiError::NotAuthed.into();
    };
    match inner.token_kind(s, &token) {
        None => return ApiError::InvalidAuth.into(),
        Some(kind) if kind != method.token_kind() => return ApiError::NotAllowedTokenType.into(),
        Some(_) => {}
    }
    if let Some(retry_after_secs) = over_limit(s, name, now) {
        return Reply::rate_limited(retry_after_secs);
    }
    match methods::handle(inner, s, method, params) {
        Ok(reply) => reply,
        Err(e) => e.into(),
    }
}

/// Takes one use of the first injected fault whose substring is in `method`.
fn take_fault(s: &mut State, method: &str) -> Option<Fault> {
    let index = s
        .web
        .faults
        .iter()
        .position(|f| f.remaining > 0 && method.contains(&f.method_contains))?;
    let pending = &mut s.web.faults[index];
    pending.remaining -= 1;
    let fault = pending.fault.clone();
    if pending.remaining == 0 {
        s.web.faults.remove(index);
    }
    Some(fault)
}

/// Counts a call against its method's window; `Some(retry_after_secs)`
/// when over the limit (rounded up, at least 1).
fn over_limit(s: &mut State, method: &str, now: Instant) -> Option<u64> {
    let limit = *s.web.limits.get(method)?;
    let w = s.web.windows.entry(method.to_owned()).or_insert(Window {
        start: now,
        count: 0,
    });
    if now.saturating_duration_since(w.start) >= limit.window {
        *w = Window {
            start: now,
            count: 0,
        };
    }
    if w.count >= limit.limit {
        let left = limit
            .window
            .saturating_sub(now.saturating_duration_since(w.start));
        return Some(left.as_secs_f64().ceil().max(1.0) as u64);
    }
    w.count += 1;
    None
}
