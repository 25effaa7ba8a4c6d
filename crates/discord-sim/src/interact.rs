//! What a chosen user does with the bot's interactive surfaces: clicking a
//! button on a message (`click_button`) and running a slash command
//! (`run_command`), each dispatched as INTERACTION_CREATE to every session
//! (muted and delayed like any dispatch kind); and the `InteractionHandle`
//! a test keeps to wait for and read the bot's answer.
//!
//! Methods on `DiscordSim`; each is one state change under the lock. The
//! answers themselves arrive over REST (`rest::interaction_routes`); this
//! module must never answer on the bot's behalf.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::components;
use crate::config::SimUser;
use crate::interactions::{self, APPLICATION_COMMAND, Interaction, MESSAGE_COMPONENT, Original};
use crate::payloads::{self, InteractionFrame};
use crate::records::{CallbackRecord, EphemeralMessage, InteractionRecord, WebhookCallRecord};
use crate::sim::DiscordSim;
use crate::state::State;

/// Why a click or a command could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InteractionError {
    UnknownChannel(u64),
    UnknownMessage(u64),
    /// The message has no button with this custom id.
    UnknownButton(String),
    /// No command of this name is registered globally or for the guild.
    UnknownCommand(String),
    /// The command defines no option of this name.
    UnknownOption(String),
    /// A required option was not given.
    MissingOption(String),
    /// `options` is neither an array of options nor an object of values.
    BadOptions,
}

impl fmt::Display for InteractionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownChannel(id) => write!(f, "unknown channel {id}"),
            Self::UnknownMessage(id) => write!(f, "unknown message {id}"),
            Self::UnknownButton(c) => write!(f, "the message has no button {c:?}"),
            Self::UnknownCommand(n) => write!(f, "no command /{n} is registered"),
            Self::UnknownOption(n) => write!(f, "the command has no option {n:?}"),
            Self::MissingOption(n) => write!(f, "required option {n:?} missing"),
            Self::BadOptions => write!(f, "options must be an array or an object"),
        }
    }
}

impl std::error::Error for InteractionError {}

/// One interaction a test made; reads the bot's answers to it.
#[derive(Clone, Debug)]
pub struct InteractionHandle {
    sim: DiscordSim,
    id: u64,
    token: String,
    dispatched_at: Instant,
}

impl InteractionHandle {
    pub fn id(&self) -> u64 {
        self.id
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn dispatched_at(&self) -> Instant {
        self.dispatched_at
    }

    /// Every callback attempt, accepted or refused, oldest first.
    pub fn callbacks(&self) -> Vec<CallbackRecord> {
        self.sim
            .inner
            .read(|s| matching(&s.rec.callbacks, |c| c.interaction_id == self.id))
    }

    /// The accepted initial callback (type, content, flags, components,
    /// time from dispatch), if it came.
    pub fn response(&self) -> Option<CallbackRecord> {
        self.callbacks().into_iter().find(CallbackRecord::accepted)
    }

    /// Waits up to `timeout` for the accepted initial callback.
    pub async fn wait_response(&self, timeout: Duration) -> Option<CallbackRecord> {
        self.sim.wait_until(timeout, |_| self.response()).await
    }

    /// Follow-ups and `@original` reads/edits made with this token.
    pub fn webhook_calls(&self) -> Vec<WebhookCallRecord> {
        self.sim
            .inner
            .read(|s| matching(&s.rec.webhook_calls, |c| c.interaction_id == Some(self.id)))
    }

    /// The ephemeral messages of this interaction (seen only by its user).
    pub fn ephemeral_messages(&self) -> Vec<EphemeralMessage> {
        self.sim
            .inner
            .read(|s| matching(&s.rec.ephemeral, |e| e.interaction_id == self.id))
    }
}

fn matching<T: Clone>(all: &[T], keep: impl Fn(&T) -> bool) -> Vec<T> {
    all.iter().filter(|x| keep(x)).cloned().collect()
}

impl DiscordSim {
    /// Gives a member guild roles (shown in interactions' `member.roles`).
    pub fn set_member_roles(&self, user_id: u64, roles: &[u64]) {
        self.inner
            .update(|s| s.world.member_roles.insert(user_id, roles.to_vec()));
    }

