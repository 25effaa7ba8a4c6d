//! The newest message of a channel or of a thread as Slack holds it, asked
//! with one `limit=1` call at the lowest priority (the delivery check's):
//! a channel's is the first message of `conversations.history`; a
//! thread's is its root's `latest_reply` (`conversations.replies` puts the
//! root first), or the root itself while it has no reply.
//!
//! Never waits on a rate limit: `Ok(None)` means "skipped" (a 429 holds
//! the method, or this call earned one). Never pages.

use serde_json::Value;

use super::call::{Request, malformed};
use super::pages::ts_key;
use super::{SlackWeb, TokenKind, WebError};

/// What a `limit=1` read found: `None` when skipped for the rate limit,
/// else the newest ts (`None`: nothing there).
pub type Newest = Option<Option<String>>;

impl SlackWeb {
    /// The newest top-level message's ts of `channel`.
    pub async fn newest_in_channel(&self, channel: &str) -> Result<Newest, WebError> {
        const METHOD: &str = "conversations.history";
        let args = vec![("channel", channel.to_owned()), ("limit", "1".to_owned())];
        let Some(body) = self
            .call_unless_limited(METHOD, TokenKind::Bot, Request::Form(args))
            .await?
        else {
            return Ok(None);
        };
        let first = first_message(METHOD, &body)?;
        Ok(Some(first.and_then(ts_of)))
    }

    /// The newest message's ts of the thread rooted at `root_ts` in
    /// `channel`: the root's `latest_reply`, or the root itself.
    pub async fn newest_in_thread(&self, channel: &str, root_ts: &str) -> Result<Newest, WebError> {
        const METHOD: &str = "conversations.replies";
        let args = vec![
            ("channel", channel.to_owned()),
            ("ts", root_ts.to_owned()),
            ("limit", "1".to_owned()),
        ];
        let Some(body) = self
            .call_unless_limited(METHOD, TokenKind::Bot, Request::Form(args))
            .await?
        else {
            return Ok(None);
        };
        let Some(root) = first_message(METHOD, &body)? else {
            return Ok(Some(None));
        };
        let latest_reply = root
            .get("latest_reply")
            .and_then(Value::as_str)
            .filter(|ts| ts_key(ts).is_some())
            .map(str::to_owned);
        Ok(Some(latest_reply.or_else(|| ts_of(root))))
    }
}

fn first_message<'a>(method: &'static str, body: &'a Value) -> Result<Option<&'a Value>, WebError> {
    match body.get("messages") {
        Some(Value::Array(messages)) => Ok(messages.first()),
        _ => Err(malformed(method, "no messages")),
    }
}

fn ts_of(message: &Value) -> Option<String> {
    message
        .get("ts")
        .and_then(Value::as_str)
        .filter(|ts| ts_key(ts).is_some())
        .map(str::to_owned)
}
