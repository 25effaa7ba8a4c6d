//! What a 429 holds back: after a global or header-less 429 no call at all
//! goes before its `retry_after` has passed; after a route 429, no call on
//! that route (its kind and channel) nor on its bucket (if the 429 named
//! one) goes before it.
//!
//! Owns only the hold deadlines, consulted by the pacer under its lock.
//! Must never shorten a hold (a later, shorter 429 leaves the longer one),
//! and never grow without bound (expired holds are dropped).

use std::collections::HashMap;

use tokio::time::Instant;

use super::route::Route;

/// Holds kept before expired ones are forgotten.
const KEEP_HOLDS: usize = 1024;

/// What a route 429 holds.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Held {
    /// The route's kind on one channel.
    Route(Route),
    /// A bucket on one channel (routes sharing it share the hold).
    Bucket(String, u64),
}

/// Hold deadlines set by 429s.
#[derive(Debug, Default)]
pub(super) struct Holds {
    global: Option<Instant>,
    held: HashMap<Held, Instant>,
}

impl Holds {
    /// No call at all before `until`.
    pub fn hold_all(&mut self, until: Instant) {
        self.global = Some(self.global.map_or(until, |at| at.max(until)));
    }

    /// No call on `route`, nor on `bucket` of its channel, before `until`.
    pub fn hold_route(&mut self, route: Route, bucket: Option<&str>, until: Instant, now: Instant) {
        let mut hold = |held: Held| {
            let at = self.held.entry(held).or_insert(until);
            *at = (*at).max(until);
        };
        hold(Held::Route(route));
        if let Some(bucket) = bucket {
            hold(Held::Bucket(bucket.to_owned(), route.major));
        }
        if self.held.len() > KEEP_HOLDS {
            self.held.retain(|_, at| *at > now);
        }
    }

    /// When a call on `route` (in `bucket`, if known) may go, if not now.
    pub fn until(&self, route: Route, bucket: Option<&str>, now: Instant) -> Option<Instant> {
        let route_hold = self.held.get(&Held::Route(route)).copied();
        let bucket_hold = bucket.and_then(|b| {
            self.held
                .get(&Held::Bucket(b.to_owned(), route.major))
                .copied()
        });
        [self.global, route_hold, bucket_hold]
            .into_iter()
            .flatten()
            .filter(|at| *at > now)
            .max()
    }
}
