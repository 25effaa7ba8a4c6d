//! `slash_commands` envelopes (`/switchboard <subcommand> [argument]`) ->
//! [`SlashCommand`]s. The envelope is acked at once by the link (Slack
//! wants it within 3 s); the answer goes to the command's `response_url`
//! (ephemeral unless it is meant for the channel). Slack runs slash
//! commands in channels, not threads: the broker finds the thread.
//! Never decides who may run what.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::chat::slack::outbound::rendered_with_mentions;
use crate::chat::slack::web::SlackWeb;
use crate::chat::{
    Author, ChatEvent, CommandAnswer, CommandResponder, InboundSender, OutboundError, Platform,
    SlashCommand,
};

#[derive(Debug)]
struct ResponseUrlReply {
    web: SlackWeb,
    response_url: String,
}

#[async_trait]
impl CommandResponder for ResponseUrlReply {
    async fn reply(&self, text: &str, private: bool) -> Result<(), OutboundError> {
        Ok(self
            .web
            .respond_to_command(&self.response_url, &rendered_with_mentions(text), !private)
            .await?)
    }

    fn route(&self) -> Option<Value> {
        Some(serde_json::json!({ "response_url": self.response_url }))
    }
}

/// The answer to a command another instance heard, from its
/// [`CommandResponder::route`] (ADR 22); `None` if `route` is not one.
pub fn command_answer_from_route(web: &SlackWeb, route: &Value) -> Option<CommandAnswer> {
    let response_url = route.get("response_url")?.as_str()?.to_owned();
    Some(CommandAnswer::new(Arc::new(ResponseUrlReply {
        web: web.clone(),
        response_url,
    })))
}

/// Hand a slash command to the broker; what it did, for the ack's debug
/// line.
pub fn handle(payload: &Value, web: &SlackWeb, inbound: &InboundSender) -> String {
    let text = |key: &str| payload.get(key).and_then(Value::as_str);
    let (Some(channel), Some(user), Some(response_url)) =
        (text("channel_id"), text("user_id"), text("response_url"))
    else {
        tracing::warn!(
            platform = "slack",
            "slash command without channel, user or response_url; ignored"
        );
        return "malformed slash command".to_owned();
    };
    let words = text("text").unwrap_or("").trim();
    let (name, argument) = match words.split_once(char::is_whitespace) {
        Some((name, rest)) => (name, rest.trim()),
        None => (words, ""),
    };
    let name = if name.is_empty() { "help" } else { name };
    let command = SlashCommand {
        platform: Platform::Slack,
        channel_id: channel.to_owned(),
        parent_channel_id: None,
        user: Author {
            id: user.to_owned(),
            name: text("user_name").unwrap_or(user).to_owned(),
            is_bot: false,
        },
        name: name.to_lowercase(),
        argument: argument.to_owned(),
        answer: CommandAnswer::new(Arc::new(ResponseUrlReply {
            web: web.clone(),
            response_url: response_url.to_owned(),
        })),
    };
    let _ = inbound.send(ChatEvent::SlashCommand(Box::new(command)));
    "a slash command, handed to the broker".to_owned()
}
