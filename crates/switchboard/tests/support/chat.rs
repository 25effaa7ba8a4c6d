//! A person in the simulated Discord talking to the bot: mention it,
//! follow up in threads, wait for the bot's "done" reaction.

use std::time::Duration;

use discord_sim::SimUser;

use super::{Harness, Options, bot_messages, wait_reaction};

/// How long one agent turn may take in these tests.
pub const TURN: Duration = Duration::from_secs(20);

pub struct Chat {
    pub h: Harness,
    pub channel: u64,
    pub alice: SimUser,
    pub mention: String,
}

impl Chat {
    pub async fn start(options: Options) -> Chat {
        let h = Harness::start(options).await;
        h.wait_ready().await;
        let channel = h.sim.channel_ids()[0];
        let alice = h.sim.user(7, "alice");
        let mention = format!("<@{}>", h.sim.bot_user().id);
        Chat {
            h,
            channel,
            alice,
            mention,
        }
    }

    /// Mention the bot in the channel; returns the message (= thread) id.
    pub fn ask(&self, text: &str) -> u64 {
        self.h.sim.inject_message(
            self.channel,
            &self.alice,
            &format!("{} {text}", self.mention),
        )
    }

    /// Post in a thread without a mention.
    pub fn say(&self, thread: u64, text: &str) -> u64 {
        self.h.sim.inject_message(thread, &self.alice, text)
    }

    /// Wait until the answer to `asked` is streaming: its first message
    /// posted and edited at least twice (so its id is journaled too).
    pub async fn wait_streaming(&self, asked: u64) {
        super::sim_wait(&self.h.sim, TURN, "part of the answer streamed", |s| {
            bot_messages(s, asked)
                .iter()
                .any(|m| m.content.contains("prompt:") && m.edits.len() >= 2)
                .then_some(())
        })
        .await;
    }

    pub async fn done(&self, channel: u64, message: u64) {
        wait_reaction(&self.h.sim, channel, message, "✅", TURN).await;
    }

    pub fn reply_texts(&self, thread: u64) -> Vec<String> {
        bot_messages(&self.h.sim, thread)
            .into_iter()
            .map(|m| m.content)
            .collect()
    }
}

/// The session id from the demo agent's "session <id> turn <n>:" header.
pub fn session_of(reply: &str) -> String {
    let rest = reply
        .strip_prefix("session ")
        .unwrap_or_else(|| panic!("no session header in {reply:?}"));
    rest.split_whitespace().next().unwrap().to_owned()
}
