//! INTERACTION_CREATE -> a [`ButtonClick`] (a component) or a
//! [`SlashCommand`] (an application command), and their answers over
//! Discord's interaction endpoints.
//!
//! Discord wants the initial callback within 3 s of the interaction, and
//! shows the user "This interaction failed" otherwise. The broker normally
//! answers in milliseconds (a click: type 7, update-message: the prompt's
//! text is replaced and its buttons removed in one call, or type 4 with the
//! ephemeral flag for a refusal; a command: type 4). Should it not have
//! answered after [`DEFER_AFTER`], the interaction is deferred (type 6 for a
//! click, type 5 for a command) and the later answer goes through the
//! interaction's webhook (edit `@original`, or a follow-up), which stays
//! valid for 15 minutes. Never decides who may click or run what. An interaction handed to
//! another instance (ADR 22) is deferred first and answered there through
//! the webhook (`interaction_routes`).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::directory::ChannelDirectory;
use super::rest::DiscordRest;
use super::rest_buttons::{
    CALLBACK_CHANNEL_MESSAGE, CALLBACK_DEFERRED_MESSAGE, CALLBACK_DEFERRED_UPDATE,
    CALLBACK_UPDATE_MESSAGE, EPHEMERAL,
};
use crate::chat::{
    Author, ButtonClick, ChatEvent, ClickAnswer, ClickResponder, CommandAnswer, CommandResponder,
    OutboundError, Platform, SlashCommand,
};

/// Deferred after this long unanswered: well inside Discord's 3 s.
pub const DEFER_AFTER: Duration = Duration::from_secs(2);

/// Interaction type 2: an application (slash) command.
const APPLICATION_COMMAND: u8 = 2;
/// Interaction type 3: a message component was used.
const MESSAGE_COMPONENT: u8 = 3;

#[derive(Deserialize)]
struct InteractionCreate {
    id: String,
    application_id: String,
    #[serde(rename = "type")]
    kind: u8,
    token: String,
    channel_id: Option<String>,
    member: Option<Member>,
    user: Option<User>,
    message: Option<ClickedMessage>,
    data: Option<InteractionData>,
}

#[derive(Deserialize)]
struct Member {
    user: User,
    #[serde(default)]
    roles: Vec<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    username: String,
    #[serde(default)]
    bot: bool,
}

#[derive(Deserialize)]
struct ClickedMessage {
    id: String,
}

#[derive(Deserialize)]
struct InteractionData {
    /// A component's id.
    custom_id: Option<String>,
    /// A command's name.
    name: Option<String>,
    #[serde(default)]
    options: Vec<CommandOption>,
}

#[derive(Deserialize)]
struct CommandOption {
    value: Option<serde_json::Value>,
}

/// Where an interaction's answer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Callback {
    /// No callback yet: the next answer is the callback.
    Open,
    /// Deferred (type 5 or 6): answers go through the webhook.
    Deferred,
    /// Answered.
    Done,
}

/// One interaction's answers: the callback first, the webhook after.
pub(super) struct InteractionReply {
    pub(super) rest: DiscordRest,
    pub(super) interaction_id: u64,
    pub(super) application_id: u64,
    pub(super) token: String,
    pub(super) state: Mutex<Callback>,
}

impl std::fmt::Debug for InteractionReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token answers as the bot for 15 minutes: never shown.
        f.debug_struct("InteractionReply")
            .field("interaction_id", &self.interaction_id)
            .finish_non_exhaustive()
    }
}

impl InteractionReply {
    /// The callback `kind` with `data` if nothing answered yet, else
    /// `later` through the webhook.
    async fn answer(
        &self,
        kind: u8,
        data: serde_json::Value,
        later: Later,
    ) -> Result<(), OutboundError> {
        let mut state = self.state.lock().await;
        let result = match *state {
            Callback::Open => {
                self.rest
                    .interaction_callback(self.interaction_id, &self.token, kind, Some(data))
                    .await
            }
            Callback::Deferred | Callback::Done => match later {
                Later::EditOriginal => {
                    self.rest
                        .interaction_edit_original(self.application_id, &self.token, data)
                        .await
                }
                Later::FollowUp => {
                    self.rest
                        .interaction_followup(self.application_id, &self.token, data)
                        .await
                }
            },
        };
        *state = Callback::Done;
        Ok(result?)
    }

