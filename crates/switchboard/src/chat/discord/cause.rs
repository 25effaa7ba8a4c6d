//! Why a Discord gateway connection ended, and the policy that classifies it.
//!
//! Protocol facts live on [`CloseCode`]: which close codes are fatal, which
//! end the session, and what the operator must do about each fatal one.
//! [`DiscordCause::verdict`] is the only place that turns an ending into
//! "retry" or "stop".

use std::fmt;
use std::time::Duration;

use crate::supervisor::{DisconnectCause, Verdict};

/// A Discord gateway close code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// The close code twilight reports when the transport died without a
    /// close frame (1006 is never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(1006);

    /// Codes after which reconnecting cannot help.
    pub fn is_fatal(self) -> bool {
        matches!(self.0, 4004 | 4010 | 4011 | 4012 | 4013 | 4014)
    }

    /// Codes after which the session is gone and a new identify is needed.
    pub fn ends_session(self) -> bool {
        matches!(self.0, 1000 | 1001 | 4007 | 4009)
    }

    /// Discord's name for the code.
    pub fn describe(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1006 => "connection lost without a close frame",
            4000 => "unknown error",
            4001 => "unknown opcode",
            4002 => "decode error",
            4003 => "not authenticated",
            4004 => "authentication failed",
            4005 => "already authenticated",
            4007 => "invalid seq",
            4008 => "rate limited",
            4009 => "session timed out",
            4010 => "invalid shard",
            4011 => "sharding required",
            4012 => "invalid API version",
            4013 => "invalid intent(s)",
            4014 => "disallowed intent(s)",
            _ => "unrecognised close code",
        }
    }

    /// What the operator must do about a fatal code.
    pub fn fix(self) -> &'static str {
        match self.0 {
            4004 => TOKEN_FIX,
            4010 => {
                "switchboard sent a shard id Discord rejects; check that no proxy rewrites the identify payload, and report this as a bug"
            }
            4011 => {
                "the bot is in more than 2500 guilds and needs sharding, which switchboard does not support yet; remove the bot from some guilds"
            }
            4012 => {
                "the gateway rejected API version 10; check that discord.gateway_url points at a Discord gateway"
            }
            4013 => "the gateway rejected the intents bitfield; report this as a bug",
            4014 => {
                "enable the Message Content Intent for this bot in the Discord developer portal (Applications -> your app -> Bot -> Privileged Gateway Intents -> Message Content Intent), then restart"
            }
            _ => "no operator action is known for this close code",
        }
    }
}

/// The fix for an invalid token, shared by gateway 4004 and REST 401.
pub const TOKEN_FIX: &str = "the bot token is invalid or was reset: copy a fresh token from the Discord developer portal (Applications -> your app -> Bot -> Reset Token) into discord.token (or the DISCORD_BOT_TOKEN variable it names), then restart";

/// Why one gateway connection ended.
#[derive(Clone, Debug, PartialEq)]
pub enum DiscordCause {
    /// The gateway (or the transport, as 1006) closed the connection.
    Closed { code: CloseCode, reason: String },
    /// The WebSocket could not be opened.
    ConnectFailed(String),
    /// The gateway asked for a reconnect (op 7).
    Reconnect,
    /// The gateway invalidated the session (op 9); `wait` is the pause
    /// Discord asks for before identifying anew.
    InvalidSession { resumable: bool, wait: Duration },
    /// A heartbeat stayed un-ACKed for a full interval.
    AckMissing { unacked_for: Duration },
    /// Nothing at all arrived, and the probe heartbeat went unanswered.
    Silent { silent_for: Duration },
    /// The connection did not reach READY/RESUMED in time.
    HandshakeTimeout(Duration),
    /// The event stream ended without a close frame.
    StreamEnded,
    /// REST answered 401: the token is not valid.
    RestUnauthorized,
    /// The delivery check found messages the connection never delivered,
    /// check after check: a new session is needed.
    NotDelivered,
}

impl DiscordCause {
    /// Whether the next connection must identify rather than resume.
    pub fn ends_session(&self) -> bool {
        match self {
            Self::Closed { code, .. } => code.ends_session(),
            Self::InvalidSession { resumable, .. } => !resumable,
            Self::NotDelivered => true,
            _ => false,
        }
    }

    /// A short stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Closed { .. } => "closed",
            Self::ConnectFailed(_) => "connect_failed",
            Self::Reconnect => "reconnect_requested",
            Self::InvalidSession { .. } => "invalid_session",
            Self::AckMissing { .. } => "zombie_ack_missing",
            Self::Silent { .. } => "zombie_silent",
            Self::HandshakeTimeout(_) => "handshake_timeout",
            Self::StreamEnded => "stream_ended",
            Self::RestUnauthorized => "rest_unauthorized",
            Self::NotDelivered => "events_not_delivered",
        }
    }
}

