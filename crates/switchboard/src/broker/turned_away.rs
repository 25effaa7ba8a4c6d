//! Where the intake turned messages away while the store was unreachable:
//! per channel (or thread), the earliest message turned away there, which
//! is where the catch-up after the outage starts reading (ADR 21).
//!
//! Owns that map, bounded at [`MAX_CHANNELS`]: a channel past the bound is
//! counted and logged (WARN, once per outage), and its messages are left
//! to Slack's redelivery or the next session's catch-up. It must never
//! keep a message's content (ids only), and never read the store or the
//! platform itself.

use std::collections::HashMap;

use crate::store::id_cmp;

/// Channels remembered at once.
pub const MAX_CHANNELS: usize = 10_000;

#[derive(Debug, Default)]
pub struct TurnedAway {
    /// channel -> (order in which it was first turned away, first id).
    channels: HashMap<String, (u64, String)>,
    next: u64,
    /// Channels not remembered since the last `take` (over the bound).
    over: u64,
}

impl TurnedAway {
    /// Message `message_id` in `channel_id` was turned away.
    pub fn record(&mut self, channel_id: &str, message_id: &str) {
        if let Some((_, first)) = self.channels.get_mut(channel_id) {
            if id_cmp(message_id, first).is_lt() {
                *first = message_id.to_owned();
            }
            return;
        }
        if self.channels.len() >= MAX_CHANNELS {
            self.over += 1;
            if self.over == 1 {
                tracing::warn!(
                    channel_id,
                    max = MAX_CHANNELS,
                    "more channels turned away messages than are remembered; this one's are left to redelivery or the next session's catch-up"
                );
            }
            return;
        }
        self.channels
            .insert(channel_id.to_owned(), (self.next, message_id.to_owned()));
        self.next += 1;
    }

    /// Every channel and the first message turned away in it, in the
    /// order the channels were first turned away; forgets them.
    pub fn take(&mut self) -> Vec<(String, String)> {
        let mut taken: Vec<(u64, String, String)> = self
            .channels
            .drain()
            .map(|(channel, (order, first))| (order, channel, first))
            .collect();
        taken.sort_unstable_by_key(|(order, _, _)| *order);
        self.over = 0;
        taken
            .into_iter()
            .map(|(_, channel, first)| (channel, first))
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_earliest_message_per_channel_in_the_order_channels_came() {
        let mut away = TurnedAway::default();
        away.record("c", "12");
        away.record("t", "20");
        away.record("c", "10");
        away.record("c", "11");
        away.record("a", "5");
        assert_eq!(
            away.take(),
            [
                ("c".to_owned(), "10".to_owned()),
                ("t".to_owned(), "20".to_owned()),
                ("a".to_owned(), "5".to_owned())
            ]
        );
        assert!(away.is_empty());
        assert_eq!(away.take(), []);
    }

    #[test]
    fn at_most_max_channels_are_remembered() {
        let mut away = TurnedAway::default();
        for n in 0..=MAX_CHANNELS {
            away.record(&format!("c{n}"), "1");
        }
        let taken = away.take();
        assert_eq!(taken.len(), MAX_CHANNELS);
        assert!(!taken.iter().any(|(c, _)| *c == format!("c{MAX_CHANNELS}")));
    }
}
