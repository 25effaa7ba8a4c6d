//! Which Web API methods Slack has rate limited, and until when: a 429's
//! `Retry-After` holds its method (Slack's tier limits are per method and
//! workspace), so every other call of that method waits it out instead of
//! earning another 429, and the lowest-priority calls (the delivery check)
//! skip rather than wait.
//!
//! Plain bookkeeping: never awaits, never holds its lock past one map
//! operation. Bounded: one entry per method name, and the methods are the
//! client's own `&'static str` constants.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;

/// Shared by every clone of one client.
#[derive(Clone, Debug, Default)]
pub(super) struct RateHolds {
    until: Arc<Mutex<HashMap<&'static str, Instant>>>,
}

impl RateHolds {
    fn lock(&self) -> MutexGuard<'_, HashMap<&'static str, Instant>> {
        self.until.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Slack answered `method` with a 429: hold it until `until` (a later
    /// hold already known wins).
    pub fn hold(&self, method: &'static str, until: Instant) {
        let mut holds = self.lock();
        let entry = holds.entry(method).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// Until when `method` is held, if it is still held at `now`.
    pub fn held_until(&self, method: &'static str, now: Instant) -> Option<Instant> {
        let mut holds = self.lock();
        match holds.get(method) {
            Some(until) if *until > now => Some(*until),
            Some(_) => {
                holds.remove(method);
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_hold_lasts_until_its_end_and_the_later_hold_wins() {
        let holds = RateHolds::default();
        let now = Instant::now();
        assert_eq!(holds.held_until("conversations.history", now), None);
        holds.hold("conversations.history", now + Duration::from_secs(2));
        holds.hold("conversations.history", now + Duration::from_secs(1));
        assert_eq!(
            holds.held_until("conversations.history", now),
            Some(now + Duration::from_secs(2))
        );
        assert_eq!(holds.held_until("conversations.replies", now), None);
        let later = now + Duration::from_secs(2);
        assert_eq!(holds.held_until("conversations.history", later), None);
    }
}
