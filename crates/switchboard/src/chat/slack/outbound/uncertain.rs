//! The posts whose outcome is not known: a bounded memory, per key, of when
//! the first try was made, so that a retry looks the post up (among the
//! thread's replies since then) before it posts again.
//!
//! Owns nothing but that memory. At [`CAPACITY`] the oldest key is
//! forgotten (its post would then be looked up no more: a retry comes
//! within seconds, thousands of unknown outcomes later is not a retry).
//! Never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Keys remembered at most.
pub const CAPACITY: usize = 1024;

/// How far before the first try a look-up starts reading, for the
/// difference between our clock and Slack's.
const CLOCK_MARGIN_SECS: u64 = 120;

#[derive(Default)]
pub struct Uncertain {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    since: HashMap<String, u64>,
    order: VecDeque<String>,
}

/// Now, in whole seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl Uncertain {
    /// The ts a look-up for `key` reads after, if its outcome is unknown.
    pub fn lookup_after(&self, key: &str) -> Option<String> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.since.get(key).map(|secs| oldest_ts(*secs))
    }

    /// A try at posting `key`, made at `tried_at` (seconds), had an unknown
    /// outcome; returns the ts a look-up reads after.
    pub fn mark(&self, key: &str, tried_at: u64) -> String {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(first) = inner.since.get(key) {
            return oldest_ts(*first);
        }
        if inner.order.len() >= CAPACITY
            && let Some(oldest) = inner.order.pop_front()
        {
            inner.since.remove(&oldest);
        }
        inner.order.push_back(key.to_owned());
        inner.since.insert(key.to_owned(), tried_at);
        oldest_ts(tried_at)
    }

    /// `key`'s post is known now (made, or found).
    pub fn settle(&self, key: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.since.remove(key).is_some() {
            inner.order.retain(|k| k != key);
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.inner.lock().unwrap().since.len()
    }
}

fn oldest_ts(secs: u64) -> String {
    format!("{}.000000", secs.saturating_sub(CLOCK_MARGIN_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_try_sets_where_a_look_up_starts_until_settled() {
        let uncertain = Uncertain::default();
        assert_eq!(uncertain.lookup_after("k"), None);
        assert_eq!(uncertain.mark("k", 1_000), "880.000000");
        assert_eq!(
            uncertain.mark("k", 1_005),
            "880.000000",
            "the first try counts"
        );
        assert_eq!(uncertain.lookup_after("k").as_deref(), Some("880.000000"));
        uncertain.settle("k");
        assert_eq!(uncertain.lookup_after("k"), None);
    }

    #[test]
    fn it_is_bounded_and_forgets_the_oldest() {
        let uncertain = Uncertain::default();
        for n in 0..CAPACITY + 10 {
            uncertain.mark(&format!("k{n}"), 500);
        }
        assert_eq!(uncertain.len(), CAPACITY);
        assert_eq!(uncertain.lookup_after("k0"), None);
        assert!(
            uncertain
                .lookup_after(&format!("k{}", CAPACITY + 9))
                .is_some()
        );
    }
}
