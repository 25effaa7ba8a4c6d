//! The REST API under /api/v10: the request pipeline (injected faults, then
//! auth (the bot token; interaction callbacks and webhooks carry their
//! interaction token instead), then rate limits, then the route),
//! Discord-style error bodies, the X-RateLimit-* headers, recording every
//! call, and response faults (the answer lost or late after the request
//! took effect).
//!
//! The whole pipeline runs synchronously under the state lock (no awaits),
//! so a request and the dispatches it causes are atomic.

mod interaction_routes;
pub(crate) mod nonce;
pub(crate) mod ratelimit;
mod routes;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::config::{ResponseFault, RestFault};
use crate::records::RestCall;
use crate::state::{Inner, State};

/// A REST answer before it becomes an HTTP response.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn no_content() -> Self {
        Self {
            status: 204,
            body: None,
            headers: Vec::new(),
        }
    }

    /// `{"message", "code"}` as Discord's JSON errors.
    pub fn error(status: u16, code: u64, message: &str) -> Self {
        Self::json(status, json!({ "message": message, "code": code }))
    }

    /// 400 Invalid Form Body with one field error.
    pub fn form_error(field: &str, code: &str, message: &str) -> Self {
        Self::json(
            400,
            json!({
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": { field: { "_errors": [{ "code": code, "message": message }] } },
            }),
        )
    }

    fn unauthorized() -> Self {
        Self::error(401, 0, "401: Unauthorized")
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match self.body {
            Some(body) => (status, axum::Json(body)).into_response(),
            None => status.into_response(),
        };
        let headers = response.headers_mut();
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

/// A parsed request, as the pipeline sees it.
pub(crate) struct Request<'a> {
    pub method: &'a Method,
    /// Path segments after /api/v10, still percent-encoded.
    pub segments: Vec<&'a str>,
    pub query: Option<&'a str>,
    pub body: Option<Value>,
}

/// axum handler for everything under /api/v10.
pub(crate) async fn entry(
    AxumState(inner): AxumState<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = Instant::now();
    let path = uri.path().to_owned();
    let query = uri.query().map(str::to_owned);
    let parsed_body: Result<Option<Value>, ()> = if body.is_empty() {
        Ok(None)
    } else {
        serde_json::from_slice(&body).map(Some).map_err(|_| ())
    };
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let sub = path.strip_prefix("/api/v10").unwrap_or(&path);
    let request = Request {
        method: &method,
        segments: sub.split('/').filter(|s| !s.is_empty()).collect(),
        query: query.as_deref(),
        body: parsed_body.clone().ok().flatten(),
    };
    let (reply, after) = inner.update(|s| {
        let reply = pipeline(
            &inner,
            s,
            &path,
            auth.as_deref(),
            &request,
            parsed_body.is_err(),
        );
        s.rec.rest_calls.push(RestCall {
            at: now,
            method: method.to_string(),
            path: path.clone(),
            query: query.clone(),
            status: reply.status,
            body: request.body.clone(),
        });
        (reply, take_response_fault(s, &path))
    });
    tracing::debug!(%method, %path, status = reply.status, "rest");
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

/// Takes one use of the first response fault matching `path`.
fn take_response_fault(s: &mut State, path: &str) -> Option<ResponseFault> {
    let faults = &mut s.rest.response_faults;
    let index = faults.iter().position(|f| {
        f.remaining > 0 && f.path_contains.as_deref().is_none_or(|p| path.contains(p))
    })?;
    faults[index].remaining -= 1;
    let fault = faults[index].fault.clone();
    if faults[index].remaining == 0 {
        faults.remove(index);
    }
    Some(fault)
}

fn pipeline(
    inner: &Inner,
    s: &mut State,
    path: &str,
    auth: Option<&str>,
    request: &Request<'_>,
    bad_json: bool,
) -> Reply {
    let (route, major) = routes::bucket_of(request);
    if let Some(fault) = take_fault(s, path) {
        return fault_reply(&fault, &route);
    }
    let now = Instant::now();
    let authorized = interaction_routes::needs_no_bot_token(request)
        || auth
            .and_then(|a| a.strip_prefix("Bot "))
            .is_some_and(|token| inner.token_ok(s, token));
    if !authorized {
        let mut reply = Reply::unauthorized();
        let limits = s.rest.limits.clone();
        reply.headers = s
            .rest
            .buckets
            .check(&limits, &route, &major, now, false)
            .headers;
        return reply;
    }
    let limits = s.rest.limits.clone();
    let decision = s.rest.buckets.check(&limits, &route, &major, now, true);
    if let Some(limited) = decision.limited {
        let mut reply = Reply::json(
            429,
            json!({
                "message": "You are being rate limited.",
                "retry_after": limited.retry_after,
                "global": limited.global,
            }),
        );
        reply.headers = decision.headers;
        return reply;
    }
    let mut reply = if bad_json {
        Reply::error(400, 50109, "The request body contains invalid JSON.")
    } else {
        routes::handle(inner, s, request)
    };
    reply.headers.extend(decision.headers);
    reply
}

/// Takes one use of the first injected fault matching `path`.
fn take_fault(s: &mut State, path: &str) -> Option<RestFault> {
    let index = s.rest.faults.iter().position(|f| {
        f.remaining > 0 && f.path_contains.as_deref().is_none_or(|p| path.contains(p))
    })?;
    let pending = &mut s.rest.faults[index];
    pending.remaining -= 1;
    let fault = pending.fault.clone();
    if pending.remaining == 0 {
        s.rest.faults.remove(index);
    }
    Some(fault)
}

/// The answer an injected fault gives on `route` (a route 429 names the
/// route's own bucket, as Discord's do).
fn fault_reply(fault: &RestFault, route: &str) -> Reply {
    let too_many = |retry_after: f64, global: bool| {
        Reply::json(
            429,
            json!({
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": global,
            }),
        )
    };
    match *fault {
        RestFault::TooManyRequests {
            retry_after,
            global,
        } => {
            let mut reply = too_many(retry_after, global);
            let bucket = ratelimit::bucket_hash(route);
            let info = ratelimit::BucketInfo {
                bucket: &bucket,
                limit: 1,
            };
            reply.headers = ratelimit::too_many_headers(Some(info), retry_after, global);
            reply
        }
        RestFault::HeaderlessTooManyRequests {
            retry_after,
            global,
        } => {
            let mut reply = too_many(retry_after, global);
            reply.headers = vec![("retry-after", (retry_after.ceil() as u64).to_string())];
            reply
        }
        RestFault::ServerError(status) => {
            let reason = StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Server Error");
            Reply::error(status, 0, &format!("{status}: {reason}"))
        }
        RestFault::Unauthorized => Reply::unauthorized(),
    }
}