    /// `user` clicks the button `custom_id` on a message: INTERACTION_CREATE
    /// type 3 to every session. The message must carry that button.
    pub fn click_button(
        &self,
        channel_id: u64,
        message_id: u64,
        custom_id: &str,
        user: &SimUser,
    ) -> Result<InteractionHandle, InteractionError> {
        self.click(channel_id, message_id, custom_id, user, true)
    }

    /// A click with a custom id the message does not carry, as a modified
    /// client could send (Discord itself would not deliver it): for
    /// testing that a bot refuses forged or stale ids.
    pub fn click_button_unchecked(
        &self,
        channel_id: u64,
        message_id: u64,
        custom_id: &str,
        user: &SimUser,
    ) -> Result<InteractionHandle, InteractionError> {
        self.click(channel_id, message_id, custom_id, user, false)
    }

    fn click(
        &self,
        channel_id: u64,
        message_id: u64,
        custom_id: &str,
        user: &SimUser,
        checked: bool,
    ) -> Result<InteractionHandle, InteractionError> {
        self.inner.update(|s| {
            let message = match s.world.message(channel_id, message_id) {
                Ok(m) => m.clone(),
                Err(crate::world::WorldError::UnknownChannel) => {
                    return Err(InteractionError::UnknownChannel(channel_id));
                }
                Err(_) => return Err(InteractionError::UnknownMessage(message_id)),
            };
            if checked
                && !components::button_custom_ids(&message.sim.components)
                    .iter()
                    .any(|c| c == custom_id)
            {
                return Err(InteractionError::UnknownButton(custom_id.to_owned()));
            }
            let data = json!({ "custom_id": custom_id, "component_type": 2, "values": [] });
            let made = Made {
                kind: MESSAGE_COMPONENT,
                channel_id,
                message: Some(&message),
                custom_id: Some(custom_id),
                command: None,
                options: Value::Null,
            };
            Ok(self.dispatch_interaction(s, user, made, data))
        })
    }

    /// `user` runs the slash command `/name` in a channel or thread:
    /// INTERACTION_CREATE type 2 to every session. Only a command the bot
    /// registered (for the guild, else globally) can run. `options` is
    /// Discord's array (`[{"name", "value"}]`, `type` filled in from the
    /// command when missing) or an object of values (`{"mode": "plan"}`).
    pub fn run_command(
        &self,
        channel_id: u64,
        user: &SimUser,
        name: &str,
        options: Value,
    ) -> Result<InteractionHandle, InteractionError> {
        self.inner.update(|s| {
            if !s.world.channels.contains_key(&channel_id) {
                return Err(InteractionError::UnknownChannel(channel_id));
            }
            let command = s
                .commands
                .find(s.world.guild_id, name)
                .cloned()
                .ok_or_else(|| InteractionError::UnknownCommand(name.to_owned()))?;
            let options = command_options(&command, options)?;
            let mut data = json!({
                "id": command["id"],
                "name": name,
                "type": 1,
                "options": options,
            });
            if let Some(guild_id) = command.get("guild_id") {
                data["guild_id"] = guild_id.clone();
            }
            let made = Made {
                kind: APPLICATION_COMMAND,
                channel_id,
                message: None,
                custom_id: None,
                command: Some(name),
                options: options.clone(),
            };
            Ok(self.dispatch_interaction(s, user, made, data))
        })
    }

