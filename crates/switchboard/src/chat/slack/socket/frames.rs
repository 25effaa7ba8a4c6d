//! Socket Mode frames as types: what Slack sends (`hello`, `disconnect`,
//! envelopes) and the one thing a client sends back (the ack).
//!
//! Pure parsing and building; it never touches a socket, a clock or the
//! broker. Facts from Slack's Socket Mode docs: the first frame is
//! `{"type":"hello"}`; `{"type":"disconnect","reason":...}` announces the
//! end of a connection; every frame with an `envelope_id` (`events_api`,
//! `slash_commands`, `interactive`) must be acknowledged with
//! `{"envelope_id": ...}` within 3 s or Slack redelivers it with
//! `retry_attempt` + 1.

use serde::Deserialize;
use serde_json::Value;

/// Why Slack sent `{"type":"disconnect"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The connection closes in a few seconds: open its replacement now.
    Warning,
    /// Slack wants the client on a fresh connection now.
    RefreshRequested,
    /// Socket Mode was turned off for the app.
    LinkDisabled,
    /// The app already has as many connections as Slack allows.
    TooManyWebsockets,
    /// A reason this client does not know; handled like `Warning`.
    Other(String),
}

impl DisconnectReason {
    pub fn parse(reason: &str) -> Self {
        match reason {
            "warning" => Self::Warning,
            "refresh_requested" => Self::RefreshRequested,
            "link_disabled" => Self::LinkDisabled,
            "too_many_websockets" => Self::TooManyWebsockets,
            other => Self::Other(other.to_owned()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Warning => "warning",
            Self::RefreshRequested => "refresh_requested",
            Self::LinkDisabled => "link_disabled",
            Self::TooManyWebsockets => "too_many_websockets",
            Self::Other(reason) => reason,
        }
    }
}

/// A frame that must be acknowledged.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub envelope_id: String,
    /// `events_api`, `slash_commands`, `interactive`, ...
    pub kind: String,
    /// 0 on the first delivery; more on redeliveries.
    pub retry_attempt: u64,
    pub payload: Value,
}

impl Envelope {
    /// `payload.event_id` (events_api): the same across redeliveries.
    pub fn event_id(&self) -> Option<&str> {
        self.payload.get("event_id").and_then(Value::as_str)
    }

    /// `payload.event`: the Events API event itself.
    pub fn event(&self) -> Option<&Value> {
        self.payload.get("event")
    }
}

/// One text frame from Slack.
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    Hello {
        num_connections: Option<u64>,
    },
    Disconnect {
        reason: DisconnectReason,
    },
    Envelope(Envelope),
    /// Valid JSON of a type this client does not act on.
    Other {
        kind: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("frame is not JSON: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("frame has neither a type nor an envelope_id")]
    Untyped,
}

#[derive(Deserialize)]
struct Raw {
    #[serde(rename = "type")]
    kind: Option<String>,
    envelope_id: Option<String>,
    reason: Option<String>,
    num_connections: Option<u64>,
    retry_attempt: Option<u64>,
    #[serde(default)]
    payload: Value,
}

/// Parse one text frame.
pub fn parse(text: &str) -> Result<Frame, FrameError> {
    let raw: Raw = serde_json::from_str(text)?;
    if let Some(envelope_id) = raw.envelope_id {
        return Ok(Frame::Envelope(Envelope {
            envelope_id,
            kind: raw.kind.unwrap_or_default(),
            retry_attempt: raw.retry_attempt.unwrap_or(0),
            payload: raw.payload,
        }));
    }
    match raw.kind.as_deref() {
        Some("hello") => Ok(Frame::Hello {
            num_connections: raw.num_connections,
        }),
        Some("disconnect") => Ok(Frame::Disconnect {
            reason: DisconnectReason::parse(raw.reason.as_deref().unwrap_or("")),
        }),
        Some(other) => Ok(Frame::Other {
            kind: other.to_owned(),
        }),
        None => Err(FrameError::Untyped),
    }
}

/// The acknowledgement of one envelope.
pub fn ack(envelope_id: &str) -> String {
    serde_json::json!({ "envelope_id": envelope_id }).to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn hello_and_disconnect_frames_parse() {
        let hello = r#"{"type":"hello","num_connections":2,"debug_info":{"host":"x"},"connection_info":{"app_id":"A1"}}"#;
        assert_eq!(
            parse(hello).unwrap(),
            Frame::Hello {
                num_connections: Some(2)
            }
        );
        for (reason, parsed) in [
            ("warning", DisconnectReason::Warning),
            ("refresh_requested", DisconnectReason::RefreshRequested),
            ("link_disabled", DisconnectReason::LinkDisabled),
            ("too_many_websockets", DisconnectReason::TooManyWebsockets),
            ("brand_new", DisconnectReason::Other("brand_new".into())),
        ] {
            let frame = json!({ "type": "disconnect", "reason": reason }).to_string();
            assert_eq!(
                parse(&frame).unwrap(),
                Frame::Disconnect {
                    reason: parsed.clone()
                }
            );
            assert_eq!(parsed.as_str(), reason);
        }
    }

    #[test]
    fn an_envelope_keeps_its_id_retry_and_event() {
        let frame = json!({
            "envelope_id": "e-1",
            "type": "events_api",
            "retry_attempt": 2,
            "retry_reason": "timeout",
            "accepts_response_payload": false,
            "payload": { "event_id": "Ev1", "event": { "type": "message", "channel": "C1" } },
        })
        .to_string();
        let Frame::Envelope(env) = parse(&frame).unwrap() else {
            panic!("envelope expected")
        };
        assert_eq!(env.envelope_id, "e-1");
        assert_eq!(env.kind, "events_api");
        assert_eq!(env.retry_attempt, 2);
        assert_eq!(env.event_id(), Some("Ev1"));
        assert_eq!(env.event().unwrap()["channel"], "C1");
    }

    #[test]
    fn any_frame_with_an_envelope_id_is_an_envelope_to_ack() {
        let frame = r#"{"envelope_id":"e-2","type":"slash_commands","payload":{"command":"/x"}}"#;
        let Frame::Envelope(env) = parse(frame).unwrap() else {
            panic!("envelope expected")
        };
        assert_eq!(env.kind, "slash_commands");
        assert_eq!(env.retry_attempt, 0);
        assert_eq!(env.event_id(), None);
    }

    #[test]
    fn bad_frames_are_errors_and_unknown_types_are_other() {
        assert!(matches!(parse("not json"), Err(FrameError::NotJson(_))));
        assert!(matches!(parse("{}"), Err(FrameError::Untyped)));
        assert_eq!(
            parse(r#"{"type":"something_new"}"#).unwrap(),
            Frame::Other {
                kind: "something_new".into()
            }
        );
    }

    #[test]
    fn the_ack_names_only_the_envelope() {
        let ack: Value = serde_json::from_str(&ack("e-\"3")).unwrap();
        assert_eq!(ack, json!({ "envelope_id": "e-\"3" }));
    }
}
