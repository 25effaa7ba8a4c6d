//! A bridge through a store outage (ADR 21): while the store cannot be
//! reached, every message is turned away (not acknowledged, not acted on,
//! its cursor not moved) and its channel remembered ([`TurnedAway`]); once
//! the store is back, those channels are read back from their first
//! message turned away, and what arrives in them meanwhile is held
//! ([`Held`]) and handled right after what was read, so each channel
//! stays in order and nothing is answered twice (the journal dedupes what
//! both the read and Slack's redelivery bring).
//!
//! Owns the turn-away, the hold and the hand-over between them. Reading
//! happens off the intake (a future the intake polls beside its events),
//! so a slow platform never holds up other channels. Bounded: at most
//! [`MAX_HELD`] messages held per bridge (one more is turned away and read
//! back in a next round). It must never act on a message the store has not
//! journaled.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use super::bridge::Bridge;
use super::catch_up::read_turned_away;
use super::router::in_scope;
use crate::chat::receipt::Receipt;
use crate::chat::{ChatMessage, Platform};

/// Messages held at once per bridge while channels are read back.
pub const MAX_HELD: usize = 1_000;

/// Why a message is turned away, for its log line.
pub(super) const STORE_UNREACHABLE: &str = "the store is unreachable";
const HELD_FULL: &str = "too many messages held while channels are read back";

/// Channels being read back, with what arrived in each meanwhile (in
/// arrival order, each with its receipt: settled when it is handled).
#[derive(Debug, Default)]
pub struct Held {
    channels: HashMap<String, Vec<(ChatMessage, Receipt)>>,
    count: usize,
}

impl Held {
    /// Hold what arrives in `channel` from now on.
    fn start(&mut self, channel: &str) {
        self.channels.entry(channel.to_owned()).or_default();
    }

    /// Hold `message` if its channel is being read back.
    fn push(&mut self, message: ChatMessage, receipt: Receipt) -> Hold {
        let Some(queue) = self.channels.get_mut(&message.channel_id) else {
            return Hold::NotHeld(message, receipt);
        };
        if self.count >= MAX_HELD {
            return Hold::Full(message, receipt);
        }
        queue.push((message, receipt));
        self.count += 1;
        Hold::Held
    }

    /// Stop holding `channel`; what was held, oldest first.
    fn release(&mut self, channel: &str) -> Vec<(ChatMessage, Receipt)> {
        let held = self.channels.remove(channel).unwrap_or_default();
        self.count -= held.len();
        held
    }
}

/// What [`Held::push`] did with a message.
enum Hold {
    Held,
    /// Its channel is not being read back: handle it now.
    NotHeld(ChatMessage, Receipt),
    /// [`MAX_HELD`] are held already.
    Full(ChatMessage, Receipt),
}

/// One platform's channels read back after the store's return.
pub struct CaughtUp {
    pub platform: Platform,
    /// Every channel asked for, in order.
    asked: Vec<String>,
    /// What was read of each (a channel whose read failed is missing).
    read: Vec<(String, Vec<ChatMessage>)>,
}

/// A read back in progress, polled by the intake.
pub type CatchingUp = Pin<Box<dyn Future<Output = CaughtUp> + Send>>;

impl Bridge {
    /// `message` as it came if it is to be handled now; `None` if it was
    /// held (its channel is being read back) or turned away (too many
    /// held).
    pub(super) fn hold(
        &mut self,
        message: ChatMessage,
        receipt: Receipt,
    ) -> Option<(ChatMessage, Receipt)> {
        match self.held.push(message, receipt) {
            Hold::NotHeld(message, receipt) => Some((message, receipt)),
            Hold::Held => None,
            Hold::Full(message, receipt) => {
                self.turn_away(&message, receipt, HELD_FULL);
                None
            }
        }
    }

