//! Slash commands reach the bridge here: who may run them, which thread
//! they mean, and what each does. `/cancel` and `/reset` are `!cancel` and
//! `!reset`; `/status`, `/mode` and `/model` in a thread are answered by
//! its [`ThreadPanel`](super::thread_panel::ThreadPanel); `/status` in a
//! channel gives the bot's own state; `/ask` posts the prompt in the
//! channel and opens a thread from it, as a mention would; `/help` lists
//! them.
//!
//! The thread a command means: on Discord, the thread it was run in; on
//! Slack (which runs commands in channels only), the thread in that
//! channel the user last wrote in ([`RecentThreads`]). Only users allowed
//! in the channel may run commands; anyone else is answered privately and
//! nothing is done. Never blocks the intake on an agent (panel answers run
//! on their own tasks).

use std::collections::{HashMap, VecDeque};

use super::bridge::{Bridge, thread_name};
use super::router::Command;
use super::thread::{Incoming, Origin, ThreadInput};
use super::thread_panel::ChoiceKind;
use crate::chat::command::help_text;
use crate::chat::{Platform, PostScope, SlashCommand};
use crate::store::{JournalEntry, JournalState, now_ms};

/// Users' latest threads remembered, at most; the oldest is forgotten
/// first beyond it.
const RECENT_THREADS_MAX: usize = 4096;

/// The thread each (channel, user) last wrote in (Slack's way to know
/// which thread a command means). Bounded by [`RECENT_THREADS_MAX`].
#[derive(Debug, Default)]
pub struct RecentThreads {
    latest: HashMap<(String, String), String>,
    order: VecDeque<(String, String)>,
}

impl RecentThreads {
    pub fn wrote(&mut self, channel: &str, user: &str, thread: &str) {
        let key = (channel.to_owned(), user.to_owned());
        if self.latest.insert(key.clone(), thread.to_owned()).is_none() {
            self.order.push_back(key);
            while self.order.len() > RECENT_THREADS_MAX {
                if let Some(oldest) = self.order.pop_front() {
                    self.latest.remove(&oldest);
                }
            }
        }
    }

    pub fn latest(&self, channel: &str, user: &str) -> Option<&str> {
        self.latest
            .get(&(channel.to_owned(), user.to_owned()))
            .map(String::as_str)
    }
}

/// How commands are written on the platform.
fn prefix(platform: Platform) -> &'static str {
    match platform {
        Platform::Discord => "/",
        Platform::Slack => "/switchboard ",
    }
}

impl Bridge {
    /// Act on a slash command.
    pub async fn command(&mut self, command: SlashCommand) {
        let SlashCommand {
            platform,
            channel_id,
            parent_channel_id,
            user,
            name,
            argument,
            answer,
        } = command;
        let p = prefix(platform);
        let thread = self.command_thread(platform, &channel_id, &user.id).await;
        let home = parent_channel_id
            .clone()
            .or_else(|| thread.as_ref().map(|t| self.parent(t)))
            .unwrap_or_else(|| channel_id.clone());
        let gating = self.gating();
        let channel_allowed = gating.allow_all_channels || gating.allowed_channels.contains(&home);
        let user_allowed =
            !user.is_bot && (gating.allow_all_users || gating.allowed_users.contains(&user.id));
        tracing::info!(platform = platform.as_str(), command = %name, user = %user.id, channel = %channel_id, thread = thread.as_deref().unwrap_or("-"), allowed = channel_allowed && user_allowed, "slash command");
        if !(channel_allowed && user_allowed) {
            answer.reply_later(
                "You cannot use switchboard's commands here (the channel or you are not \
                 on its allowlist)."
                    .to_owned(),
                true,
            );
            return;
        }
        let in_thread = |what: &str| {
            format!(
                "{p}{what} works in a thread switchboard answers in{}.",
                match platform {
                    Platform::Slack => " (on Slack: the thread you last wrote in, in this channel)",
                    Platform::Discord => "",
                }
            )
        };
        match (name.as_str(), thread) {
            ("help", _) => answer.reply_later(help_text(p), true),
            ("cancel" | "reset", None) => answer.reply_later(in_thread(&name), true),
            ("cancel", Some(thread)) => {
                self.deliver_to_thread(&thread, ThreadInput::Command(Command::Cancel))
                    .await;
                answer.reply_later("Cancelling the running turn, if any.".to_owned(), true);
            }
            ("reset", Some(thread)) => {
                self.deliver_to_thread(&thread, ThreadInput::Command(Command::Reset))
                    .await;
                answer.reply_later(
                    "Resetting: the next message starts a new agent session.".to_owned(),
                    true,
                );
            }
            ("status", Some(thread)) => {
                self.deliver_to_thread(&thread, ThreadInput::Status(answer))
                    .await;
            }
            ("status", None) => answer.reply_later(self.bot_status(), true),
            ("mode" | "model", None) => answer.reply_later(in_thread(&name), true),
            ("mode" | "model", Some(thread)) => {
                let kind = if name == "mode" {
                    ChoiceKind::Mode
                } else {
                    ChoiceKind::Model
                };
                let input = ThreadInput::Choose {
                    kind,
                    value: argument,
                    answer,
                };
                self.deliver_to_thread(&thread, input).await;
            }
            ("ask", _) if argument.is_empty() => {
                answer.reply_later(format!("Usage: `{p}ask <what to ask the agent>`"), true);
            }
            ("ask", _) => {
                let text = format!("<@{}> asked: {argument}", user.id);
                let key = PostScope::unique("ask").notice("ask");
                match self.deps.outbound.post_to_channel(&home, &text, &key).await {
                    Ok(root) => {
                        self.start_from_command(&home, &root, &user, &argument)
                            .await;
                        answer
                            .reply_later("Asked: the answer comes in the thread.".to_owned(), true);
                    }
                    Err(err) => {
                        tracing::warn!(%err, channel = %home, "could not post an /ask prompt");
                        answer.reply_later(format!("Could not post the question: {err}"), true);
                    }
                }
            }
            (other, _) => answer.reply_later(
                format!("Unknown command `{other}`.\n{}", help_text(p)),
                true,
            ),
        }
    }

