//! The bridge for one platform: routed messages -> thread actors.
//!
//! Owns the map of threads switchboard started or answered in (so their
//! follow-ups need no mention) and spawns one actor per thread. Every
//! decision about who is answered is `router::route`'s; this only acts on it.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::router::{Route, route};
use super::thread::{Incoming, Origin, ThreadDeps, ThreadInput, spawn_thread};
use crate::chat::{ChatMessage, Conversation};
use crate::config::Gating;

/// Longest thread name, in characters (Discord allows 100).
const THREAD_NAME_CHARS: usize = 60;

struct OwnedThread {
    parent: String,
    input: mpsc::UnboundedSender<ThreadInput>,
}

pub struct Bridge {
    deps: Arc<ThreadDeps>,
    gating: Gating,
    threads: HashMap<String, OwnedThread>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

impl Bridge {
    pub fn new(
        deps: Arc<ThreadDeps>,
        gating: Gating,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        Self {
            deps,
            gating,
            threads: HashMap::new(),
            tracker,
            shutdown,
        }
    }

    /// Act on one (deduplicated) message.
    pub fn handle(&mut self, message: ChatMessage) {
        let decision = route(&message, &self.gating, |id| {
            self.threads.get(id).map(|t| t.parent.clone())
        });
        let incoming = |text: String| Incoming {
            message_id: message.id.clone(),
            channel_id: message.channel_id.clone(),
            author: message.author.name.clone(),
            is_bot: message.author.is_bot,
            text,
        };
        match decision {
            Route::Ignore(reason) => {
                tracing::debug!(message_id = %message.id, reason, "not for the bot");
            }
            Route::Deny => {
                tracing::info!(message_id = %message.id, author_id = %message.author.id, "user not allowed; reacting");
                let (outbound, emoji) = (
                    self.deps.outbound.clone(),
                    self.deps.reactions.denied.clone(),
                );
                let (channel, id) = (message.channel_id.clone(), message.id.clone());
                tokio::spawn(async move { outbound.react(&channel, &id, &emoji).await });
            }
            Route::Start { prompt } if prompt.is_empty() => {
                tracing::debug!(message_id = %message.id, "a mention without a prompt; ignored");
            }
            Route::Start { prompt } => {
                let origin = Origin::NewThread {
                    channel_id: message.channel_id.clone(),
                    message_id: message.id.clone(),
                    name: thread_name(&prompt),
                };
                // A thread started from a message has the message's id.
                self.spawn(message.id.clone(), message.channel_id.clone(), origin);
                self.send(&message.id, ThreadInput::Message(incoming(prompt)));
            }
            Route::Adopt {
                thread_id,
                parent_id,
                prompt,
            } => {
                let conversation = Conversation {
                    platform: message.platform,
                    channel_id: parent_id.clone(),
                    thread_id: thread_id.clone(),
                };
                self.spawn(thread_id.clone(), parent_id, Origin::Existing(conversation));
                self.send(&thread_id, ThreadInput::Message(incoming(prompt)));
            }
            Route::Continue { thread_id, prompt } => {
                self.send(&thread_id, ThreadInput::Message(incoming(prompt)))
            }
            Route::Command { thread_id, command } => {
                self.send(&thread_id, ThreadInput::Command(command))
            }
        }
    }

    fn spawn(&mut self, key: String, parent: String, origin: Origin) {
        let input = spawn_thread(
            key.clone(),
            origin,
            self.deps.clone(),
            &self.tracker,
            self.shutdown.clone(),
        );
        self.threads.insert(key, OwnedThread { parent, input });
    }

    fn send(&self, key: &str, input: ThreadInput) {
        if let Some(thread) = self.threads.get(key)
            && thread.input.send(input).is_err()
        {
            tracing::warn!(
                thread = key,
                "thread actor is gone (shutting down?); message not delivered"
            );
        }
    }
}

/// A thread name from the prompt: its first ~60 characters on one line,
/// cut at a word boundary when possible.
pub fn thread_name(prompt: &str) -> String {
    let flat = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= THREAD_NAME_CHARS {
        return if flat.is_empty() {
            "conversation".to_owned()
        } else {
            flat
        };
    }
    let cut: String = flat.chars().take(THREAD_NAME_CHARS).collect();
    let trimmed = match cut.rfind(' ') {
        Some(space) if space > THREAD_NAME_CHARS / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{trimmed}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_are_short_single_lines() {
        assert_eq!(thread_name("fix the\nbuild"), "fix the build");
        assert_eq!(thread_name("   "), "conversation");
        let long =
            "please look at the failing integration tests in the gateway crate and tell me why";
        let name = thread_name(long);
        assert!(name.chars().count() <= THREAD_NAME_CHARS + 1, "{name}");
        assert!(name.ends_with('…') && !name.contains("why"), "{name}");
        let unbroken = "x".repeat(200);
        assert_eq!(
            thread_name(&unbroken).chars().count(),
            THREAD_NAME_CHARS + 1
        );
        let multibyte = "漢".repeat(100);
        assert_eq!(
            thread_name(&multibyte).chars().count(),
            THREAD_NAME_CHARS + 1
        );
    }
}
