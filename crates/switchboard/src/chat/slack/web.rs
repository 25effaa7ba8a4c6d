//! The Slack Web API client: one `POST {api_url}/{method}` per call with the
//! bot token (or the app token for `apps.connections.open`), JSON in and out.
//! A 429 waits its `Retry-After` and tries again; `ok: false` becomes a
//! [`WebError`] naming the method and Slack's error code, and an auth error
//! names which token Slack refused. Never logs or prints a token.
//!
//! SKELETON: signatures agreed between the Slack modules; bodies to be
//! written (see the issue-6 work).

use serde_json::Value;

use crate::config::Secret;

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
    Unavailable { method: &'static str, detail: String },
}

/// The Web API client. Cheap to clone.
#[derive(Clone)]
pub struct SlackWeb {
    _api_url: String,
    _bot_token: Secret,
    _app_token: Secret,
}

impl SlackWeb {
    /// `api_url` is the base without a trailing slash, e.g.
    /// `https://slack.com/api`.
    pub fn new(api_url: &str, bot_token: Secret, app_token: Secret) -> Self {
        Self {
            _api_url: api_url.trim_end_matches('/').to_owned(),
            _bot_token: bot_token,
            _app_token: app_token,
        }
    }

    /// `auth.test` with the bot token.
    pub async fn auth_test(&self) -> Result<BotIdentity, WebError> {
        todo!("issue 6")
    }

    /// `apps.connections.open` with the app token: a fresh Socket Mode URL
    /// (each is good for one connection).
    pub async fn connections_open(&self) -> Result<String, WebError> {
        todo!("issue 6")
    }

    /// `chat.postMessage`; returns the new message's ts.
    pub async fn post_message(
        &self,
        _channel: &str,
        _thread_ts: Option<&str>,
        _text: &str,
    ) -> Result<String, WebError> {
        todo!("issue 6")
    }

    /// `chat.update`.
    pub async fn update_message(
        &self,
        _channel: &str,
        _ts: &str,
        _text: &str,
    ) -> Result<(), WebError> {
        todo!("issue 6")
    }

    /// `reactions.add` (`already_reacted` counts as done).
    pub async fn add_reaction(&self, _channel: &str, _ts: &str, _name: &str) -> Result<(), WebError> {
        todo!("issue 6")
    }

    /// `reactions.remove` (`no_reaction` counts as done).
    pub async fn remove_reaction(
        &self,
        _channel: &str,
        _ts: &str,
        _name: &str,
    ) -> Result<(), WebError> {
        todo!("issue 6")
    }

    /// `conversations.history` after `oldest` (exclusive), every page,
    /// oldest first: the raw message objects.
    pub async fn history(&self, _channel: &str, _oldest: &str) -> Result<Vec<Value>, WebError> {
        todo!("issue 6")
    }

    /// `conversations.replies` of the thread rooted at `thread_ts`, after
    /// `oldest` (exclusive), every page, oldest first (the root excluded).
    pub async fn replies(
        &self,
        _channel: &str,
        _thread_ts: &str,
        _oldest: &str,
    ) -> Result<Vec<Value>, WebError> {
        todo!("issue 6")
    }
}