    /// The thread a command means, if switchboard owns one there.
    async fn command_thread(
        &mut self,
        platform: Platform,
        channel: &str,
        user: &str,
    ) -> Option<String> {
        match platform {
            Platform::Discord => {
                // Unreachable: only the threads held in memory count.
                let _ = self.recall_thread(channel).await;
                self.threads
                    .contains_key(channel)
                    .then(|| channel.to_owned())
            }
            Platform::Slack => {
                // With several instances, another may have heard the
                // user's latest message: the journal knows.
                let shared = match &self.owners {
                    Some(_) => {
                        let durable = &self.deps.durable;
                        durable
                            .check(
                                "latest thread",
                                durable
                                    .store()
                                    .journal_latest_thread(durable.platform(), channel, user)
                                    .await,
                            )
                            .flatten()
                    }
                    None => None,
                };
                let thread = match shared {
                    Some(thread) => thread,
                    None => self.recent_threads.latest(channel, user)?.to_owned(),
                };
                let _ = self.recall_thread(&thread).await;
                self.threads.contains_key(&thread).then_some(thread)
            }
        }
    }

    /// Deliver `input` to the thread's actor (starting one if needed), or
    /// to the instance that owns the thread.
    async fn deliver_to_thread(&mut self, thread: &str, input: ThreadInput) {
        let Some(input) = self.forward_command_input(thread, input).await else {
            return;
        };
        let origin = self.existing(thread);
        let parent = self.parent(thread);
        self.send(thread, parent, origin, input).await;
    }

    /// Open a thread from the bot's post of an `/ask` and answer it, as a
    /// mention would be: journaled first, under the post's id.
    async fn start_from_command(
        &mut self,
        channel: &str,
        root: &str,
        user: &crate::chat::Author,
        prompt: &str,
    ) {
        let entry = JournalEntry {
            platform: self.platform.as_str().to_owned(),
            message_id: root.to_owned(),
            thread_id: root.to_owned(),
            channel_id: channel.to_owned(),
            author_id: user.id.clone(),
            author_name: user.name.clone(),
            is_bot: false,
            content: prompt.to_owned(),
            received_at_ms: now_ms(),
            state: JournalState::Received,
            reply_message_ids: Vec::new(),
        };
        // With several instances the new thread may go to another (least
        // loaded) instance; a store that cannot say keeps it here.
        let elsewhere = match self.answerer(root).await {
            Ok(super::owners::Answerer::Elsewhere(owner)) => Some(owner),
            _ => None,
        };
        // Unreachable: answered all the same (a command is not delivered again).
        if self.deps.durable.accept(&entry, elsewhere.as_deref()).await == Ok(Some(false)) {
            return;
        }
        self.deps.durable.save_thread(root, channel).await;
        if let Some(owner) = elsewhere {
            self.left_for(&owner, root, root).await;
            return;
        }
        self.recent_threads.wrote(channel, &user.id, root);
        let origin = Origin::NewThread {
            channel_id: channel.to_owned(),
            message_id: root.to_owned(),
            name: thread_name(prompt),
        };
        let incoming = Incoming {
            message_id: root.to_owned(),
            channel_id: channel.to_owned(),
            author_id: user.id.clone(),
            author: user.name.clone(),
            is_bot: false,
            text: prompt.to_owned(),
            taken_up: None,
        };
        self.send(
            root,
            channel.to_owned(),
            origin,
            ThreadInput::Message(incoming),
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_thread_per_channel_and_user_is_kept_within_the_bound() {
        let mut recent = RecentThreads::default();
        recent.wrote("C1", "U1", "t1");
        recent.wrote("C1", "U1", "t2");
        recent.wrote("C1", "U2", "t3");
        assert_eq!(recent.latest("C1", "U1"), Some("t2"));
        assert_eq!(recent.latest("C1", "U2"), Some("t3"));
        assert_eq!(recent.latest("C2", "U1"), None);
        for n in 0..RECENT_THREADS_MAX + 10 {
            recent.wrote("C9", &format!("U{n}"), "t");
        }
        assert!(recent.latest.len() <= RECENT_THREADS_MAX);
        assert_eq!(recent.latest("C1", "U1"), None, "the oldest went first");
    }
}
