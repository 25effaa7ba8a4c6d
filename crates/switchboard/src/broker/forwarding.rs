//! Clicks and commands (`!cancel`, `!reset`, and the slash commands for a
//! thread: Slack's `/switchboard status`, Discord's `/status`) heard by an
//! instance that does not own their thread (ADR 22): left in the store for
//! the owner, woken, and taken by the owner at its next look ([`Bridge::threads_waiting`]).
//!
//! Owns the JSON of a forwarded input and both ends of the hand-over. A
//! click's answer goes with it as its platform's route (the owner answers
//! it itself; the hearing instance readies it first, Discord's interaction
//! deferred within its 3 s, and owes nothing more). It must never act
//! on an input for a thread this instance does not hold, and never
//! forward one with one instance (no owners).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::bridge::Bridge;
use super::owners::BridgeOwners;
use super::permission_desk::NO_LONGER_OPEN;
use super::router::Command;
use super::thread::ThreadInput;
use super::thread_panel::ChoiceKind;
use crate::chat::{Author, ButtonClick};
use crate::store::now_ms;

/// At most this many inputs are taken per look.
const TAKE_PER_LOOK: usize = 100;

/// What is left for the owner.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum ForwardedKind {
    Click {
        message_id: String,
        button_id: String,
        user_id: String,
        user_name: String,
        /// The platform's route to answer the click.
        route: Value,
    },
    Command {
        /// `cancel` or `reset`.
        command: String,
    },
    /// `status`, `mode` or `model` of the thread's panel, with the
    /// command's answer route.
    Panel {
        panel: String,
        value: String,
        route: Value,
    },
}

fn command_name(command: Command) -> &'static str {
    match command {
        Command::Cancel => "cancel",
        Command::Reset => "reset",
    }
}

fn command_named(name: &str) -> Option<Command> {
    match name {
        "cancel" => Some(Command::Cancel),
        "reset" => Some(Command::Reset),
        _ => None,
    }
}