    /// Defer with `kind` (and `data`) if nothing answered yet.
    async fn defer(&self, kind: u8, data: Option<serde_json::Value>) -> Result<(), OutboundError> {
        let mut state = self.state.lock().await;
        if *state != Callback::Open {
            return Ok(());
        }
        let result = self
            .rest
            .interaction_callback(self.interaction_id, &self.token, kind, data)
            .await;
        *state = Callback::Deferred;
        Ok(result?)
    }
}

/// Where an answer goes once the callback was deferred.
#[derive(Clone, Copy)]
enum Later {
    EditOriginal,
    FollowUp,
}

/// A click's answers.
#[derive(Debug)]
pub(super) struct ClickReply {
    pub(super) reply: InteractionReply,
    pub(super) roles: Vec<String>,
}

#[async_trait]
impl ClickResponder for ClickReply {
    async fn update_message(&self, text: &str) -> Result<(), OutboundError> {
        let data = json!({ "content": text, "components": [] });
        self.reply
            .answer(CALLBACK_UPDATE_MESSAGE, data, Later::EditOriginal)
            .await
    }

    async fn tell_privately(&self, text: &str) -> Result<(), OutboundError> {
        let data = json!({ "content": text, "flags": EPHEMERAL });
        self.reply
            .answer(CALLBACK_CHANNEL_MESSAGE, data, Later::FollowUp)
            .await
    }

    async fn acknowledge(&self) -> Result<(), OutboundError> {
        self.reply.defer(CALLBACK_DEFERRED_UPDATE, None).await
    }

    async fn user_groups(&self, _among: &[String]) -> Vec<String> {
        self.roles.clone()
    }

    fn route(&self) -> Option<serde_json::Value> {
        Some(super::interaction_routes::click_route(self))
    }

    async fn hand_off(&self) -> Result<(), OutboundError> {
        self.reply.defer(CALLBACK_DEFERRED_UPDATE, None).await
    }
}

/// A command's answer.
#[derive(Debug)]
pub(super) struct CommandReply {
    pub(super) reply: InteractionReply,
}

/// A deferred command's answer is its "thinking..." message, shown to the
/// user only.
async fn defer_command(reply: &InteractionReply) -> Result<(), OutboundError> {
    reply
        .defer(
            CALLBACK_DEFERRED_MESSAGE,
            Some(json!({ "flags": EPHEMERAL })),
        )
        .await
}

#[async_trait]
impl CommandResponder for CommandReply {
    async fn reply(&self, text: &str, private: bool) -> Result<(), OutboundError> {
        let mut data = json!({ "content": text, "allowed_mentions": { "parse": [] } });
        if private {
            data["flags"] = json!(EPHEMERAL);
        }
        // A deferred command shows "thinking..." as its original message:
        // the answer replaces it.
        self.reply
            .answer(CALLBACK_CHANNEL_MESSAGE, data, Later::EditOriginal)
            .await
    }

    fn route(&self) -> Option<serde_json::Value> {
        Some(super::interaction_routes::command_route(&self.reply))
    }

    async fn hand_off(&self) -> Result<(), OutboundError> {
        defer_command(&self.reply).await
    }
}

