//! A bounded memory of recently seen ids (messages, Slack event ids).
//!
//! Gateway replays after a resume, redeliveries and catch-up can hand the
//! same message over more than once; the first sighting wins. The oldest ids
//! are forgotten once `capacity` is reached, so memory stays bounded.

use std::collections::{HashSet, VecDeque};

#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<String>,
    seen: HashSet<String>,
}

impl RecentIds {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "a dedupe window must hold at least one id");
        Self {
            capacity,
            order: VecDeque::with_capacity(capacity),
            seen: HashSet::with_capacity(capacity),
        }
    }

    /// `true` the first time `id` is offered (within the window).
    pub fn first_sighting(&mut self, id: &str) -> bool {
        if self.seen.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.order.push_back(id.to_owned());
        self.seen.insert(id.to_owned());
        true
    }

    /// Whether `id` is in the window (not recorded).
    pub fn contains(&self, id: &str) -> bool {
        self.seen.contains(id)
    }

    /// Forget `id` (a rare path: O(len)), so its next sighting is a first.
    pub fn forget(&mut self, id: &str) {
        if self.seen.remove(id) {
            self.order.retain(|kept| kept != id);
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeat_is_caught_and_the_window_forgets_the_oldest() {
        let mut ids = RecentIds::new(2);
        assert!(ids.first_sighting("a"));
        assert!(!ids.first_sighting("a"));
        assert!(ids.first_sighting("b"));
        assert!(ids.first_sighting("c"), "evicts a");
        assert_eq!(ids.len(), 2);
        assert!(!ids.first_sighting("b"));
        assert!(ids.first_sighting("a"), "a was forgotten");
    }

    #[test]
    fn a_forgotten_id_is_a_first_sighting_again() {
        let mut ids = RecentIds::new(3);
        assert!(ids.first_sighting("a"));
        assert!(ids.first_sighting("b"));
        ids.forget("a");
        ids.forget("never-seen");
        assert_eq!(ids.len(), 1);
        assert!(ids.first_sighting("a"));
        assert!(!ids.first_sighting("b"));
    }
}
