//! Why a Slack Socket Mode connection slot ended, and the policy that
//! classifies it.
//!
//! [`SlackCause::verdict`] is the only place that turns an ending into
//! "retry" or "stop". Fatal means the operator must act: Socket Mode is
//! turned off for the app (`link_disabled`), or Slack refused one of the two
//! tokens (named by its config key). Everything else (dropped sockets,
//! zombies, `refresh_requested`, an unreachable Web API, events not
//! delivered) is retried.
//! Never holds or prints a token.

use std::fmt;
use std::time::Duration;

use super::web::{TokenKind, WebError};
use crate::supervisor::{DisconnectCause, Verdict};

/// The fix for `link_disabled`.
pub const LINK_DISABLED_FIX: &str = "turn on Socket Mode for the app at api.slack.com/apps -> your app -> Socket Mode, then restart";

/// The fix for a refused app-level token (`apps.connections.open`).
pub const APP_TOKEN_FIX: &str = "the app-level token (xapp-...) is invalid, revoked or lacks the connections:write scope: generate one at api.slack.com/apps -> your app -> Basic Information -> App-Level Tokens (scope connections:write), put it in slack.app_token (or the SLACK_APP_TOKEN variable it names), then restart";

/// The fix for a refused bot token (`auth.test` and every other method).
pub const BOT_TOKEN_FIX: &str = "the bot token (xoxb-...) is invalid or was revoked: copy the Bot User OAuth Token from api.slack.com/apps -> your app -> OAuth & Permissions (reinstall the app to the workspace if it is gone) into slack.bot_token (or the SLACK_BOT_TOKEN variable it names), then restart";

/// Web API error codes that mean the token cannot do the call, whatever we
/// retry: the operator must change the token.
const TOKEN_ERROR_CODES: [&str; 3] = ["not_allowed_token_type", "missing_scope", "invalid_token"];

/// Why one Socket Mode connection slot ended.
#[derive(Clone, Debug, PartialEq)]
pub enum SlackCause {
    /// Socket Mode is off for the app (`disconnect: link_disabled`, or
    /// `apps.connections.open` said so).
    LinkDisabled,
    /// Slack refused a token (`invalid_auth`, `not_authed`,
    /// `token_revoked`, `not_allowed_token_type`, ...).
    TokenRefused { token: TokenKind, code: String },
    /// Slack asked for a fresh connection (`disconnect: refresh_requested`).
    RefreshRequested,
    /// Slack closed the connection because the app has too many
    /// (`disconnect: too_many_websockets`).
    TooManyConnections,
    /// A `disconnect: warning` announced the end of the connection and its
    /// replacement could not be opened.
    HandoverFailed(Box<SlackCause>),
    /// `auth.test` or `apps.connections.open` failed for a reason that
    /// may pass (Slack unreachable, 5xx, another error code).
    WebApi(String),
    /// The WebSocket could not be opened (or not in time).
    ConnectFailed(String),
    /// The peer closed the WebSocket with a close frame.
    Closed { code: Option<u16>, reason: String },
    /// The WebSocket ended without a close frame (reset, EOF, read error).
    Dropped(String),
    /// A frame could not be written in time.
    SendFailed(String),
    /// Zombie: a ping went unanswered for the ping deadline.
    PongMissing { waited: Duration },
    /// No `hello` within the hello deadline of connecting.
    HelloTimeout(Duration),
    /// The delivery check found messages Slack holds that no connection
    /// delivered: the links are deaf though they answer pings, so the
    /// slot opens a fresh connection.
    NotDelivered,
}

impl SlackCause {
    /// A short stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LinkDisabled => "link_disabled",
            Self::TokenRefused { .. } => "token_refused",
            Self::RefreshRequested => "refresh_requested",
            Self::TooManyConnections => "too_many_websockets",
            Self::HandoverFailed(_) => "handover_failed",
            Self::WebApi(_) => "web_api",
            Self::ConnectFailed(_) => "connect_failed",
            Self::Closed { .. } => "closed",
            Self::Dropped(_) => "dropped",
            Self::SendFailed(_) => "send_failed",
            Self::PongMissing { .. } => "zombie_pong_missing",
            Self::HelloTimeout(_) => "hello_timeout",
            Self::NotDelivered => "events_not_delivered",
        }
    }
}

