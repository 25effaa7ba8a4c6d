//! The Slack Web API client: one `POST {api_url}/{method}` per call with the
//! bot token (or the app token for `apps.connections.open`), JSON in and out.
//! A 429 waits its `Retry-After` and tries again (and holds the method for
//! every other call meanwhile); `ok: false` becomes a
//! [`WebError`] naming the method and Slack's error code, and an auth error
//! names which token Slack refused. Never logs or prints a token.
//!
//! The transport (timeouts, 429s, error classification) is in `call`, the
//! methods a 429 holds in `holds`; paging through history and replies is
//! in `pages`; the newest message of a channel or thread, asked at the
//! lowest priority, in `latest`.

pub mod buttons;
mod call;
mod holds;
mod keyed;
mod latest;
mod pages;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use crate::chat::history::{HistoryBudget, HistoryRead};
use crate::chat::request_timeout::{SLACK_VAR, request_timeout};
use crate::config::Secret;
use call::Request;
/// A ts as a number pair, for ordering and reading its time.
pub(crate) use pages::ts_key;

/// Slack's own Web API base; any other `api_url` is a proxy or the simulator.
pub const SLACK_API_URL: &str = "https://slack.com/api";

/// How long one HTTP request may take (each 429 retry gets its own),
/// unless `SWITCHBOARD_SLACK_REQUEST_TIMEOUT_MS` says otherwise (see
/// `chat::request_timeout`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Which of the two Slack tokens a call used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// `bot_token` (xoxb-): the Web API.
    Bot,
    /// `app_token` (xapp-): `apps.connections.open`.
    App,
}

impl TokenKind {
    /// The config key of the token, for error messages.
    pub fn config_key(self) -> &'static str {
        match self {
            Self::Bot => "slack.bot_token",
            Self::App => "slack.app_token",
        }
    }
}

/// Who the bot is (from `auth.test`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotIdentity {
    /// The bot's user id (`U...`): what `<@U...>` mentions of it contain.
    pub user_id: String,
    /// The bot's bot id (`B...`), when Slack says it.
    pub bot_id: Option<String>,
    pub team_id: String,
}

/// What `auth.test` says: the identity, and the workspace's and the bot
/// user's names when Slack gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthTest {
    pub identity: BotIdentity,
    /// The workspace name (`team`).
    pub team: Option<String>,
    /// The bot user's name (`user`).
    pub user: Option<String>,
}

/// The bot's identity, learnt once (by whichever module calls `auth.test`
/// first) and shared by the modules that map messages.
pub type SharedIdentity = Arc<OnceLock<BotIdentity>>;

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// Slack refused the token (`invalid_auth`, `not_authed`,
    /// `token_revoked`, `account_inactive`, ...).
    #[error("Slack refused {} ({code})", token.config_key())]
    InvalidAuth { token: TokenKind, code: String },
    /// Socket Mode is turned off for the app (`apps.connections.open`).
    #[error("Socket Mode is not enabled for this Slack app ({code})")]
    SocketModeDisabled { code: String },
    /// Slack answered `ok: false` with another error code.
    #[error("{method} failed: {code}")]
    Api { method: &'static str, code: String },
    /// Could not reach Slack, or it failed (5xx, timeout, bad JSON).
    #[error("{method} could not reach Slack: {detail}")]
    Unavailable {
        method: &'static str,
        detail: String,
    },
}

/// The Web API client. Cheap to clone.
#[derive(Clone)]
pub struct SlackWeb {
    http: reqwest::Client,
    api_url: Arc<str>,
    bot_token: Secret,
    app_token: Secret,
    /// The longest one call keeps waiting out 429s before it gives up.
    rate_limit_budget: Duration,
    /// Methods a 429 holds, shared by every clone.
    holds: holds::RateHolds,
}

impl std::fmt::Debug for SlackWeb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackWeb")
            .field("api_url", &self.api_url)
            .field("bot_token", &self.bot_token)
            .field("app_token", &self.app_token)
            .finish()
    }
}

impl SlackWeb {
    /// `api_url` is the base without a trailing slash, e.g.
    /// `https://slack.com/api`.
    pub fn new(api_url: &str, bot_token: Secret, app_token: Secret) -> Self {
        let timeout = request_timeout(SLACK_VAR, REQUEST_TIMEOUT);
        let http = crate::chat::http_client::platform_http_client(timeout);
        Self {
            http,
            api_url: api_url.trim_end_matches('/').into(),
            bot_token,
            app_token,
            rate_limit_budget: call::RATE_LIMIT_BUDGET,
            holds: holds::RateHolds::default(),
        }
    }

    /// The same client with another 429 budget per call (tests).
    pub fn with_rate_limit_budget(mut self, budget: Duration) -> Self {
        self.rate_limit_budget = budget;
        self
    }