/// Hand an INTERACTION_CREATE (its `d`) to the broker as a click or a
/// command, its answer armed to defer after [`DEFER_AFTER`]. Other
/// interactions are ignored; a malformed one is logged at WARN.
pub fn on_interaction(
    d: &str,
    rest: &DiscordRest,
    directory: &ChannelDirectory,
    inbound: &crate::chat::InboundSender,
) {
    let interaction: InteractionCreate = match serde_json::from_str(d) {
        Ok(interaction) => interaction,
        Err(err) => {
            tracing::warn!(%err, "malformed INTERACTION_CREATE; skipped");
            return;
        }
    };
    if !matches!(interaction.kind, APPLICATION_COMMAND | MESSAGE_COMPONENT) {
        tracing::debug!(
            kind = interaction.kind,
            "interaction of another type; ignored"
        );
        return;
    }
    let (Ok(interaction_id), Ok(application_id)) = (
        interaction.id.parse::<u64>(),
        interaction.application_id.parse::<u64>(),
    ) else {
        tracing::warn!("INTERACTION_CREATE with ids that are not snowflakes; skipped");
        return;
    };
    let (user, roles) = match (interaction.member, interaction.user) {
        (Some(member), _) => (member.user, member.roles),
        (None, Some(user)) => (user, Vec::new()),
        (None, None) => {
            tracing::warn!("INTERACTION_CREATE without a user; skipped");
            return;
        }
    };
    let Some(channel) = interaction.channel_id else {
        tracing::warn!("INTERACTION_CREATE without a channel; skipped");
        return;
    };
    let user = Author {
        id: user.id,
        name: user.username,
        is_bot: user.bot,
    };
    let reply = InteractionReply {
        rest: rest.clone(),
        interaction_id,
        application_id,
        token: interaction.token,
        state: Mutex::new(Callback::Open),
    };
    let event = if interaction.kind == MESSAGE_COMPONENT {
        let (Some(message), Some(button_id)) = (
            interaction.message,
            interaction.data.and_then(|d| d.custom_id),
        ) else {
            tracing::warn!("component INTERACTION_CREATE without message or custom_id; skipped");
            return;
        };
        let responder = Arc::new(ClickReply { reply, roles });
        defer_later(responder.clone(), |r| async move {
            r.reply.defer(CALLBACK_DEFERRED_UPDATE, None).await
        });
        ChatEvent::ButtonClicked(Box::new(ButtonClick {
            platform: Platform::Discord,
            thread_key: channel,
            message_id: message.id,
            button_id,
            user,
            answer: ClickAnswer::new(responder),
        }))
    } else {
        let Some(data) = interaction.data else {
            tracing::warn!("command INTERACTION_CREATE without data; skipped");
            return;
        };
        let Some(name) = data.name else {
            tracing::warn!("command INTERACTION_CREATE without a name; skipped");
            return;
        };
        let argument = data
            .options
            .iter()
            .find_map(|o| o.value.as_ref())
            .map(|v| match v {
                serde_json::Value::String(text) => text.trim().to_owned(),
                other => other.to_string(),
            })
            .unwrap_or_default();
        let responder = Arc::new(CommandReply { reply });
        defer_later(responder.clone(), |r| async move {
            defer_command(&r.reply).await
        });
        let parent = channel
            .parse::<u64>()
            .ok()
            .and_then(|id| directory.parent_of(id))
            .map(|p| p.to_string());
        ChatEvent::SlashCommand(Box::new(SlashCommand {
            platform: Platform::Discord,
            channel_id: channel,
            parent_channel_id: parent,
            user,
            name: name.to_lowercase(),
            argument,
            answer: CommandAnswer::new(responder),
        }))
    };
    let _ = inbound.send(event);
}

/// Run `defer` after [`DEFER_AFTER`] (it does nothing if answered by then).
fn defer_later<R, F, Fut>(responder: Arc<R>, defer: F)
where
    R: Send + Sync + 'static,
    F: FnOnce(Arc<R>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), OutboundError>> + Send,
{
    tokio::spawn(async move {
        tokio::time::sleep(DEFER_AFTER).await;
        if let Err(err) = defer(responder).await {
            tracing::warn!(%err, "could not defer an interaction's answer");
        }
    });
}