impl From<WebError> for SlackCause {
    /// What a failed `auth.test` / `apps.connections.open` means for the
    /// connection. `Api` errors whose code says the token itself cannot do
    /// the call count as a refused token: the method names which one.
    fn from(err: WebError) -> Self {
        match err {
            WebError::InvalidAuth { token, code } => Self::TokenRefused { token, code },
            WebError::SocketModeDisabled { .. } => Self::LinkDisabled,
            WebError::Api { method, code } if TOKEN_ERROR_CODES.contains(&code.as_str()) => {
                let token = if method == "apps.connections.open" {
                    TokenKind::App
                } else {
                    TokenKind::Bot
                };
                Self::TokenRefused { token, code }
            }
            other @ (WebError::Api { .. } | WebError::Unavailable { .. }) => {
                Self::WebApi(other.to_string())
            }
        }
    }
}

impl fmt::Display for SlackCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::LinkDisabled => f.write_str("Socket Mode is disabled for the Slack app (link_disabled)"),
            Self::TokenRefused { token, code } => {
                write!(f, "Slack refused {} ({code})", token.config_key())
            }
            Self::RefreshRequested => f.write_str("Slack asked for a fresh connection (refresh_requested)"),
            Self::TooManyConnections => f.write_str(
                "Slack closed the connection: the app has too many Socket Mode connections (too_many_websockets)",
            ),
            Self::HandoverFailed(cause) => write!(
                f,
                "Slack warned that the connection will close and the replacement failed: {cause}"
            ),
            Self::WebApi(detail) => write!(f, "Slack Web API: {detail}"),
            Self::ConnectFailed(detail) => write!(f, "could not open the Socket Mode WebSocket: {detail}"),
            Self::Closed { code: Some(code), reason } if !reason.is_empty() => {
                write!(f, "Socket Mode WebSocket closed with {code}: {reason}")
            }
            Self::Closed { code: Some(code), .. } => write!(f, "Socket Mode WebSocket closed with {code}"),
            Self::Closed { code: None, .. } => f.write_str("Socket Mode WebSocket closed without a code"),
            Self::Dropped(detail) => write!(f, "Socket Mode WebSocket dropped without a close frame: {detail}"),
            Self::SendFailed(detail) => write!(f, "could not write to the Socket Mode WebSocket: {detail}"),
            Self::PongMissing { waited } => write!(
                f,
                "zombie connection: ping unanswered for {} ms",
                waited.as_millis()
            ),
            Self::HelloTimeout(after) => write!(f, "no hello within {} ms of connecting", after.as_millis()),
            Self::NotDelivered => f.write_str(
                "events not delivered: Slack holds messages this connection never delivered",
            ),
        }
    }
}

