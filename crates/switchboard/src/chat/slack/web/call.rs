//! One Web API call: the HTTP request with the right token, the wait and
//! retry on 429 (the method held meanwhile for every call, see `holds`),
//! and turning Slack's answer into a body or a [`WebError`]. The delivery
//! check's calls never wait: held or answered 429, they are skipped.
//!
//! Owns the single classification of Slack's error codes (auth, Socket Mode
//! off, other) so no caller matches codes itself. Must never put a token in
//! a log line or an error: only the config key of the token is named.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use serde_json::Value;
use tokio::time::Instant;

use super::{SlackWeb, TokenKind, WebError};

/// The longest a single 429 makes a call wait, whatever Retry-After says.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// How long one call keeps waiting out 429s (the waits added up) before
/// it gives up with `Unavailable`: a reply write then fails like any
/// transient failure, and its message stays journaled. Slack's tier limits
/// reset within a minute, so two minutes of 429s means something is wrong.
pub(super) const RATE_LIMIT_BUDGET: Duration = Duration::from_secs(120);

/// The wait when a 429 carries no (readable) Retry-After.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Slack's error codes that mean the token itself is not accepted.
const AUTH_ERRORS: [&str; 7] = [
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "not_allowed_token_type",
    "missing_scope_for_token_type",
];

/// What `apps.connections.open` answers when Socket Mode is off for the app.
const SOCKET_MODE_OFF: &str = "link_disabled";

