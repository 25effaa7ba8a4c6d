//! Slash commands, the same for every platform: a [`SlashCommand`] as the
//! broker receives it, and the one-time [`CommandAnswer`] it is owed.
//!
//! Discord delivers each command as its own application command
//! (`/status`); Slack as one command with a subcommand (`/switchboard
//! status`); both become the same `name` + `argument`. A platform answers
//! its own way behind [`CommandResponder`] (Discord: the interaction
//! callback within 3 s; Slack: the response_url). A [`CommandAnswer`]
//! dropped unanswered says so privately, so no command is left without a
//! reply. Nothing here decides who may run what.

use std::sync::Arc;

use async_trait::async_trait;

use super::{Author, OutboundError, Platform};

/// The subcommands switchboard offers, with their one-line help.
pub const COMMANDS: [(&str, &str); 7] = [
    ("ask", "Start a thread with the agent: /ask <prompt>"),
    ("cancel", "Stop the running turn in this thread"),
    (
        "reset",
        "End this thread's agent session; the next message starts fresh",
    ),
    (
        "status",
        "This thread's agent session, or the bot's connections",
    ),
    (
        "mode",
        "Show the agent's modes in this thread, or switch: /mode <id>",
    ),
    (
        "model",
        "Show the agent's models in this thread, or switch: /model <id>",
    ),
    ("help", "What these commands do"),
];

/// A command someone ran.
#[derive(Debug)]
pub struct SlashCommand {
    pub platform: Platform,
    /// Where it was run: a channel, or (Discord) a thread.
    pub channel_id: String,
    /// When `channel_id` is a thread: its parent channel, if known.
    pub parent_channel_id: Option<String>,
    pub user: Author,
    /// The subcommand, lower case: `status`, `mode`, ...
    pub name: String,
    /// What followed it (a mode id, a prompt), trimmed; may be empty.
    pub argument: String,
    pub answer: CommandAnswer,
}

/// How a platform answers one command.
#[async_trait]
pub trait CommandResponder: Send + Sync + 'static {
    /// Answer with `text`: to the user only when `private`, else to the
    /// channel.
    async fn reply(&self, text: &str, private: bool) -> Result<(), OutboundError>;
    /// What another instance needs to answer this command itself (the
    /// thread's owner, ADR 22), as JSON; `None`: it cannot.
    fn route(&self) -> Option<serde_json::Value> {
        None
    }
    /// Before the command is handed to another instance: whatever the
    /// platform needs so the other can answer later (Discord: defer the
    /// interaction now, within its 3 s; Slack: nothing).
    async fn hand_off(&self) -> Result<(), OutboundError> {
        Ok(())
    }
}

/// The answer a command is owed, once.
pub struct CommandAnswer {
    responder: Option<Arc<dyn CommandResponder>>,
}

impl std::fmt::Debug for CommandAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandAnswer")
            .field("answered", &self.responder.is_none())
            .finish()
    }
}

/// What a dropped answer says.
const UNANSWERED: &str = "switchboard could not answer this command.";

impl CommandAnswer {
    pub fn new(responder: Arc<dyn CommandResponder>) -> Self {
        Self {
            responder: Some(responder),
        }
    }

    /// What another instance needs to answer this command
    /// ([`CommandResponder::route`]).
    pub fn route(&self) -> Option<serde_json::Value> {
        self.responder.as_ref().and_then(|r| r.route())
    }

    /// Ready the command for another instance's answer
    /// ([`CommandResponder::hand_off`]); it can still be answered here.
    pub async fn hand_off(&self) -> Result<(), OutboundError> {
        match &self.responder {
            Some(responder) => responder.hand_off().await,
            None => Ok(()),
        }
    }

    /// The command was handed to another instance, which answers it: this
    /// one owes nothing (not even the "could not answer" of a drop).
    pub fn forwarded(mut self) {
        self.responder = None;
    }

    /// Answer the command.
    pub async fn reply(mut self, text: &str, private: bool) -> Result<(), OutboundError> {
        match self.responder.take() {
            Some(responder) => responder.reply(text, private).await,
            None => Ok(()),
        }
    }

    /// Answer in the background (errors are logged).
    pub fn reply_later(self, text: String, private: bool) {
        tokio::spawn(async move {
            if let Err(err) = self.reply(&text, private).await {
                tracing::warn!(%err, "could not answer a slash command");
            }
        });
    }
}

impl Drop for CommandAnswer {
    fn drop(&mut self) {
        let Some(responder) = self.responder.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = responder.reply(UNANSWERED, true).await;
            });
        }
    }
}

/// The help text: one line per command, with the platform's prefix
/// (`/` on Discord, `/switchboard ` on Slack).
pub fn help_text(prefix: &str) -> String {
    COMMANDS
        .iter()
        .map(|(name, what)| format!("`{prefix}{name}`: {what}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Recorded(Mutex<Vec<(String, bool)>>);

    #[async_trait]
    impl CommandResponder for Recorded {
        async fn reply(&self, text: &str, private: bool) -> Result<(), OutboundError> {
            self.0.lock().unwrap().push((text.to_owned(), private));
            Ok(())
        }
    }

    #[tokio::test]
    async fn an_answer_is_given_once_and_a_dropped_one_says_so_privately() {
        let recorded = Arc::new(Recorded::default());
        CommandAnswer::new(recorded.clone())
            .reply("ok", false)
            .await
            .unwrap();
        drop(CommandAnswer::new(recorded.clone()));
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while recorded.0.lock().unwrap().len() < 2 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no answer after drop"
            );
            tokio::task::yield_now().await;
        }
        assert_eq!(
            *recorded.0.lock().unwrap(),
            [("ok".to_owned(), false), (UNANSWERED.to_owned(), true)]
        );
        assert!(help_text("/switchboard ").contains("`/switchboard status`"));
    }
}