impl fmt::Display for DiscordCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed { code, reason } if reason.is_empty() => {
                write!(f, "gateway closed with {} ({})", code.0, code.describe())
            }
            Self::Closed { code, reason } => {
                write!(
                    f,
                    "gateway closed with {} ({}): {reason}",
                    code.0,
                    code.describe()
                )
            }
            Self::ConnectFailed(err) => write!(f, "could not connect to the gateway: {err}"),
            Self::Reconnect => f.write_str("gateway asked for a reconnect (op 7)"),
            Self::InvalidSession { resumable, .. } => {
                write!(
                    f,
                    "gateway invalidated the session (op 9, resumable={resumable})"
                )
            }
            Self::AckMissing { unacked_for } => write!(
                f,
                "zombie connection: heartbeat un-ACKed for {} ms",
                unacked_for.as_millis()
            ),
            Self::Silent { silent_for } => write!(
                f,
                "zombie connection: nothing received for {} ms and the probe heartbeat went unanswered",
                silent_for.as_millis()
            ),
            Self::HandshakeTimeout(after) => {
                write!(
                    f,
                    "no READY or RESUMED within {} ms of connecting",
                    after.as_millis()
                )
            }
            Self::StreamEnded => f.write_str("gateway event stream ended"),
            Self::RestUnauthorized => f.write_str("REST API answered 401 Unauthorized"),
            Self::NotDelivered => f.write_str(
                "events not delivered: the platform holds messages this session never dispatched",
            ),
        }
    }
}

impl DisconnectCause for DiscordCause {
    fn verdict(&self) -> Verdict {
        match self {
            Self::Closed { code, .. } if code.is_fatal() => Verdict::Fatal {
                fix: code.fix().to_owned(),
            },
            Self::RestUnauthorized => Verdict::Fatal {
                fix: TOKEN_FIX.to_owned(),
            },
            _ => Verdict::Transient,
        }
    }

    fn min_delay(&self) -> Duration {
        match self {
            Self::InvalidSession { wait, .. } => *wait,
            _ => Duration::ZERO,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn closed(code: u16) -> DiscordCause {
        DiscordCause::Closed {
            code: CloseCode(code),
            reason: String::new(),
        }
    }

    #[test]
    fn fatal_close_codes_are_exactly_the_documented_ones() {
        let fatal: Vec<u16> = (1000..5000)
            .filter(|c| closed(*c).verdict() != Verdict::Transient)
            .collect();
        assert_eq!(fatal, [4004, 4010, 4011, 4012, 4013, 4014]);
    }

    #[test]
    fn fatal_verdicts_carry_a_fix_naming_what_to_do() {
        let Verdict::Fatal { fix } = closed(4004).verdict() else {
            panic!("4004 is fatal")
        };
        assert!(fix.contains("token"), "{fix}");
        let Verdict::Fatal { fix } = closed(4014).verdict() else {
            panic!("4014 is fatal")
        };
        assert!(fix.contains("Message Content Intent"), "{fix}");
        let Verdict::Fatal { fix } = DiscordCause::RestUnauthorized.verdict() else {
            panic!()
        };
        assert!(fix.contains("token"), "{fix}");
    }

    #[test]
    fn session_ending_causes_force_a_new_identify() {
        for code in [1000, 1001, 4007, 4009] {
            assert!(closed(code).ends_session(), "{code}");
        }
        for code in [1006, 4000, 4001, 4002, 4003, 4005, 4008] {
            assert!(!closed(code).ends_session(), "{code}");
        }
        let wait = Duration::from_secs(2);
        assert!(
            DiscordCause::InvalidSession {
                resumable: false,
                wait
            }
            .ends_session()
        );
        assert!(
            !DiscordCause::InvalidSession {
                resumable: true,
                wait
            }
            .ends_session()
        );
        assert!(!DiscordCause::Reconnect.ends_session());
        assert!(!DiscordCause::AckMissing { unacked_for: wait }.ends_session());
    }

    #[test]
    fn invalid_session_asks_for_its_wait_as_the_delay_floor() {
        let wait = Duration::from_millis(3_300);
        assert_eq!(
            DiscordCause::InvalidSession {
                resumable: false,
                wait
            }
            .min_delay(),
            wait
        );
        assert_eq!(closed(4000).min_delay(), Duration::ZERO);
    }

    #[test]
    fn causes_read_well_in_logs() {
        assert_eq!(
            closed(4014).to_string(),
            "gateway closed with 4014 (disallowed intent(s))"
        );
        assert_eq!(
            DiscordCause::AckMissing {
                unacked_for: Duration::from_millis(512)
            }
            .to_string(),
            "zombie connection: heartbeat un-ACKed for 512 ms"
        );
    }
}