    /// `auth.test` with the bot token.
    pub async fn auth_test(&self) -> Result<BotIdentity, WebError> {
        self.auth_test_named().await.map(|auth| auth.identity)
    }

    /// `auth.test` with the bot token, with the names Slack gives too.
    pub async fn auth_test_named(&self) -> Result<AuthTest, WebError> {
        const METHOD: &str = "auth.test";
        let body = self.call(METHOD, TokenKind::Bot, Request::form([])).await?;
        let field = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let user_id = field("user_id").ok_or_else(|| call::malformed(METHOD, "no user_id"))?;
        Ok(AuthTest {
            identity: BotIdentity {
                user_id,
                bot_id: field("bot_id").filter(|id| !id.is_empty()),
                team_id: field("team_id").unwrap_or_default(),
            },
            team: field("team").filter(|name| !name.is_empty()),
            user: field("user").filter(|name| !name.is_empty()),
        })
    }

    /// The Web API base this client calls, e.g. `https://slack.com/api`.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// `apps.connections.open` with the app token: a fresh Socket Mode URL
    /// (each is good for one connection).
    pub async fn connections_open(&self) -> Result<String, WebError> {
        const METHOD: &str = "apps.connections.open";
        let body = self.call(METHOD, TokenKind::App, Request::form([])).await?;
        body.get("url")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| call::malformed(METHOD, "no url"))
    }

    /// `chat.postMessage`; returns the new message's ts.
    pub async fn post_message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
    ) -> Result<String, WebError> {
        self.post_message_with(json!({ "channel": channel, "text": text }), thread_ts)
            .await
    }

    /// `chat.postMessage` with `args` (channel, text, and what else the
    /// caller adds), in `thread_ts`'s thread when given; the new ts.
    pub(super) async fn post_message_with(
        &self,
        mut args: Value,
        thread_ts: Option<&str>,
    ) -> Result<String, WebError> {
        const METHOD: &str = "chat.postMessage";
        if let Some(thread_ts) = thread_ts {
            args["thread_ts"] = json!(thread_ts);
        }
        let body = self
            .call(METHOD, TokenKind::Bot, Request::Json(args))
            .await?;
        body.get("ts")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| call::malformed(METHOD, "no ts"))
    }

    /// `chat.update`.
    pub async fn update_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
    ) -> Result<(), WebError> {
        let args = json!({ "channel": channel, "ts": ts, "text": text });
        self.call("chat.update", TokenKind::Bot, Request::Json(args))
            .await
            .map(drop)
    }

    /// `reactions.add` (`already_reacted` counts as done).
    pub async fn add_reaction(&self, channel: &str, ts: &str, name: &str) -> Result<(), WebError> {
        let args = json!({ "channel": channel, "timestamp": ts, "name": name });
        match self
            .call("reactions.add", TokenKind::Bot, Request::Json(args))
            .await
        {
            Err(WebError::Api { code, .. }) if code == "already_reacted" => Ok(()),
            other => other.map(drop),
        }
    }

    /// `reactions.remove` (`no_reaction` counts as done).
    pub async fn remove_reaction(
        &self,
        channel: &str,
        ts: &str,
        name: &str,
    ) -> Result<(), WebError> {
        let args = json!({ "channel": channel, "timestamp": ts, "name": name });
        match self
            .call("reactions.remove", TokenKind::Bot, Request::Json(args))
            .await
        {
            Err(WebError::Api { code, .. }) if code == "no_reaction" => Ok(()),
            other => other.map(drop),
        }
    }

    /// `conversations.history` after `oldest` (exclusive), page after page
    /// within `budget`, oldest first: the raw message objects. Slack pages
    /// newest first, so a read cut short holds the newest messages.
    pub async fn history(
        &self,
        channel: &str,
        oldest: &str,
        budget: HistoryBudget,
    ) -> Result<HistoryRead<Value>, WebError> {
        pages::history(self, channel, oldest, budget).await
    }

    /// `conversations.replies` of the thread rooted at `thread_ts`, after
    /// `oldest` (exclusive), page after page within `budget`, oldest first
    /// (the root excluded).
    pub async fn replies(
        &self,
        channel: &str,
        thread_ts: &str,
        oldest: &str,
        budget: HistoryBudget,
    ) -> Result<HistoryRead<Value>, WebError> {
        pages::replies(self, channel, thread_ts, oldest, budget).await
    }

    /// The one message `ts` of `channel` as it is now: a top-level message
    /// when `thread_ts` is `None` or `ts` itself, else a reply in that
    /// thread. `Api { code: "message_not_found" }` when it is gone.
    pub async fn message(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        ts: &str,
    ) -> Result<Value, WebError> {
        pages::one(self, channel, thread_ts, ts).await
    }
}

#[cfg(test)]
mod tests;