/// How the arguments travel: read methods take a form (the only content
/// type `conversations.*` accept); write methods take JSON.
pub(super) enum Request {
    Form(Vec<(&'static str, String)>),
    Json(Value),
}

impl Request {
    pub fn form<const N: usize>(args: [(&'static str, String); N]) -> Self {
        Self::Form(args.into())
    }
}

/// A 2xx answer that lacks what the method promises.
pub(super) fn malformed(method: &'static str, what: &str) -> WebError {
    WebError::Unavailable {
        method,
        detail: format!("unexpected answer: {what}"),
    }
}

/// Slack's `ok: false` code for `method`, as the error it means.
fn refusal(method: &'static str, token: TokenKind, code: String) -> WebError {
    if AUTH_ERRORS.contains(&code.as_str()) {
        WebError::InvalidAuth { token, code }
    } else if method == "apps.connections.open" && code == SOCKET_MODE_OFF {
        WebError::SocketModeDisabled { code }
    } else {
        WebError::Api { method, code }
    }
}

/// How long a 429 asks to wait (seconds, as Slack sends it), capped.
fn retry_after(response: &reqwest::Response) -> Duration {
    response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.trim().parse::<f64>().ok())
        .filter(|secs| secs.is_finite() && *secs >= 0.0)
        .map_or(DEFAULT_RETRY_AFTER, Duration::from_secs_f64)
        .min(MAX_RETRY_AFTER)
}

impl SlackWeb {
    /// Call `method` with `token` until Slack answers something other than
    /// 429 (each 429, and a hold another call's 429 left on the method,
    /// waited out as Retry-After says, for at most the rate limit budget
    /// in all); returns the body of an `ok: true` answer.
    pub(super) async fn call(
        &self,
        method: &'static str,
        token: TokenKind,
        request: Request,
    ) -> Result<Value, WebError> {
        let mut attempt: u32 = 0;
        let mut waited = Duration::ZERO;
        loop {
            if let Some(until) = self.holds.held_until(method, Instant::now()) {
                let wait = until.saturating_duration_since(Instant::now());
                if waited + wait > self.rate_limit_budget {
                    return Err(self.gave_up(method, attempt, waited));
                }
                waited += wait;
                tracing::debug!(
                    platform = "slack",
                    method,
                    wait_ms = wait.as_millis() as u64,
                    "Slack rate limit held on this method: waiting it out before calling"
                );
                tokio::time::sleep_until(until).await;
                continue;
            }
            let response = self.send(method, token, &request).await?;
            if response.status() == StatusCode::TOO_MANY_REQUESTS {
                attempt += 1;
                let wait = retry_after(&response);
                self.holds.hold(method, Instant::now() + wait);
                if waited + wait > self.rate_limit_budget {
                    return Err(self.gave_up(method, attempt, waited));
                }
                tracing::warn!(
                    platform = "slack",
                    method,
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "Slack rate limit (429): waiting as Retry-After says, then retrying"
                );
                continue;
            }
            return answer(method, token, response).await;
        }
    }

    /// Call `method` once at the lowest priority: `None` without calling
    /// while a 429 holds the method, and `None` when this call earns a 429
    /// (its hold recorded for the other calls); never waits on a limit.
    pub(super) async fn call_unless_limited(
        &self,
        method: &'static str,
        token: TokenKind,
        request: Request,
    ) -> Result<Option<Value>, WebError> {
        if self.holds.held_until(method, Instant::now()).is_some() {
            return Ok(None);
        }
        let response = self.send(method, token, &request).await?;
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let wait = retry_after(&response);
            self.holds.hold(method, Instant::now() + wait);
            tracing::debug!(
                platform = "slack",
                method,
                wait_ms = wait.as_millis() as u64,
                "Slack rate limit (429) on a lowest-priority call: skipped, the method held"
            );
            return Ok(None);
        }
        answer(method, token, response).await.map(Some)
    }

    /// One HTTP request of `method`, whatever its status.
    async fn send(
        &self,
        method: &'static str,
        token: TokenKind,
        request: &Request,
    ) -> Result<reqwest::Response, WebError> {
        let url = format!("{}/{method}", self.api_url);
        let secret = match token {
            TokenKind::Bot => &self.bot_token,
            TokenKind::App => &self.app_token,
        };
        let builder = self
            .http
            .post(&url)
            .header(AUTHORIZATION, format!("Bearer {}", secret.expose()));
        let builder = match request {
            Request::Form(args) => builder.form(args),
            Request::Json(args) => builder.json(args),
        };
        builder
            .send()
            .await
            .map_err(|err| transport_error(method, err))
    }

    fn gave_up(&self, method: &'static str, attempt: u32, waited: Duration) -> WebError {
        tracing::warn!(
            platform = "slack",
            method,
            attempt,
            waited_ms = waited.as_millis() as u64,
            "Slack rate limit (429) outlasted the budget; giving up on this call"
        );
        WebError::Unavailable {
            method,
            detail: format!(
                "rate limited (429) {attempt} times over {} s; gave up",
                waited.as_secs()
            ),
        }
    }
}

/// A transport failure, described without the URL's query or any header.
fn transport_error(method: &'static str, err: reqwest::Error) -> WebError {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let err = err.without_url();
    let mut detail = format!("{kind}: {err}");
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        detail.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    WebError::Unavailable { method, detail }
}

/// The body of a non-429 answer, or the error it means.
async fn answer(
    method: &'static str,
    token: TokenKind,
    response: reqwest::Response,
) -> Result<Value, WebError> {
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|err| transport_error(method, err))?;
    let parsed: Option<Value> = serde_json::from_slice(&body).ok();
    let code = parsed
        .as_ref()
        .and_then(|body| body.get("error"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if status.is_server_error() {
        return Err(WebError::Unavailable {
            method,
            detail: format!(
                "HTTP {}{}",
                status.as_u16(),
                code.map(|c| format!(" ({c})")).unwrap_or_default()
            ),
        });
    }
    let Some(parsed) = parsed else {
        return Err(if status.is_success() {
            malformed(method, "the body is not JSON")
        } else {
            WebError::Api {
                method,
                code: format!("http_{}", status.as_u16()),
            }
        });
    };
    if parsed.get("ok").and_then(Value::as_bool) == Some(true) {
        return Ok(parsed);
    }
    let code = code.unwrap_or_else(|| format!("http_{}", status.as_u16()));
    Err(refusal(method, token, code))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_codes_name_the_token_and_socket_mode_off_is_its_own_error() {
        for code in ["invalid_auth", "token_revoked", "not_authed"] {
            let err = refusal("chat.update", TokenKind::Bot, code.to_owned());
            assert!(
                matches!(
                    err,
                    WebError::InvalidAuth {
                        token: TokenKind::Bot,
                        ..
                    }
                ),
                "{code}"
            );
            assert!(err.to_string().contains("slack.bot_token"), "{err}");
        }
        let err = refusal(
            "apps.connections.open",
            TokenKind::App,
            "invalid_auth".into(),
        );
        assert!(err.to_string().contains("slack.app_token"), "{err}");
        assert!(matches!(
            refusal(
                "apps.connections.open",
                TokenKind::App,
                "link_disabled".into()
            ),
            WebError::SocketModeDisabled { .. }
        ));
        assert!(matches!(
            refusal("chat.update", TokenKind::Bot, "link_disabled".into()),
            WebError::Api { .. }
        ));
        let err = refusal("chat.update", TokenKind::Bot, "channel_not_found".into());
        assert_eq!(err.to_string(), "chat.update failed: channel_not_found");
    }
}