impl DisconnectCause for SlackCause {
    fn verdict(&self) -> Verdict {
        match self {
            Self::LinkDisabled => Verdict::Fatal {
                fix: LINK_DISABLED_FIX.to_owned(),
            },
            Self::TokenRefused { token, .. } => Verdict::Fatal {
                fix: match token {
                    TokenKind::App => APP_TOKEN_FIX,
                    TokenKind::Bot => BOT_TOKEN_FIX,
                }
                .to_owned(),
            },
            Self::HandoverFailed(cause) => cause.verdict(),
            Self::RefreshRequested
            | Self::TooManyConnections
            | Self::WebApi(_)
            | Self::ConnectFailed(_)
            | Self::Closed { .. }
            | Self::Dropped(_)
            | Self::SendFailed(_)
            | Self::PongMissing { .. }
            | Self::HelloTimeout(_)
            | Self::NotDelivered => Verdict::Transient,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix_of(cause: &SlackCause) -> String {
        match cause.verdict() {
            Verdict::Fatal { fix } => fix,
            Verdict::Transient => panic!("{cause} should be fatal"),
        }
    }

    #[test]
    fn link_disabled_is_fatal_and_says_how_to_turn_socket_mode_on() {
        let fix = fix_of(&SlackCause::LinkDisabled);
        assert!(fix.contains("turn on Socket Mode"), "{fix}");
        assert!(fix.contains("api.slack.com/apps"), "{fix}");
        let from_web = SlackCause::from(WebError::SocketModeDisabled {
            code: "link_disabled".into(),
        });
        assert_eq!(from_web, SlackCause::LinkDisabled);
    }

    #[test]
    fn a_refused_token_is_fatal_and_names_which_token() {
        let app = SlackCause::from(WebError::InvalidAuth {
            token: TokenKind::App,
            code: "invalid_auth".into(),
        });
        assert_eq!(
            app.to_string(),
            "Slack refused slack.app_token (invalid_auth)"
        );
        assert!(fix_of(&app).contains("slack.app_token"));
        assert!(fix_of(&app).contains("connections:write"));

        let bot = SlackCause::from(WebError::InvalidAuth {
            token: TokenKind::Bot,
            code: "token_revoked".into(),
        });
        assert_eq!(
            bot.to_string(),
            "Slack refused slack.bot_token (token_revoked)"
        );
        assert!(fix_of(&bot).contains("slack.bot_token"));
    }

    #[test]
    fn a_token_of_the_wrong_kind_or_scope_is_refused_by_the_method_that_used_it() {
        let wrong = SlackCause::from(WebError::Api {
            method: "apps.connections.open",
            code: "not_allowed_token_type".into(),
        });
        assert_eq!(
            wrong,
            SlackCause::TokenRefused {
                token: TokenKind::App,
                code: "not_allowed_token_type".into()
            }
        );
        let scope = SlackCause::from(WebError::Api {
            method: "auth.test",
            code: "missing_scope".into(),
        });
        assert!(matches!(
            scope,
            SlackCause::TokenRefused {
                token: TokenKind::Bot,
                ..
            }
        ));
    }

    #[test]
    fn everything_else_is_retried() {
        let transient = [
            SlackCause::RefreshRequested,
            SlackCause::TooManyConnections,
            SlackCause::from(WebError::Unavailable {
                method: "apps.connections.open",
                detail: "HTTP 503".into(),
            }),
            SlackCause::from(WebError::Api {
                method: "apps.connections.open",
                code: "internal_error".into(),
            }),
            SlackCause::ConnectFailed("connection refused".into()),
            SlackCause::Closed {
                code: Some(1000),
                reason: String::new(),
            },
            SlackCause::Dropped("connection reset".into()),
            SlackCause::SendFailed("timed out".into()),
            SlackCause::PongMissing {
                waited: Duration::from_secs(5),
            },
            SlackCause::HelloTimeout(Duration::from_secs(10)),
            SlackCause::NotDelivered,
            SlackCause::HandoverFailed(Box::new(SlackCause::HelloTimeout(Duration::from_secs(10)))),
        ];
        for cause in transient {
            assert_eq!(cause.verdict(), Verdict::Transient, "{cause}");
            assert_eq!(cause.min_delay(), Duration::ZERO);
        }
    }

    #[test]
    fn a_failed_handover_takes_the_verdict_of_its_replacement() {
        let cause = SlackCause::HandoverFailed(Box::new(SlackCause::LinkDisabled));
        assert!(fix_of(&cause).contains("Socket Mode"));
        assert!(cause.to_string().contains("link_disabled"), "{cause}");
    }

    #[test]
    fn causes_read_well_in_logs() {
        assert_eq!(
            SlackCause::PongMissing {
                waited: Duration::from_millis(5_012)
            }
            .to_string(),
            "zombie connection: ping unanswered for 5012 ms"
        );
        assert_eq!(
            SlackCause::Closed {
                code: Some(1001),
                reason: "going away".into()
            }
            .to_string(),
            "Socket Mode WebSocket closed with 1001: going away"
        );
        assert_eq!(SlackCause::RefreshRequested.kind(), "refresh_requested");
    }
}
