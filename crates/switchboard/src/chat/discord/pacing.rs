//! Pacing Discord REST calls by what Discord announces, so that a 429 is
//! not met in the first place.
//!
//! Discord limits each bucket (a group of routes, named by the
//! X-RateLimit-Bucket header) per major parameter (the channel), and every
//! bot globally (50 requests per second, documented, announced only on a
//! 429). Every success announces its bucket's limit, what remains and when
//! the window ends. The pacer learns from each response which bucket a
//! route is in, keeps each (bucket, channel) window, and before a call
//! waits until the window has room and the global rate allows.
//!
//! - A route whose bucket is not known yet sends one call at a time per
//!   channel until a response names it (so routes that share a bucket, like
//!   every reaction route of a channel, share its window from then on).
//!   Since it may be in a bucket already spent, that first call also waits
//!   until no known window of its channel is spent (once per route).
//! - A window whose end has passed is assumed full again; the first
//!   response in it corrects that. Responses only ever lower what remains
//!   (answers can overtake each other), and a window's end is taken from
//!   the receipt of the answer, so it is never earlier than Discord's.
//! - The global rate is a sliding window (at most N calls in any second,
//!   plus [`GLOBAL_MARGIN`] against network jitter).
//! - A 429 that still happens (another process on the token, Discord's edge)
//!   holds calls back until its `retry_after` has passed ([`Holds`]): all of
//!   them for a global or header-less 429, its route and bucket otherwise.
//!
//! It must never hard-code a bucket's limit, never hold its lock across an
//! `.await`, and never lose a slot: a call that ends without an answer
//! (error, timeout, dropped future) gives its slot back.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, sleep_until};

use super::holds::Holds;
use super::route::{Announced, Route, RouteKind};

/// Discord's global limit for a bot, requests per second.
pub const DISCORD_GLOBAL_PER_SECOND: u32 = 50;
/// Added to the global window, against jitter between sending a call and
/// Discord counting it.
pub const GLOBAL_MARGIN: Duration = Duration::from_millis(50);
/// Windows kept before expired ones are forgotten.
const KEEP_WINDOWS: usize = 1024;

/// What is known of a route kind's bucket.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Learned {
    Bucket(String),
    /// A success without bucket headers: not limited per route.
    Unlimited,
}

/// Which window a call counts against.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Bucket(String, u64),
    /// The route's bucket is not known yet: one call at a time.
    Probe(RouteKind, u64),
}

#[derive(Debug, Default)]
struct Window {
    /// `None` until a response announced it.
    limit: Option<u32>,
    remaining: u32,
    reset_at: Option<Instant>,
    /// Counts the windows rolled over (to recognise late answers).
    generation: u64,
    in_flight: u32,
}

impl Window {
    /// Start a new window if this one has ended.
    fn roll(&mut self, now: Instant) {
        if self.reset_at.is_some_and(|at| at <= now) {
            self.generation += 1;
            self.remaining = self.limit.unwrap_or(0);
            self.reset_at = None;
        }
    }

    /// `Ok` if a call may go now, with `reserved` of what remains possibly
    /// taken by probes in flight; else when to look again (`None`: when an
    /// answer arrives).
    fn room(&self, reserved: u32) -> Result<(), Option<Instant>> {
        match self.limit {
            None if self.in_flight == 0 => Ok(()),
            None => Err(None),
            Some(_) if self.remaining > reserved => Ok(()),
            Some(_) => match self.reset_at {
                Some(at) => Err(Some(at)),
                None if self.in_flight > 0 || reserved > 0 => Err(None),
                // Spent, no end known, nothing in flight to tell: probe.
                None => Ok(()),
            },
        }
    }

    fn learn(&mut self, announced: &Announced, reset_at: Instant) {
        self.remaining = match self.limit {
            None => announced.remaining.saturating_sub(self.in_flight),
            Some(_) => self.remaining.min(announced.remaining),
        };
        self.limit = Some(announced.limit);
        self.reset_at = Some(self.reset_at.map_or(reset_at, |at| at.max(reset_at)));
    }
}

#[derive(Debug)]
struct Global {
    per_second: u32,
    sent: VecDeque<Instant>,
}

impl Global {
    /// Whether at most half of the global window is in use: room left for
    /// the calls a low-priority one must never delay.
    fn half_free(&mut self, now: Instant) -> bool {
        let _ = self.room(now);
        self.sent.len() * 2 < self.per_second as usize
    }