    /// Leave `message` for later: not acknowledged (Slack redelivers it),
    /// not acted on, its cursor not moved, and its channel remembered (if
    /// the bot listens there) so that it is read back ([`Self::store_back`]).
    pub(super) fn turn_away(&mut self, message: &ChatMessage, receipt: Receipt, why: &str) {
        receipt.settle(false);
        self.deps.durable.watch().turned_away();
        let remembered = in_scope(message, &self.gating, |id| {
            self.threads.get(id).map(|t| t.parent.clone())
        });
        if remembered {
            self.turned_away.record(&message.channel_id, &message.id);
        }
        tracing::info!(
            platform = self.platform.as_str(),
            message_id = %message.id,
            channel_id = %message.channel_id,
            caught_up = message.caught_up,
            remembered,
            why,
            "message turned away"
        );
    }

    /// The store is reachable again: read back the channels where messages
    /// were turned away, holding what arrives in them meanwhile. `None`
    /// when nothing was turned away.
    pub fn store_back(&mut self) -> Option<CatchingUp> {
        if self.turned_away.is_empty() {
            return None;
        }
        let turned_away = self.turned_away.take();
        let asked: Vec<String> = turned_away.iter().map(|(c, _)| c.clone()).collect();
        for channel in &asked {
            self.held.start(channel);
        }
        tracing::info!(
            platform = self.platform.as_str(),
            channels = asked.len(),
            "reading back the channels where messages were turned away while the store was unreachable"
        );
        let platform = self.platform;
        let read = read_turned_away(
            self.catch_up.history.clone(),
            platform.as_str(),
            turned_away,
            self.catch_up.limits.clone(),
        );
        Some(Box::pin(async move {
            CaughtUp {
                platform,
                asked,
                read: read.await,
            }
        }))
    }

    /// Handle what was read back, each channel's read before what was held
    /// in it meanwhile; then, if more was turned away since (and the store
    /// is up), the next round.
    pub async fn caught_up(&mut self, caught: CaughtUp) -> Option<CatchingUp> {
        let mut read: HashMap<String, Vec<ChatMessage>> = caught.read.into_iter().collect();
        for channel in caught.asked {
            let held = self.held.release(&channel);
            for message in read.remove(&channel).unwrap_or_default() {
                self.handle(message, Receipt::none()).await;
            }
            for (message, receipt) in held {
                self.handle(message, receipt).await;
            }
        }
        if self.deps.durable.watch().is_down() {
            // The next return starts the next round.
            return None;
        }
        self.store_back()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::Author;

    fn message(channel: &str, id: &str) -> ChatMessage {
        ChatMessage {
            platform: Platform::Discord,
            id: id.into(),
            channel_id: channel.into(),
            parent_channel_id: None,
            guild_id: None,
            author: Author {
                id: "7".into(),
                name: "alice".into(),
                is_bot: false,
            },
            content: "hi".into(),
            mentions_bot: false,
            bot_mention_markup: Vec::new(),
            mentioned_roles: Vec::new(),
            from_self: false,
            caught_up: false,
        }
    }

    fn ids(held: Vec<(ChatMessage, Receipt)>) -> Vec<String> {
        held.into_iter().map(|(m, _)| m.id).collect()
    }

    #[test]
    fn only_channels_being_read_back_are_held_in_order_and_bounded() {
        let mut held = Held::default();
        let free = held.push(message("c", "1"), Receipt::none());
        assert!(
            matches!(free, Hold::NotHeld(..)),
            "not read back: handled now"
        );
        held.start("c");
        for id in ["2", "3"] {
            assert!(matches!(
                held.push(message("c", id), Receipt::none()),
                Hold::Held
            ));
        }
        assert!(matches!(
            held.push(message("d", "4"), Receipt::none()),
            Hold::NotHeld(..)
        ));
        assert_eq!(ids(held.release("c")), ["2", "3"]);
        assert!(matches!(
            held.push(message("c", "5"), Receipt::none()),
            Hold::NotHeld(..)
        ));

        held.start("c");
        for n in 0..MAX_HELD {
            assert!(matches!(
                held.push(message("c", &n.to_string()), Receipt::none()),
                Hold::Held
            ));
        }
        assert!(matches!(
            held.push(message("c", "over"), Receipt::none()),
            Hold::Full(..)
        ));
        assert_eq!(held.release("c").len(), MAX_HELD);
        assert_eq!(held.count, 0);
    }
}
