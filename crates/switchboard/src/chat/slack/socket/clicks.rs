//! `interactive` envelopes -> [`ButtonClick`]s. The envelope is acked at
//! once by the link (Slack wants it within 3 s, and a click is never
//! redelivered); the answer then goes over the Web API: `chat.update` to
//! replace the prompt (its buttons removed), `chat.postEphemeral` for a
//! refusal. Approver user groups are looked up (`usergroups.users.list`)
//! only when the broker asks. Never decides who may click what.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::chat::slack::ids;
use crate::chat::slack::outbound::rendered_with_mentions;
use crate::chat::slack::web::SlackWeb;
use crate::chat::{
    Author, ButtonClick, ChatEvent, ClickAnswer, ClickResponder, InboundSender, OutboundError,
    Platform,
};

#[derive(Debug)]
struct SlackClickResponder {
    web: SlackWeb,
    channel: String,
    message_ts: String,
    thread_ts: Option<String>,
    user: String,
}

#[async_trait]
impl ClickResponder for SlackClickResponder {
    async fn update_message(&self, text: &str) -> Result<(), OutboundError> {
        Ok(self
            .web
            .close_prompt_message(
                &self.channel,
                &self.message_ts,
                &rendered_with_mentions(text),
            )
            .await?)
    }

    async fn tell_privately(&self, text: &str) -> Result<(), OutboundError> {
        Ok(self
            .web
            .post_ephemeral(
                &self.channel,
                &self.user,
                &rendered_with_mentions(text),
                self.thread_ts.as_deref(),
            )
            .await?)
    }

    async fn acknowledge(&self) -> Result<(), OutboundError> {
        // The envelope was acked on arrival; nothing more is owed.
        Ok(())
    }

    async fn user_groups(&self, among: &[String]) -> Vec<String> {
        let mut member_of = Vec::new();
        for group in among {
            match self.web.usergroup_members(group).await {
                Ok(users) if users.contains(&self.user) => member_of.push(group.clone()),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(platform = "slack", group, %err, "could not read an approver group's members");
                }
            }
        }
        member_of
    }

    fn route(&self) -> Option<Value> {
        Some(serde_json::json!({
            "channel": self.channel,
            "message_ts": self.message_ts,
            "thread_ts": self.thread_ts,
            "user": self.user,
        }))
    }
}

/// The answer to a click another instance heard, from its
/// [`ClickResponder::route`] (ADR 22); `None` if `route` is not one.
pub fn click_answer_from_route(web: &SlackWeb, route: &Value) -> Option<ClickAnswer> {
    let text = |key: &str| route.get(key).and_then(Value::as_str).map(str::to_owned);
    Some(ClickAnswer::new(Arc::new(SlackClickResponder {
        web: web.clone(),
        channel: text("channel")?,
        message_ts: text("message_ts")?,
        thread_ts: text("thread_ts"),
        user: text("user")?,
    })))
}

/// Hand a `block_actions` click to the broker; what it did, for the ack's
/// debug line.
pub fn handle(payload: &Value, web: &SlackWeb, inbound: &InboundSender) -> String {
    let kind = payload.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != "block_actions" {
        return format!("{kind:?} interaction");
    }
    let text = |pointer: &str| payload.pointer(pointer).and_then(Value::as_str);
    let (Some(channel), Some(message_ts), Some(user), Some(button_id)) = (
        text("/channel/id").or_else(|| text("/container/channel_id")),
        text("/container/message_ts").or_else(|| text("/message/ts")),
        text("/user/id"),
        text("/actions/0/action_id"),
    ) else {
        tracing::warn!(
            platform = "slack",
            "block_actions without channel, message, user or action; ignored"
        );
        return "malformed block_actions".to_owned();
    };
    let thread_ts = text("/container/thread_ts")
        .or_else(|| text("/message/thread_ts"))
        .map(str::to_owned);
    let root = thread_ts.as_deref().unwrap_or(message_ts);
    let name = text("/user/username")
        .or_else(|| text("/user/name"))
        .unwrap_or(user);
    let responder = Arc::new(SlackClickResponder {
        web: web.clone(),
        channel: channel.to_owned(),
        message_ts: message_ts.to_owned(),
        thread_ts: thread_ts.clone(),
        user: user.to_owned(),
    });
    let click = ButtonClick {
        platform: Platform::Slack,
        thread_key: ids::message_id(channel, root),
        message_id: ids::message_id(channel, message_ts),
        button_id: button_id.to_owned(),
        user: Author {
            id: user.to_owned(),
            name: name.to_owned(),
            is_bot: false,
        },
        answer: ClickAnswer::new(responder),
    };
    let _ = inbound.send(ChatEvent::ButtonClicked(Box::new(click)));
    "a button click, handed to the broker".to_owned()
}
