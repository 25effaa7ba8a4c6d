//! Live interactions (component clicks and slash commands) between their
//! dispatch and the end of their token's life: who made them, where, when
//! they were dispatched, whether the initial callback came, which message
//! is their "original" answer, and the ephemeral messages only their user
//! sees. Enforces Discord's clocks: the initial callback within
//! `interaction_callback_deadline` (3 s) of the dispatch, after which an
//! unanswered token is dead; follow-ups for `interaction_token_life`
//! (15 min) after it.
//!
//! Pure bookkeeping under the state lock (REST answers are built in
//! `rest::interaction_routes`). Bounded: an interaction is forgotten when
//! a later one is created after its token life ended (an unknown
//! interaction and a dead token get the same answers as a forgotten one).

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::config::SimUser;
use crate::world::StoredMessage;

/// INTERACTION_CREATE `type`s the sim makes.
pub(crate) const APPLICATION_COMMAND: u8 = 2;
pub(crate) const MESSAGE_COMPONENT: u8 = 3;

/// Message flag: only the interaction's user sees the message.
pub(crate) const EPHEMERAL: u64 = 64;

/// Which message `@original` means for an interaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Original {
    /// Not answered yet.
    None,
    /// A channel message (a type 4/5 answer, or the clicked message after
    /// type 6/7).
    Channel(u64),
    /// An ephemeral message (a type 4/5 answer with flags 64).
    Ephemeral(u64),
}

#[derive(Debug)]
pub(crate) struct Interaction {
    pub id: u64,
    pub token: String,
    pub kind: u8,
    pub channel_id: u64,
    pub user: SimUser,
    /// The message whose component was clicked.
    pub message_id: Option<u64>,
    pub dispatched_at: Instant,
    pub acknowledged: bool,
    pub original: Original,
}

impl Interaction {
    /// Whether the initial callback may still come.
    pub fn callback_open(&self, now: Instant, deadline: Duration) -> bool {
        now.saturating_duration_since(self.dispatched_at) <= deadline
    }

    /// Whether the token still serves webhooks: answered in time and
    /// younger than `life`.
    pub fn token_alive(&self, now: Instant, deadline: Duration, life: Duration) -> bool {
        let age = now.saturating_duration_since(self.dispatched_at);
        if self.acknowledged {
            age <= life
        } else {
            age <= deadline
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Interactions {
    live: HashMap<u64, Interaction>,
    by_token: HashMap<String, u64>,
    /// Ephemeral messages by id, with the interaction they belong to.
    ephemeral: HashMap<u64, (u64, StoredMessage)>,
}

impl Interactions {
    /// Remembers a new interaction; first forgets every one whose token
    /// life ended.
    pub fn insert(&mut self, interaction: Interaction, now: Instant, life: Duration) {
        let dead: Vec<u64> = self
            .live
            .values()
            .filter(|i| now.saturating_duration_since(i.dispatched_at) > life)
            .map(|i| i.id)
            .collect();
        for id in dead {
            if let Some(gone) = self.live.remove(&id) {
                self.by_token.remove(&gone.token);
            }
            self.ephemeral.retain(|_, (owner, _)| *owner != id);
        }
        self.by_token
            .insert(interaction.token.clone(), interaction.id);
        self.live.insert(interaction.id, interaction);
    }

    /// The interaction with this id, if `token` is its token.
    pub fn get_mut(&mut self, id: u64, token: &str) -> Option<&mut Interaction> {
        self.live.get_mut(&id).filter(|i| i.token == token)
    }

    pub fn by_token_mut(&mut self, token: &str) -> Option<&mut Interaction> {
        let id = *self.by_token.get(token)?;
        self.live.get_mut(&id)
    }

    pub fn add_ephemeral(&mut self, interaction_id: u64, message: StoredMessage) {
        self.ephemeral
            .insert(message.sim.id, (interaction_id, message));
    }

    /// An ephemeral message of this interaction.
    pub fn ephemeral_mut(&mut self, interaction_id: u64, id: u64) -> Option<&mut StoredMessage> {
        self.ephemeral
            .get_mut(&id)
            .filter(|(owner, _)| *owner == interaction_id)
            .map(|(_, m)| m)
    }
}

/// A fresh interaction token (Discord's are long opaque strings).
pub(crate) fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("aW50ZXJhY3Rpb246{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interaction(id: u64, at: Instant) -> Interaction {
        Interaction {
            id,
            token: format!("t{id}"),
            kind: MESSAGE_COMPONENT,
            channel_id: 1,
            user: SimUser {
                id: 2,
                name: "u".into(),
                bot: false,
            },
            message_id: None,
            dispatched_at: at,
            acknowledged: false,
            original: Original::None,
        }
    }

    #[test]
    fn clocks_and_forgetting() {
        let t0 = Instant::now();
        let three = Duration::from_secs(3);
        let life = Duration::from_secs(900);
        let mut i = interaction(1, t0);
        assert!(i.callback_open(t0 + three, three));
        assert!(!i.callback_open(t0 + three + Duration::from_millis(1), three));
        assert!(!i.token_alive(t0 + Duration::from_secs(4), three, life));
        i.acknowledged = true;
        assert!(i.token_alive(t0 + Duration::from_secs(899), three, life));
        assert!(!i.token_alive(t0 + Duration::from_secs(901), three, life));

        let mut all = Interactions::default();
        all.insert(interaction(1, t0), t0, life);
        assert!(all.get_mut(1, "t1").is_some());
        assert!(all.get_mut(1, "t2").is_none());
        all.insert(interaction(2, t0 + life * 2), t0 + life * 2, life);
        assert!(all.by_token_mut("t1").is_none());
        assert!(all.by_token_mut("t2").is_some());
    }
}
