//! INTERACTION_CREATE for a button click -> a [`ButtonClick`], and the
//! click's answer over Discord's interaction endpoints.
//!
//! Discord wants the initial callback within 3 s of the interaction, and
//! shows the user "This interaction failed" otherwise. The broker normally
//! answers in milliseconds (type 7, update-message: the prompt's text is
//! replaced and its buttons removed in one call; or type 4 with the
//! ephemeral flag for a refusal). Should it not have answered after
//! [`DEFER_AFTER`], the click is deferred (type 6) and the later answer goes
//! through the interaction's webhook (edit `@original`, or an ephemeral
//! follow-up), which stays valid for 15 minutes. Never decides who may
//! click what.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::Mutex;

use super::rest::DiscordRest;
use super::rest_buttons::{
    CALLBACK_CHANNEL_MESSAGE, CALLBACK_DEFERRED_UPDATE, CALLBACK_UPDATE_MESSAGE, EPHEMERAL,
};
use crate::chat::{Author, ButtonClick, ClickAnswer, ClickResponder, OutboundError, Platform};

/// Deferred after this long unanswered: well inside Discord's 3 s.
pub const DEFER_AFTER: Duration = Duration::from_secs(2);

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
    data: Option<ComponentData>,
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
struct ComponentData {
    custom_id: Option<String>,
}

/// Where the click's answer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Callback {
    /// No callback yet: the next answer is the callback.
    Open,
    /// Deferred (type 6): answers go through the webhook.
    Deferred,
    /// Answered.
    Done,
}

struct DiscordClickResponder {
    rest: DiscordRest,
    interaction_id: u64,
    application_id: u64,
    token: String,
    roles: Vec<String>,
    state: Mutex<Callback>,
}

impl std::fmt::Debug for DiscordClickResponder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token answers as the bot for 15 minutes: never shown.
        f.debug_struct("DiscordClickResponder")
            .field("interaction_id", &self.interaction_id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl ClickResponder for DiscordClickResponder {
    async fn update_message(&self, text: &str) -> Result<(), OutboundError> {
        let data = json!({ "content": text, "components": [] });
        let mut state = self.state.lock().await;
        let result = match *state {
            Callback::Open => {
                self.rest
                    .interaction_callback(
                        self.interaction_id,
                        &self.token,
                        CALLBACK_UPDATE_MESSAGE,
                        Some(data),
                    )
                    .await
            }
            Callback::Deferred | Callback::Done => {
                self.rest
                    .interaction_edit_original(self.application_id, &self.token, data)
                    .await
            }
        };
        *state = Callback::Done;
        Ok(result?)
    }

    async fn tell_privately(&self, text: &str) -> Result<(), OutboundError> {
        let data = json!({ "content": text, "flags": EPHEMERAL });
        let mut state = self.state.lock().await;
        let result = match *state {
            Callback::Open => {
                self.rest
                    .interaction_callback(
                        self.interaction_id,
                        &self.token,
                        CALLBACK_CHANNEL_MESSAGE,
                        Some(data),
                    )
                    .await
            }
            Callback::Deferred | Callback::Done => {
                self.rest
                    .interaction_followup(self.application_id, &self.token, data)
                    .await
            }
        };
        *state = Callback::Done;
        Ok(result?)
    }

    async fn acknowledge(&self) -> Result<(), OutboundError> {
        self.defer().await
    }

    async fn user_groups(&self, _among: &[String]) -> Vec<String> {
        self.roles.clone()
    }
}

impl DiscordClickResponder {
    /// Defer (type 6) if nothing answered yet.
    async fn defer(&self) -> Result<(), OutboundError> {
        let mut state = self.state.lock().await;
        if *state != Callback::Open {
            return Ok(());
        }
        let result = self
            .rest
            .interaction_callback(
                self.interaction_id,
                &self.token,
                CALLBACK_DEFERRED_UPDATE,
                None,
            )
            .await;
        *state = Callback::Deferred;
        Ok(result?)
    }
}

/// The click in an INTERACTION_CREATE's `d`, with its answer armed to
/// defer after [`DEFER_AFTER`]; `None` for other interactions (and a WARN
/// for a malformed one).
pub fn button_click(d: &str, rest: &DiscordRest) -> Option<ButtonClick> {
    let interaction: InteractionCreate = match serde_json::from_str(d) {
        Ok(interaction) => interaction,
        Err(err) => {
            tracing::warn!(%err, "malformed INTERACTION_CREATE; skipped");
            return None;
        }
    };
    if interaction.kind != MESSAGE_COMPONENT {
        tracing::debug!(
            kind = interaction.kind,
            "interaction of another type; ignored"
        );
        return None;
    }
    let (Ok(interaction_id), Ok(application_id)) = (
        interaction.id.parse::<u64>(),
        interaction.application_id.parse::<u64>(),
    ) else {
        tracing::warn!("INTERACTION_CREATE with ids that are not snowflakes; skipped");
        return None;
    };
    let (user, roles) = match (interaction.member, interaction.user) {
        (Some(member), _) => (member.user, member.roles),
        (None, Some(user)) => (user, Vec::new()),
        (None, None) => {
            tracing::warn!("INTERACTION_CREATE without a user; skipped");
            return None;
        }
    };
    let (Some(channel), Some(message), Some(button_id)) = (
        interaction.channel_id,
        interaction.message,
        interaction.data.and_then(|d| d.custom_id),
    ) else {
        tracing::warn!(
            "component INTERACTION_CREATE without channel, message or custom_id; skipped"
        );
        return None;
    };
    let responder = Arc::new(DiscordClickResponder {
        rest: rest.clone(),
        interaction_id,
        application_id,
        token: interaction.token,
        roles,
        state: Mutex::new(Callback::Open),
    });
    let deferred = responder.clone();
    tokio::spawn(async move {
        tokio::time::sleep(DEFER_AFTER).await;
        if let Err(err) = deferred.defer().await {
            tracing::warn!(%err, "could not defer a click's answer");
        }
    });
    Some(ButtonClick {
        platform: Platform::Discord,
        thread_key: channel,
        message_id: message.id,
        button_id,
        user: Author {
            id: user.id,
            name: user.username,
            is_bot: user.bot,
        },
        answer: ClickAnswer::new(responder),
    })
}