    fn room(&mut self, now: Instant) -> Result<(), Instant> {
        let span = Duration::from_secs(1) + GLOBAL_MARGIN;
        while self.sent.front().is_some_and(|at| *at + span <= now) {
            self.sent.pop_front();
        }
        match self.sent.front() {
            Some(oldest) if self.sent.len() >= self.per_second as usize => Err(*oldest + span),
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    learned: HashMap<RouteKind, Learned>,
    windows: HashMap<Key, Window>,
    global: Option<Global>,
    holds: Holds,
}

impl State {
    fn key(&self, route: Route) -> Option<Key> {
        match self.learned.get(&route.kind) {
            Some(Learned::Unlimited) => None,
            Some(Learned::Bucket(bucket)) => Some(Key::Bucket(bucket.clone(), route.major)),
            None => Some(Key::Probe(route.kind, route.major)),
        }
    }

    /// Calls in flight on channel `major` whose bucket is not known yet: each
    /// may be spending any known window of the channel.
    fn probing(&self, major: u64) -> u32 {
        self.windows
            .iter()
            .filter(|(key, _)| matches!(key, Key::Probe(_, m) if *m == major))
            .map(|(_, w)| w.in_flight)
            .sum()
    }

    /// Whether every known window of channel `major` has room for one more
    /// call besides `reserved` (a probe may be in any of them).
    fn room_in_channel(
        &mut self,
        major: u64,
        reserved: u32,
        now: Instant,
    ) -> Result<(), Option<Instant>> {
        let mut wait: Result<(), Option<Instant>> = Ok(());
        for (key, window) in &mut self.windows {
            if !matches!(key, Key::Bucket(_, m) if *m == major) {
                continue;
            }
            window.roll(now);
            if let Err(until) = window.room(reserved) {
                wait = match (wait, until) {
                    (Err(Some(a)), Some(b)) => Err(Some(a.max(b))),
                    (Err(None), _) | (_, None) => Err(None),
                    (Ok(()), until) => Err(until),
                };
            }
        }
        wait
    }

    /// Take a slot for `route` now, or say when to look again.
    fn take(&mut self, route: Route, now: Instant) -> Result<Slot, Option<Instant>> {
        let key = self.key(route);
        let bucket = match &key {
            Some(Key::Bucket(bucket, _)) => Some(bucket.as_str()),
            _ => None,
        };
        if let Some(until) = self.holds.until(route, bucket, now) {
            return Err(Some(until));
        }
        let reserved = self.probing(route.major);
        match &key {
            Some(Key::Probe(..)) => self.room_in_channel(route.major, reserved, now)?,
            Some(key @ Key::Bucket(..)) => {
                let window = self.windows.entry(key.clone()).or_default();
                window.roll(now);
                window.room(reserved)?;
            }
            None => {}
        }
        if let Some(key @ Key::Probe(..)) = &key {
            let window = self.windows.entry(key.clone()).or_default();
            window.room(0)?;
        }
        if let Some(global) = &mut self.global {
            global.room(now).map_err(Some)?;
            global.sent.push_back(now);
        }
        let generation = key.as_ref().map_or(0, |key| {
            let window = self.windows.get_mut(key).expect("created above");
            window.remaining = window.remaining.saturating_sub(1);
            window.in_flight += 1;
            window.generation
        });
        Ok(Slot {
            route,
            key,
            generation,
        })
    }

    /// Learn `announced` from the answer to `slot`'s call.
    fn learn(&mut self, slot: &Slot, announced: &Announced, now: Instant) {
        let bucket = Key::Bucket(announced.bucket.clone(), slot.route.major);
        let fresh = slot.key.as_ref() != Some(&bucket);
        self.learned
            .insert(slot.route.kind, Learned::Bucket(announced.bucket.clone()));
        let window = self.windows.entry(bucket).or_default();
        if fresh && window.limit.is_some() {
            // A probe that turned out to share a window we keep: its
            // call counted there without our knowing, and calls sent
            // since may not be in its answer yet.
            window.remaining = window.remaining.saturating_sub(1);
        }
        // An answer from a window that has since ended says nothing
        // about the current one.
        if fresh || slot.generation == window.generation {
            window.learn(announced, now + announced.reset_after);
        }
    }

    fn give_back(&mut self, slot: &Slot, answer: Answer, now: Instant) {
        if let Some(window) = slot.key.as_ref().and_then(|k| self.windows.get_mut(k)) {
            window.in_flight = window.in_flight.saturating_sub(1);
        }
        match answer {
            Answer::Announced(announced) => self.learn(slot, &announced, now),
            Answer::RateLimited {
                retry_after,
                global,
                announced,
            } => {
                let until = now + retry_after;
                match announced {
                    Some(announced) if !global => {
                        self.learn(slot, &announced, now);
                        self.holds
                            .hold_route(slot.route, Some(&announced.bucket), until, now);
                    }
                    // Global, or no bucket named: nothing may go.
                    _ => self.holds.hold_all(until),
                }
            }
            Answer::Unlimited => {
                self.learned.insert(slot.route.kind, Learned::Unlimited);
            }
            Answer::None => {}
        }
        // A probe's window only held the one call.
        if let Some(probe @ Key::Probe(..)) = &slot.key
            && self.windows.get(probe).is_some_and(|w| w.in_flight == 0)
        {
            self.windows.remove(probe);
        }
        if self.windows.len() > KEEP_WINDOWS {
            self.windows
                .retain(|_, w| w.in_flight > 0 || w.reset_at.is_some_and(|at| at > now));
        }
    }
}

/// A taken slot: the call's route and the window it counts against.
#[derive(Debug)]
struct Slot {
    route: Route,
    key: Option<Key>,
    generation: u64,
}

/// What a call's response told.
#[derive(Debug)]
pub enum Answer {
    /// A response with bucket headers.
    Announced(Announced),
    /// A 429: wait `retry_after` before the next call on its route (and
    /// bucket, when `announced` names one), or before any call at all when
    /// it is `global` or names no bucket.
    RateLimited {
        retry_after: Duration,
        global: bool,
        announced: Option<Announced>,
    },
    /// A success without bucket headers.
    Unlimited,
    /// No usable response (error, timeout, cancelled).
    None,
}

/// The pacer of one bot token's REST calls.
#[derive(Debug)]
pub struct Pacer {
    state: Mutex<State>,
    changed: Notify,
}

impl Pacer {
    /// A pacer holding the calls to at most `global_per_second` per second
    /// overall (`None`: no global pacing, e.g. behind a proxy that does it).
    pub fn new(global_per_second: Option<u32>) -> Self {
        let global = global_per_second
            .filter(|n| *n > 0)
            .map(|per_second| Global {
                per_second,
                sent: VecDeque::new(),
            });
        Self {
            state: Mutex::new(State {
                global,
                ..State::default()
            }),
            changed: Notify::new(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wait until a call on `route` may be sent; report its answer on the
    /// returned ticket.
    pub async fn acquire(&self, route: Route) -> Ticket<'_> {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            let wait = match self.state().take(route, Instant::now()) {
                Ok(slot) => {
                    return Ticket {
                        pacer: self,
                        slot: Some(slot),
                    };
                }
                Err(wait) => wait,
            };
            match wait {
                Some(at) => {
                    tokio::select! {
                        () = sleep_until(at) => {}
                        () = &mut changed => {}
                    }
                }
                None => changed.await,
            }
        }
    }

    /// A low-priority call's ticket, only if it can go now without taking
    /// room another call may need: its route free at once and at most half
    /// of the global window in use. `None`: skip it, try again later.
    pub fn try_acquire_idle(&self, route: Route) -> Option<Ticket<'_>> {
        let now = Instant::now();
        let mut state = self.state();
        if let Some(global) = &mut state.global
            && !global.half_free(now)
        {
            return None;
        }
        let slot = state.take(route, now).ok()?;
        Some(Ticket {
            pacer: self,
            slot: Some(slot),
        })
    }

    fn give_back(&self, slot: &Slot, answer: Answer) {
        self.state().give_back(slot, answer, Instant::now());
        self.changed.notify_waiters();
    }
}

/// A call's place in its window; dropping it unanswered frees the place.
#[derive(Debug)]
pub struct Ticket<'a> {
    pacer: &'a Pacer,
    slot: Option<Slot>,
}

impl Ticket<'_> {
    /// The call got `answer`.
    pub fn answered(mut self, answer: Answer) {
        if let Some(slot) = self.slot.take() {
            self.pacer.give_back(&slot, answer);
        }
    }
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            self.pacer.give_back(&slot, Answer::None);
        }
    }
}

#[cfg(test)]
#[path = "pacing_tests.rs"]
mod tests;