impl Bridge {
    /// The instance that owns `thread_id`, when it is not this one and
    /// this one cannot act on it: where its inputs go.
    async fn other_owner(&self, owned: &BridgeOwners, thread_id: &str) -> Option<String> {
        let platform = self.platform.as_str();
        if owned.owners.may_act(platform, thread_id) {
            return None;
        }
        match owned.owners.owner(platform, thread_id).await {
            Ok(Some(lease)) if lease.holder != owned.owners.instance() => Some(lease.holder),
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(%err, thread = thread_id, "could not find the owner of a thread");
                None
            }
        }
    }

    /// Leave `input` for `owner` and wake it; `false` if the store refused.
    async fn leave_for(&self, owner: &str, thread_id: &str, input: &ForwardedKind) -> bool {
        let store = self.deps.durable.store();
        let json = serde_json::to_string(input).expect("a forwarded input is JSON");
        let platform = self.platform.as_str();
        let left = store
            .forward_input(owner, platform, thread_id, &json, now_ms())
            .await;
        if let Err(err) = left {
            tracing::warn!(%err, thread = thread_id, "could not leave an input for the thread's owner");
            return false;
        }
        if let Err(err) = store.wake(owner).await {
            tracing::debug!(%err, "waking the owner failed; its poll takes the input");
        }
        tracing::info!(
            platform,
            thread = thread_id,
            owner,
            "input left for the instance that owns its thread"
        );
        true
    }

    /// A click on a thread another instance owns goes to that instance
    /// (`None`); else it is handed back for this instance's actor.
    pub(super) async fn forward_click(&mut self, click: ButtonClick) -> Option<ButtonClick> {
        let Some(owned) = self.owners.clone() else {
            return Some(click);
        };
        let Some(owner) = self.other_owner(&owned, &click.thread_key).await else {
            return Some(click);
        };
        let Some(route) = click.answer.route() else {
            return Some(click);
        };
        // Discord: deferred now, within its 3 s; the owner answers later.
        if let Err(err) = click.answer.hand_off().await {
            tracing::warn!(%err, thread = %click.thread_key, "could not ready a click for its thread's owner; forwarding it all the same");
        }
        let input = ForwardedKind::Click {
            message_id: click.message_id.clone(),
            button_id: click.button_id.clone(),
            user_id: click.user.id.clone(),
            user_name: click.user.name.clone(),
            route,
        };
        if !self.leave_for(&owner, &click.thread_key, &input).await {
            tokio::spawn(async move {
                let _ = click.answer.tell_privately(NO_LONGER_OPEN).await;
            });
            return None;
        }
        click.answer.forwarded();
        None
    }

    /// Whether `command` in `thread_id` is acted on here; with owners, a
    /// thread another instance owns gets it instead.
    pub(super) async fn command_here(&mut self, thread_id: &str, command: Command) -> bool {
        let Some(owned) = self.owners.clone() else {
            return true;
        };
        if owned.owners.may_act(self.platform.as_str(), thread_id) {
            return true;
        }
        if let Some(owner) = self.other_owner(&owned, thread_id).await {
            let input = ForwardedKind::Command {
                command: command_name(command).to_owned(),
            };
            self.leave_for(&owner, thread_id, &input).await;
        } else {
            tracing::info!(
                thread = thread_id,
                "a command in a thread nobody answers now; ignored"
            );
        }
        false
    }

    /// A slash command's input for `thread_id`, which another instance
    /// owns, goes to that instance (`None`); else it is handed back for
    /// this instance's actor. `!cancel` and `!reset` are answered here;
    /// the panel's commands (`status`, `mode`, `model`) by the owner,
    /// through their answer's route.
    pub(super) async fn forward_command_input(
        &mut self,
        thread_id: &str,
        input: ThreadInput,
    ) -> Option<ThreadInput> {
        let Some(owned) = self.owners.clone() else {
            return Some(input);
        };
        let Some(owner) = self.other_owner(&owned, thread_id).await else {
            return Some(input);
        };
        let (forwarded, answer) = match input {
            ThreadInput::Command(command) => (
                ForwardedKind::Command {
                    command: command_name(command).to_owned(),
                },
                None,
            ),
            ThreadInput::Status(answer) => match answer.route() {
                Some(route) => (
                    ForwardedKind::Panel {
                        panel: "status".to_owned(),
                        value: String::new(),
                        route,
                    },
                    Some(answer),
                ),
                None => return Some(ThreadInput::Status(answer)),
            },
            ThreadInput::Choose {
                kind,
                value,
                answer,
            } => match answer.route() {
                Some(route) => (
                    ForwardedKind::Panel {
                        panel: kind.word().to_owned(),
                        value,
                        route,
                    },
                    Some(answer),
                ),
                None => {
                    return Some(ThreadInput::Choose {
                        kind,
                        value,
                        answer,
                    });
                }
            },
            other => return Some(other),
        };
        if let Some(answer) = &answer
            && let Err(err) = answer.hand_off().await
        {
            tracing::warn!(%err, thread = thread_id, "could not ready a command for its thread's owner; forwarding it all the same");
        }
        // Not left (the store refused): a dropped answer says it could
        // not answer.
        if self.leave_for(&owner, thread_id, &forwarded).await
            && let Some(answer) = answer
        {
            answer.forwarded();
        }
        None
    }

    /// Act on the clicks and commands other instances left for this one.
    pub(super) async fn take_forwarded(&mut self, owned: &BridgeOwners) {
        let durable = self.deps.durable.clone();
        let taken = durable.check(
            "take forwarded inputs",
            durable
                .store()
                .take_forwarded_inputs(owned.owners.instance(), durable.platform(), TAKE_PER_LOOK)
                .await,
        );
        for forwarded in taken.unwrap_or_default() {
            let thread_id = forwarded.thread_id;
            let kind = match serde_json::from_str::<ForwardedKind>(&forwarded.input) {
                Ok(kind) => kind,
                Err(err) => {
                    tracing::warn!(%err, thread = %thread_id, "a forwarded input this build cannot read; dropped");
                    continue;
                }
            };
            match kind {
                ForwardedKind::Click {
                    message_id,
                    button_id,
                    user_id,
                    user_name,
                    route,
                } => {
                    let Some(answer) = (owned.answer_click)(&route) else {
                        tracing::warn!(thread = %thread_id, "a forwarded click without a usable route; dropped");
                        continue;
                    };
                    self.click_here(ButtonClick {
                        platform: self.platform,
                        thread_key: thread_id,
                        message_id,
                        button_id,
                        user: Author {
                            id: user_id,
                            name: user_name,
                            is_bot: false,
                        },
                        answer,
                    });
                }
                ForwardedKind::Panel {
                    panel,
                    value,
                    route,
                } => {
                    let Some(answer) = (owned.answer_command)(&route) else {
                        tracing::warn!(thread = %thread_id, "a forwarded command without a usable route; dropped");
                        continue;
                    };
                    let input = match panel.as_str() {
                        "status" => ThreadInput::Status(answer),
                        "mode" => ThreadInput::Choose {
                            kind: ChoiceKind::Mode,
                            value,
                            answer,
                        },
                        "model" => ThreadInput::Choose {
                            kind: ChoiceKind::Model,
                            value,
                            answer,
                        },
                        _ => continue,
                    };
                    if owned.owners.may_act(self.platform.as_str(), &thread_id) {
                        let origin = self.existing(&thread_id);
                        let parent = self.parent(&thread_id);
                        self.send(&thread_id, parent, origin, input).await;
                    }
                }
                ForwardedKind::Command { command } => {
                    let Some(command) = command_named(&command) else {
                        continue;
                    };
                    if !owned.owners.may_act(self.platform.as_str(), &thread_id) {
                        continue;
                    }
                    let origin = self.existing(&thread_id);
                    let parent = self.parent(&thread_id);
                    self.send(&thread_id, parent, origin, ThreadInput::Command(command))
                        .await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_input_reads_back_as_written() {
        for input in [
            ForwardedKind::Click {
                message_id: "C1:1.2".into(),
                button_id: "perm:abc".into(),
                user_id: "U1".into(),
                user_name: "alice".into(),
                route: serde_json::json!({"channel": "C1", "message_ts": "1.2"}),
            },
            ForwardedKind::Command {
                command: command_name(Command::Reset).into(),
            },
            ForwardedKind::Panel {
                panel: "mode".into(),
                value: "plan".into(),
                route: serde_json::json!({"response_url": "https://hooks.example/1"}),
            },
        ] {
            let json = serde_json::to_string(&input).unwrap();
            assert_eq!(serde_json::from_str::<ForwardedKind>(&json).unwrap(), input);
        }
        assert_eq!(command_named("cancel"), Some(Command::Cancel));
        assert_eq!(command_named("reset"), Some(Command::Reset));
        assert_eq!(command_named("other"), None);
    }
}
