//! Web API calls for buttons: a keyed post with Block Kit buttons, closing
//! it (its actions block removed) with `chat.update`, an ephemeral message
//! (`chat.postEphemeral`), and a user group's members
//! (`usergroups.users.list`, for approver groups). Owns the blocks' JSON;
//! never decides who may click what.

use serde_json::{Value, json};

use super::call::{Request, malformed};
use super::keyed::POST_EVENT_TYPE;
use super::{SlackWeb, TokenKind, WebError};
use crate::chat::{ButtonStyle, PromptButton};

/// Slack's limits: 25 elements in an actions block, 75-character button
/// text, 3,000 characters of section text.
const MAX_BUTTONS: usize = 25;
const MAX_LABEL_CHARS: usize = 75;
const MAX_SECTION_CHARS: usize = 3_000;

/// The block id of the buttons' actions block.
pub const ACTIONS_BLOCK: &str = "switchboard_actions";

fn section(text: &str) -> Value {
    let text: String = text.chars().take(MAX_SECTION_CHARS).collect();
    json!({ "type": "section", "text": { "type": "mrkdwn", "text": text } })
}

/// A section with `text` (mrkdwn), and the buttons in one actions block.
pub fn prompt_blocks(text: &str, buttons: &[PromptButton]) -> Value {
    let elements: Vec<Value> = buttons
        .iter()
        .take(MAX_BUTTONS)
        .map(|b| {
            json!({
                "type": "button",
                "action_id": b.id,
                "text": {
                    "type": "plain_text",
                    "text": b.label.chars().take(MAX_LABEL_CHARS).collect::<String>(),
                },
                "style": match b.style { ButtonStyle::Allow => "primary", ButtonStyle::Reject => "danger" },
            })
        })
        .collect();
    json!([
        section(text),
        { "type": "actions", "block_id": ACTIONS_BLOCK, "elements": elements },
    ])
}

impl SlackWeb {
    /// `chat.postMessage` of `text` (mrkdwn) with buttons, `key` in the
    /// metadata like every keyed post; the new ts.
    pub async fn post_prompt_keyed(
        &self,
        channel: &str,
        thread_ts: &str,
        text: &str,
        buttons: &[PromptButton],
        key: &str,
    ) -> Result<String, WebError> {
        let args = json!({
            "channel": channel,
            "text": text,
            "blocks": prompt_blocks(text, buttons),
            "metadata": { "event_type": POST_EVENT_TYPE, "event_payload": { "key": key } },
        });
        self.post_message_with(args, Some(thread_ts)).await
    }

    /// `chat.update` to `text` (mrkdwn) in a single section: the buttons
    /// are gone.
    pub async fn close_prompt_message(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
    ) -> Result<(), WebError> {
        let args = json!({
            "channel": channel, "ts": ts, "text": text, "blocks": [section(text)],
        });
        self.call("chat.update", TokenKind::Bot, Request::Json(args))
            .await
            .map(drop)
    }

    /// `chat.postEphemeral`: `text` shown to `user` only, in the thread.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> Result<(), WebError> {
        let mut args = json!({ "channel": channel, "user": user, "text": text });
        if let Some(thread_ts) = thread_ts {
            args["thread_ts"] = json!(thread_ts);
        }
        self.call("chat.postEphemeral", TokenKind::Bot, Request::Json(args))
            .await
            .map(drop)
    }

    /// Answer a slash command through its `response_url` (no token: the
    /// URL is the credential): `text` to the user only, or to the channel.
    pub async fn respond_to_command(
        &self,
        response_url: &str,
        text: &str,
        in_channel: bool,
    ) -> Result<(), WebError> {
        let body = json!({
            "text": text,
            "response_type": if in_channel { "in_channel" } else { "ephemeral" },
        });
        let unavailable = |detail: String| WebError::Unavailable {
            method: "response_url",
            detail,
        };
        let response = self
            .http
            .post(response_url)
            .json(&body)
            .send()
            .await
            .map_err(|e| unavailable(e.without_url().to_string()))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(unavailable(format!("HTTP {status}")))
        }
    }

    /// The user ids in user group `group`.
    pub async fn usergroup_members(&self, group: &str) -> Result<Vec<String>, WebError> {
        const METHOD: &str = "usergroups.users.list";
        let body = self
            .call(
                METHOD,
                TokenKind::Bot,
                Request::form([("usergroup", group.to_owned())]),
            )
            .await?;
        let users = body
            .get("users")
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(METHOD, "no users"))?;
        Ok(users
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_blocks_hold_the_text_and_one_styled_button_per_option() {
        let buttons = [
            PromptButton {
                id: "sbp:1:0:aa".into(),
                label: "Allow once".into(),
                style: ButtonStyle::Allow,
            },
            PromptButton {
                id: "sbp:1:1:bb".into(),
                label: "Reject".into(),
                style: ButtonStyle::Reject,
            },
        ];
        let blocks = prompt_blocks("*Bash* wants to run", &buttons);
        assert_eq!(blocks[0]["text"]["text"], "*Bash* wants to run");
        let elements = blocks[1]["elements"].as_array().unwrap();
        assert_eq!(elements.len(), 2);
        assert_eq!(elements[0]["action_id"], "sbp:1:0:aa");
        assert_eq!(elements[0]["style"], "primary");
        assert_eq!(elements[1]["style"], "danger");
        assert_eq!(elements[1]["text"]["text"], "Reject");
    }
}
