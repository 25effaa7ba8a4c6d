//! One Discord REST call, end to end, over reqwest: wait for the pacer,
//! send with `Authorization: Bot <token>`, tell the pacer what the answer
//! announced, count invalid requests (401, 403, 429), and on a 429 let the
//! pacer hold the calls it covers for its `retry_after`, then retry, for
//! as long as the request's timeout allows. Every failure is a
//! [`RestError`].
//!
//! Ours rather than twilight-http's because twilight retries every 429
//! inside its response future without showing it, and re-sends at once a
//! 429 without bucket headers (Discord's global and edge limits): every
//! such retry is one more invalid request toward Discord's IP ban. Must
//! never log the token, and never read an unbounded body.

use std::time::Duration;

use reqwest::Method;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue, USER_AGENT};
use tokio::time::Instant;

use super::invalid_requests::InvalidRequests;
use super::pacing::{Answer, Pacer, Ticket};
use super::route::{Route, announced, too_many};
use crate::config::Secret;

/// The longest response body read (a page of 100 messages is far less).
const MAX_BODY: usize = 8 * 1024 * 1024;
/// How much of an error body a [`RestError::Status`] keeps.
const ERROR_BODY_CHARS: usize = 300;

#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("Discord REST answered 401 Unauthorized: the bot token is not valid")]
    Unauthorized,
    #[error("Discord REST answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error(
        "Discord REST is rate limited for {retry_after:?} more (global: {global}), past this \
         request's timeout; it will be retried later"
    )]
    RateLimited { retry_after: Duration, global: bool },
    #[error("Discord REST request failed: {0}")]
    Transport(String),
}

impl RestError {
    pub fn is_unauthorized(&self) -> bool {
        matches!(self, Self::Unauthorized)
    }
}

/// `err` and its sources, "a: b: c" (reqwest's own text alone hides the
/// cause, e.g. "error sending request").
fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// A request to make: method, route (for pacing), URL and JSON body.
pub struct Call {
    pub method: Method,
    pub route: Route,
    pub url: reqwest::Url,
    pub body: Option<serde_json::Value>,
}

/// Sends [`Call`]s for one bot token.
pub struct RestCaller {
    http: reqwest::Client,
    /// `None`: the token cannot be a header value (every call says so).
    auth: Option<HeaderValue>,
    timeout: Duration,
    pacer: Pacer,
    invalid: InvalidRequests,
}

impl std::fmt::Debug for RestCaller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RestCaller { token: <redacted> }")
    }
}

/// One answer as received.
struct Received {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Received {
    fn headers(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.headers.iter().map(|(n, v)| (n.as_str(), v.as_bytes()))
    }
}

impl RestCaller {
    pub fn new(token: &Secret, timeout: Duration, pacer: Pacer, invalid: InvalidRequests) -> Self {
        let auth = HeaderValue::from_str(&format!("Bot {}", token.expose()))
            .ok()
            .map(|mut auth| {
                auth.set_sensitive(true);
                auth
            });
        let http = crate::chat::http_client::platform_http_client(timeout);
        Self {
            http,
            auth,
            timeout,
            pacer,
            invalid,
        }
    }

    pub fn invalid_requests(&self) -> &InvalidRequests {
        &self.invalid
    }

    /// Make `call` only if the pacer has room to spare right now
    /// ([`Pacer::try_acquire_idle`]), once, without waiting or retrying:
    /// `Ok(None)` when it was not made. For calls that must never delay
    /// the ones users wait on (the delivery check).
    pub async fn call_if_idle(&self, call: &Call) -> Result<Option<Vec<u8>>, RestError> {
        let Some(ticket) = self.pacer.try_acquire_idle(call.route) else {
            return Ok(None);
        };
        self.answer(call, ticket).await.map(Some)
    }

    /// Make `call`, retrying 429s once their hold has passed; the 2xx
    /// answer's body.
    pub async fn call(&self, call: &Call) -> Result<Vec<u8>, RestError> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let ticket = self.pacer.acquire(call.route).await;
            match self.answer(call, ticket).await {
                Err(RestError::RateLimited { retry_after, .. })
                    if retry_after < deadline.saturating_duration_since(Instant::now()) =>
                {
                    continue;
                }
                other => return other,
            }
        }
    }

    /// Send `call` once under `ticket` and read its answer; a 429 is
    /// held in the pacer and reported as `RateLimited`.
    async fn answer(&self, call: &Call, ticket: Ticket<'_>) -> Result<Vec<u8>, RestError> {
        let received = match self.send_once(call).await {
            Ok(received) => received,
            Err(err) => {
                ticket.answered(Answer::None);
                return Err(err);
            }
        };
        let bucket = announced(received.headers());
        if received.status == 429 {
            let limit = too_many(received.headers(), &received.body);
            self.invalid.record(429, limit.shared);
            tracing::warn!(
                platform = "discord",
                method = %call.method,
                path = call.url.path(),
                retry_after_ms = limit.retry_after.as_millis() as u64,
                global = limit.global,
                bucket_headers = bucket.is_some(),
                "Discord REST answered 429; holding calls until retry_after has passed"
            );
            ticket.answered(Answer::RateLimited {
                retry_after: limit.retry_after,
                global: limit.global,
                announced: bucket,
            });
            return Err(RestError::RateLimited {
                retry_after: limit.retry_after,
                global: limit.global,
            });
        }
        let ok = (200..300).contains(&received.status);
        ticket.answered(match bucket {
            Some(bucket) => Answer::Announced(bucket),
            None if ok => Answer::Unlimited,
            // An error without headers proves nothing about the route.
            None => Answer::None,
        });
        self.invalid.record(received.status, false);
        match received.status {
            _ if ok => Ok(received.body),
            401 => Err(RestError::Unauthorized),
            status => Err(RestError::Status {
                status,
                body: String::from_utf8_lossy(&received.body)
                    .chars()
                    .take(ERROR_BODY_CHARS)
                    .collect(),
            }),
        }
    }

    async fn send_once(&self, call: &Call) -> Result<Received, RestError> {
        let auth = self.auth.clone().ok_or_else(|| {
            RestError::Transport(
                "the bot token holds characters an HTTP header cannot carry; check discord.token"
                    .into(),
            )
        })?;
        let mut request = self
            .http
            .request(call.method.clone(), call.url.clone())
            .header(AUTHORIZATION, auth)
            .header(
                USER_AGENT,
                concat!(
                    "DiscordBot (https://github.com/switchboard, ",
                    env!("CARGO_PKG_VERSION"),
                    ")"
                ),
            );
        request = match &call.body {
            Some(body) => request.json(body),
            // Discord wants a length on every PUT, even an empty one.
            None if call.method == Method::PUT => request.body(Vec::new()),
            None => request,
        };
        let transport = |e: reqwest::Error| RestError::Transport(with_causes(&e));
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(RestError::Transport(format!(
                    "the answer to {} {} is over {MAX_BODY} bytes",
                    call.method,
                    call.url.path()
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Received {
            status,
            headers,
            body,
        })
    }
}
