//! Posts that carry an idempotency key, and finding such a post again.
//!
//! Slack has no idempotency key for `chat.postMessage`; switchboard puts the
//! key in the message's `metadata` (`event_type` [`POST_EVENT_TYPE`],
//! `event_payload.key`), and after a call whose outcome is unknown it reads
//! the thread back (`conversations.replies` with `include_all_metadata`)
//! looking for it. Owns the metadata shape and the bounds of that read
//! (replies after a given ts, at most [`LOOKUP_PAGES`] pages); must never
//! page through a whole long thread.

use serde_json::{Value, json};

use super::call::{Request, malformed};
use super::{SlackWeb, TokenKind, WebError};

/// The metadata `event_type` of switchboard's posts.
pub const POST_EVENT_TYPE: &str = "switchboard_post";

/// Pages of replies read at most when looking a key up.
pub const LOOKUP_PAGES: usize = 3;

/// Replies per page of a look-up.
const LOOKUP_PAGE_SIZE: &str = "200";

/// The key a message's metadata carries, if it is one of switchboard's.
fn key_of(message: &Value) -> Option<&str> {
    let metadata = message.get("metadata")?;
    if metadata.get("event_type").and_then(Value::as_str) != Some(POST_EVENT_TYPE) {
        return None;
    }
    metadata
        .pointer("/event_payload/key")
        .and_then(Value::as_str)
}

impl SlackWeb {
    /// `chat.postMessage` with `key` in the message's metadata; returns the
    /// new message's ts.
    pub async fn post_message_keyed(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        text: &str,
        key: &str,
    ) -> Result<String, WebError> {
        let args = json!({
            "channel": channel,
            "text": text,
            "metadata": { "event_type": POST_EVENT_TYPE, "event_payload": { "key": key } },
        });
        self.post_message_with(args, thread_ts).await
    }

    /// The ts of the reply in the thread rooted at `thread_ts` whose
    /// metadata carries `key`, among the replies after `oldest` (a ts,
    /// exclusive), reading at most [`LOOKUP_PAGES`] pages.
    pub async fn find_keyed_reply(
        &self,
        channel: &str,
        thread_ts: &str,
        key: &str,
        oldest: &str,
    ) -> Result<Option<String>, WebError> {
        const METHOD: &str = "conversations.replies";
        let mut cursor: Option<String> = None;
        for _ in 0..LOOKUP_PAGES {
            let mut args = vec![
                ("channel", channel.to_owned()),
                ("ts", thread_ts.to_owned()),
                ("oldest", oldest.to_owned()),
                ("inclusive", "false".to_owned()),
                ("include_all_metadata", "true".to_owned()),
                ("limit", LOOKUP_PAGE_SIZE.to_owned()),
            ];
            if let Some(cursor) = &cursor {
                args.push(("cursor", cursor.clone()));
            }
            let body = self
                .call(METHOD, TokenKind::Bot, Request::Form(args))
                .await?;
            let Some(Value::Array(page)) = body.get("messages") else {
                return Err(malformed(METHOD, "no messages"));
            };
            // Newest first: the post looked for is most likely the last.
            if let Some(found) = page
                .iter()
                .rev()
                .filter(|m| m.get("ts").and_then(Value::as_str) != Some(thread_ts))
                .find(|m| key_of(m) == Some(key))
            {
                return Ok(found.get("ts").and_then(Value::as_str).map(str::to_owned));
            }
            let next = body
                .pointer("/response_metadata/next_cursor")
                .and_then(Value::as_str)
                .filter(|next| !next.is_empty());
            match next {
                Some(next) if cursor.as_deref() != Some(next) => cursor = Some(next.to_owned()),
                _ => return Ok(None),
            }
        }
        tracing::warn!(
            platform = "slack",
            pages = LOOKUP_PAGES,
            "looking a post up: the thread has more replies since the first try than are read; not found"
        );
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_switchboards_metadata_carries_a_key() {
        let ours = json!({ "ts": "1.1", "metadata": { "event_type": POST_EVENT_TYPE, "event_payload": { "key": "sb-1" } } });
        let other = json!({ "ts": "1.2", "metadata": { "event_type": "deploy", "event_payload": { "key": "sb-1" } } });
        assert_eq!(key_of(&ours), Some("sb-1"));
        assert_eq!(key_of(&other), None);
        assert_eq!(key_of(&json!({ "ts": "1.3" })), None);
    }
}
