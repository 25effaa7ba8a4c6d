//! Slack protocol facts as types: message timestamps (`Ts`), Socket Mode
//! disconnect reasons and what each one does, and Web API error codes.
//!
//! Pure values only; it must never touch state, sockets or time sources.

use std::fmt;
use std::time::Duration;

use crate::config::SlackSimConfig;

/// A Slack message timestamp, "1700000000.000100": seconds and a 6-digit
/// fraction. Ordered numerically, which is how Slack compares them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Ts {
    pub secs: u64,
    pub micros: u32,
}

impl Ts {
    /// Parses "1700000000", "1700000000.1" or "1700000000.000100" (the
    /// fraction is right-padded, as Slack reads `oldest`/`latest`).
    pub fn parse(s: &str) -> Option<Ts> {
        let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
        if secs.is_empty() || frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let micros = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<6}").parse().ok()?
        };
        Some(Ts {
            secs: secs.parse().ok()?,
            micros,
        })
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:06}", self.secs, self.micros)
    }
}

/// Why the server sends `{"type":"disconnect","reason":...}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// The connection will close soon (Slack: ~10 s); reconnect now.
    Warning,
    /// Slack wants the client on a fresh connection; closes shortly after.
    RefreshRequested,
    /// Socket Mode was turned off for the app: closes at once, and
    /// `apps.connections.open` answers `link_disabled` until re-enabled.
    LinkDisabled,
    /// The app already has the maximum number of connections.
    TooManyWebsockets,
}

impl DisconnectReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisconnectReason::Warning => "warning",
            DisconnectReason::RefreshRequested => "refresh_requested",
            DisconnectReason::LinkDisabled => "link_disabled",
            DisconnectReason::TooManyWebsockets => "too_many_websockets",
        }
    }

    pub fn parse(s: &str) -> Option<DisconnectReason> {
        [
            DisconnectReason::Warning,
            DisconnectReason::RefreshRequested,
            DisconnectReason::LinkDisabled,
            DisconnectReason::TooManyWebsockets,
        ]
        .into_iter()
        .find(|r| r.as_str() == s)
    }

    /// How long after the message the sim closes the connection.
    pub fn close_delay(self, config: &SlackSimConfig) -> Duration {
        match self {
            DisconnectReason::Warning => config.disconnect_warning_delay,
            DisconnectReason::RefreshRequested => config.refresh_close_delay,
            DisconnectReason::LinkDisabled | DisconnectReason::TooManyWebsockets => Duration::ZERO,
        }
    }

    /// Whether the reason also turns Socket Mode off for the app.
    pub fn disables_link(self) -> bool {
        self == DisconnectReason::LinkDisabled
    }
}

/// Web API `error` codes the sim produces itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ApiError {
    NotAuthed,
    InvalidAuth,
    NotAllowedTokenType,
    UnknownMethod,
    ChannelNotFound,
    ThreadNotFound,
    MessageNotFound,
    CantUpdateMessage,
    NoText,
    AlreadyReacted,
    NoReaction,
    InvalidName,
    InvalidCursor,
    InvalidTsLatest,
    InvalidTsOldest,
    LinkDisabled,
    UserNotFound,
    NoSuchSubteam,
    InvalidArguments,
    InvalidJson,
    InvalidMetadataFormat,
    InvalidBlocks,
    InvalidBlocksFormat,
}

impl ApiError {
    pub fn as_str(&self) -> &'static str {
        match self {
            ApiError::NotAuthed => "not_authed",
            ApiError::InvalidAuth => "invalid_auth",
            ApiError::NoSuchSubteam => "no_such_subteam",
            ApiError::NotAllowedTokenType => "not_allowed_token_type",
            ApiError::UnknownMethod => "unknown_method",
            ApiError::ChannelNotFound => "channel_not_found",
            ApiError::ThreadNotFound => "thread_not_found",
            ApiError::MessageNotFound => "message_not_found",
            ApiError::CantUpdateMessage => "cant_update_message",
            ApiError::NoText => "no_text",
            ApiError::AlreadyReacted => "already_reacted",
            ApiError::NoReaction => "no_reaction",
            ApiError::InvalidName => "invalid_name",
            ApiError::InvalidCursor => "invalid_cursor",
            ApiError::InvalidTsLatest => "invalid_ts_latest",
            ApiError::InvalidTsOldest => "invalid_ts_oldest",
            ApiError::LinkDisabled => "link_disabled",
            ApiError::UserNotFound => "user_not_found",
            ApiError::InvalidArguments => "invalid_arguments",
            ApiError::InvalidJson => "invalid_json",
            ApiError::InvalidMetadataFormat => "invalid_metadata_format",
            ApiError::InvalidBlocks => "invalid_blocks",
            ApiError::InvalidBlocksFormat => "invalid_blocks_format",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_parses_pads_and_orders() {
        let a = Ts::parse("1700000000.000100").unwrap();
        assert_eq!(a.to_string(), "1700000000.000100");
        assert_eq!(Ts::parse("1700000000.1").unwrap().micros, 100_000);
        assert_eq!(
            Ts::parse("1700000000").unwrap().to_string(),
            "1700000000.000000"
        );
        assert!(Ts::parse("1700000000.000099").unwrap() < a);
        assert!(Ts::parse("1699999999.999999").unwrap() < a);
        for bad in ["", "x", "1.1234567", ".5", "1.-1"] {
            assert_eq!(Ts::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn disconnect_reasons_round_trip_and_behave() {
        let config = SlackSimConfig::default();
        for r in [
            DisconnectReason::Warning,
            DisconnectReason::RefreshRequested,
            DisconnectReason::LinkDisabled,
            DisconnectReason::TooManyWebsockets,
        ] {
            assert_eq!(DisconnectReason::parse(r.as_str()), Some(r));
            assert_eq!(r.disables_link(), r == DisconnectReason::LinkDisabled);
        }
        assert_eq!(
            DisconnectReason::Warning.close_delay(&config),
            config.disconnect_warning_delay
        );
        assert_eq!(
            DisconnectReason::LinkDisabled.close_delay(&config),
            Duration::ZERO
        );
        assert_eq!(DisconnectReason::parse("nope"), None);
    }
}