    fn dispatch_interaction(
        &self,
        s: &mut State,
        user: &SimUser,
        made: Made<'_>,
        data: Value,
    ) -> InteractionHandle {
        s.world.users.insert(user.id, user.clone());
        let id = s.world.next_id();
        let token = interactions::random_token();
        let now = Instant::now();
        let channel = s.world.channels[&made.channel_id].clone();
        let frame = InteractionFrame {
            id,
            kind: made.kind,
            token: &token,
            channel: &channel,
            user,
        };
        let d = payloads::interaction(&s.world, &frame, data, made.message);
        s.interactions.insert(
            Interaction {
                id,
                token: token.clone(),
                kind: made.kind,
                channel_id: made.channel_id,
                user: user.clone(),
                message_id: made.message.map(|m| m.sim.id),
                dispatched_at: now,
                acknowledged: false,
                original: Original::None,
            },
            now,
            self.inner.config.interaction_token_life,
        );
        s.rec.interactions.push(InteractionRecord {
            id,
            token: token.clone(),
            kind: made.kind,
            channel_id: made.channel_id,
            user: user.clone(),
            message_id: made.message.map(|m| m.sim.id),
            custom_id: made.custom_id.map(str::to_owned),
            command: made.command.map(str::to_owned),
            options: made.options,
            dispatched_at: now,
        });
        // Interactions need no intent: every session of the channel's
        // guild's shard gets them.
        s.gw.dispatch_to_owners("INTERACTION_CREATE", Some(channel.guild_id), |_| {
            Some(d.clone())
        });
        InteractionHandle {
            sim: DiscordSim::from_inner(self.inner.clone()),
            id,
            token,
            dispatched_at: now,
        }
    }

    /// Every interaction made, oldest first.
    pub fn interactions(&self) -> Vec<InteractionRecord> {
        self.inner.read(|s| s.rec.interactions.clone())
    }

    /// Every initial-callback attempt, oldest first.
    pub fn interaction_callbacks(&self) -> Vec<CallbackRecord> {
        self.inner.read(|s| s.rec.callbacks.clone())
    }

    /// Every interaction webhook call (follow-ups, `@original`).
    pub fn interaction_webhook_calls(&self) -> Vec<WebhookCallRecord> {
        self.inner.read(|s| s.rec.webhook_calls.clone())
    }

    /// Every ephemeral message, oldest first.
    pub fn ephemeral_messages(&self) -> Vec<EphemeralMessage> {
        self.inner.read(|s| s.rec.ephemeral.clone())
    }

    /// The registered commands: global (`None`) or of a guild.
    pub fn application_commands(&self, guild_id: Option<u64>) -> Vec<Value> {
        self.inner.read(|s| s.commands.list(guild_id))
    }
}

/// What kind of interaction is being made, for the record.
struct Made<'a> {
    kind: u8,
    channel_id: u64,
    message: Option<&'a crate::world::StoredMessage>,
    custom_id: Option<&'a str>,
    command: Option<&'a str>,
    options: Value,
}

/// The options as Discord sends them, checked against the command.
fn command_options(command: &Value, given: Value) -> Result<Value, InteractionError> {
    let given: Vec<Value> = match given {
        Value::Null => Vec::new(),
        Value::Array(options) => options,
        Value::Object(values) => values
            .into_iter()
            .map(|(name, value)| json!({ "name": name, "value": value }))
            .collect(),
        _ => return Err(InteractionError::BadOptions),
    };
    let defined: &[Value] = command["options"].as_array().map_or(&[], Vec::as_slice);
    let mut out = Vec::with_capacity(given.len());
    for mut option in given {
        let name = option["name"].as_str().unwrap_or_default().to_owned();
        let definition = defined
            .iter()
            .find(|d| d["name"] == name.as_str())
            .ok_or(InteractionError::UnknownOption(name))?;
        if option.get("type").is_none() {
            option["type"] = definition["type"].clone();
        }
        out.push(option);
    }
    let has_subcommands = defined
        .iter()
        .any(|d| matches!(d["type"].as_u64(), Some(1 | 2)));
    if !has_subcommands {
        for required in defined.iter().filter(|d| d["required"] == true) {
            let name = required["name"].as_str().unwrap_or_default();
            if !out.iter().any(|o| o["name"] == name) {
                return Err(InteractionError::MissingOption(name.to_owned()));
            }
        }
    }
    Ok(Value::Array(out))
}
