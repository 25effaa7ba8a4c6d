//! What is known of recent keyed posts: made (with its ts), or of unknown
//! outcome (with when the first try was made, so that a retry looks the
//! post up among the thread's replies since then before it posts again).
//! A repeated key whose post is known to be made gets that post back, as
//! Discord's enforced nonce does.
//!
//! Owns nothing but that memory. At [`CAPACITY`] the oldest key is
//! forgotten (a retry comes within seconds; a key thousands of posts old is
//! not retried any more). Never held across an `.await`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Keys remembered at most.
pub const CAPACITY: usize = 1024;

/// How far before the first try a look-up starts reading, for the
/// difference between our clock and Slack's.
const CLOCK_MARGIN_SECS: u64 = 120;

/// What is known of one key's post.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Known {
    /// Made: its ts.
    Made(String),
    /// Outcome unknown: look up replies after this ts before posting.
    LookAfter(String),
}

#[derive(Default)]
pub struct Uncertain {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    known: HashMap<String, Entry>,
    order: VecDeque<String>,
}

#[derive(Clone)]
enum Entry {
    Made(String),
    TriedAt(u64),
}

/// Now, in whole seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

impl Inner {
    fn insert(&mut self, key: &str, entry: Entry) {
        if self.known.insert(key.to_owned(), entry).is_some() {
            return;
        }
        self.order.push_back(key.to_owned());
        if self.order.len() > CAPACITY
            && let Some(oldest) = self.order.pop_front()
        {
            self.known.remove(&oldest);
        }
    }
}

impl Uncertain {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What is known of `key`'s post, if anything.
    pub fn known(&self, key: &str) -> Option<Known> {
        self.lock().known.get(key).map(|entry| match entry {
            Entry::Made(ts) => Known::Made(ts.clone()),
            Entry::TriedAt(secs) => Known::LookAfter(oldest_ts(*secs)),
        })
    }

    /// A try at posting `key`, made at `tried_at` (seconds), had an unknown
    /// outcome; returns the ts a look-up reads after (the first try counts).
    pub fn mark(&self, key: &str, tried_at: u64) -> String {
        let mut inner = self.lock();
        match inner.known.get(key) {
            Some(Entry::TriedAt(first)) => oldest_ts(*first),
            _ => {
                inner.insert(key, Entry::TriedAt(tried_at));
                oldest_ts(tried_at)
            }
        }
    }

    /// `key`'s post is the message `ts`.
    pub fn made(&self, key: &str, ts: &str) {
        self.lock().insert(key, Entry::Made(ts.to_owned()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().known.len()
    }
}

fn oldest_ts(secs: u64) -> String {
    format!("{}.000000", secs.saturating_sub(CLOCK_MARGIN_SECS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_try_sets_where_a_look_up_starts_until_the_post_is_known() {
        let uncertain = Uncertain::default();
        assert_eq!(uncertain.known("k"), None);
        assert_eq!(uncertain.mark("k", 1_000), "880.000000");
        assert_eq!(
            uncertain.mark("k", 1_005),
            "880.000000",
            "the first try counts"
        );
        assert_eq!(
            uncertain.known("k"),
            Some(Known::LookAfter("880.000000".into()))
        );
        uncertain.made("k", "5.000001");
        assert_eq!(uncertain.known("k"), Some(Known::Made("5.000001".into())));
        assert_eq!(uncertain.len(), 1);
    }

    #[test]
    fn it_is_bounded_and_forgets_the_oldest() {
        let uncertain = Uncertain::default();
        for n in 0..CAPACITY + 10 {
            uncertain.mark(&format!("k{n}"), 500);
            uncertain.made(&format!("m{n}"), "1.000001");
        }
        assert_eq!(uncertain.len(), CAPACITY);
        assert_eq!(uncertain.known("k0"), None);
        assert!(uncertain.known(&format!("m{}", CAPACITY + 9)).is_some());
    }
}
