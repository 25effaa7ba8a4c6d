//! Message nonces as Discord documents them for Create Message: `nonce` is
//! an integer or a string of at most 25 characters; with `enforce_nonce:
//! true`, a message the same author created with the same nonce within the
//! past few minutes is returned instead of a new one being created (and no
//! second MESSAGE_CREATE is sent).
//!
//! Owns the memory of recent nonces, bounded by the window and by
//! [`MAX_REMEMBERED`]. Synchronous, under the state lock; never awaits.

use std::collections::VecDeque;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::Reply;

/// How long a nonce is enforced ("the past few minutes").
pub(crate) const NONCE_WINDOW: Duration = Duration::from_secs(5 * 60);
/// The longest string nonce Discord takes.
pub(crate) const MAX_NONCE_CHARS: usize = 25;
/// Nonces remembered at most (the oldest are forgotten first).
pub(crate) const MAX_REMEMBERED: usize = 10_000;

#[derive(Debug)]
struct Seen {
    author: u64,
    nonce: String,
    channel_id: u64,
    message_id: u64,
    at: Instant,
}

/// Recent (author, nonce) -> message.
#[derive(Debug, Default)]
pub(crate) struct Nonces {
    seen: VecDeque<Seen>,
}

impl Nonces {
    fn forget_old(&mut self, now: Instant) {
        while self
            .seen
            .front()
            .is_some_and(|s| now.saturating_duration_since(s.at) > NONCE_WINDOW)
        {
            self.seen.pop_front();
        }
    }

    /// `(channel, message)` the author created with `nonce` in the window.
    pub fn find(&mut self, author: u64, nonce: &str, now: Instant) -> Option<(u64, u64)> {
        self.forget_old(now);
        self.seen
            .iter()
            .rev()
            .find(|s| s.author == author && s.nonce == nonce)
            .map(|s| (s.channel_id, s.message_id))
    }

    pub fn remember(
        &mut self,
        author: u64,
        nonce: String,
        channel_id: u64,
        message_id: u64,
        now: Instant,
    ) {
        self.forget_old(now);
        if self.seen.len() >= MAX_REMEMBERED {
            self.seen.pop_front();
        }
        self.seen.push_back(Seen {
            author,
            nonce,
            channel_id,
            message_id,
            at: now,
        });
    }
}

/// The body's nonce as text (`None`: absent or null), or Discord's refusal.
pub(crate) fn parse(body: Option<&Value>) -> Result<Option<String>, Reply> {
    match body.and_then(|b| b.get("nonce")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        Some(Value::String(s)) if s.chars().count() <= MAX_NONCE_CHARS => Ok(Some(s.clone())),
        Some(Value::String(_)) => Err(Reply::form_error(
            "nonce",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 25 or fewer in length.",
        )),
        Some(_) => Err(Reply::form_error(
            "nonce",
            "BASE_TYPE_INTEGER_OR_STRING",
            "Must be an integer or a string.",
        )),
    }
}

/// Whether the body asks for its nonce to be enforced.
pub(crate) fn enforced(body: Option<&Value>) -> bool {
    body.and_then(|b| b.get("enforce_nonce"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_nonce_is_an_integer_or_a_short_string() {
        assert_eq!(parse(None).unwrap(), None);
        assert_eq!(
            parse(Some(&json!({ "nonce": 42 }))).unwrap().as_deref(),
            Some("42")
        );
        assert_eq!(
            parse(Some(&json!({ "nonce": "abc" }))).unwrap().as_deref(),
            Some("abc")
        );
        assert_eq!(
            parse(Some(&json!({ "nonce": "x".repeat(25) })))
                .unwrap()
                .map(|n| n.len()),
            Some(25)
        );
        assert_eq!(
            parse(Some(&json!({ "nonce": "x".repeat(26) })))
                .unwrap_err()
                .status,
            400
        );
        assert_eq!(
            parse(Some(&json!({ "nonce": [1] }))).unwrap_err().status,
            400
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_nonce_is_found_for_its_author_within_the_window_only() {
        let mut nonces = Nonces::default();
        let start = Instant::now();
        nonces.remember(1, "n".into(), 10, 100, start);
        assert_eq!(nonces.find(1, "n", start), Some((10, 100)));
        assert_eq!(nonces.find(2, "n", start), None, "another author");
        assert_eq!(nonces.find(1, "m", start), None);
        assert_eq!(nonces.find(1, "n", start + NONCE_WINDOW), Some((10, 100)));
        assert_eq!(
            nonces.find(1, "n", start + NONCE_WINDOW + Duration::from_millis(1)),
            None
        );
    }
}
