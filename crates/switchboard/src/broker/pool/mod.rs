//! One agent session per thread, at most `max` at once.
//!
//! A thread checks its session out for a turn and holds the slot as a
//! [`SlotLease`] (the slot is busy) until it checks the session back in
//! (idle) or the lease is dropped (the slot is freed). Because a dropped
//! lease frees its slot, a turn ended any way at all (cancelled during the
//! agent's start, dropped at shutdown, failed, panicked) never keeps one.
//! When every slot is taken, the least recently used idle session is closed
//! to make room; a busy one never is. When all are busy, a checkout waits
//! for a slot to free. Idle sessions older than `idle_ttl` are reaped.
//!
//! Owns: the slot table and its wake-ups. Must never: hold its lock across
//! an `.await`, close a busy session, or hand one key's slot to two leases.
//! Generic over the session type so the bookkeeping is tested without
//! processes.

mod lease;
#[cfg(test)]
mod tests;

pub use lease::{Checkout, SlotLease};

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// What a pooled session must offer.
pub trait PooledSession: Send + 'static {
    fn is_alive(&self) -> bool;
    fn close(self) -> impl Future<Output = ()> + Send;
}

enum Slot<S> {
    Idle {
        session: S,
        since: Instant,
    },
    /// Held by the lease with this number.
    Busy {
        lease: u64,
    },
}

pub use crate::health::PoolFigures as PoolStats;

impl<S: PooledSession> crate::health::PoolView for SessionPool<S> {
    fn figures(&self) -> PoolStats {
        self.stats()
    }
}

pub struct SessionPool<S> {
    slots: Mutex<HashMap<String, Slot<S>>>,
    /// Woken with `notify_waiters` whenever a slot frees: every waiting
    /// checkout retries, so a waiter dropped meanwhile takes no wake-up
    /// away from the others.
    freed: Notify,
    /// Numbers the leases, so a late release never frees a newer lease.
    next_lease: AtomicU64,
    max: usize,
    idle_ttl: Duration,
}

impl<S: PooledSession> SessionPool<S> {
    pub fn new(max: usize, idle_ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            slots: Mutex::new(HashMap::new()),
            freed: Notify::new(),
            next_lease: AtomicU64::new(1),
            max,
            idle_ttl,
        })
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Slot<S>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Take the thread's slot now, evicting the least recently used idle
    /// session if needed; `None` when every slot is busy.
    pub fn try_checkout(self: &Arc<Self>, key: &str) -> Option<Checkout<S>> {
        let lease = self.next_lease.fetch_add(1, Ordering::Relaxed);
        let busy = Slot::Busy { lease };
        let (session, evicted) = {
            let mut slots = self.lock();
            match slots.insert(key.to_owned(), busy) {
                Some(Slot::Idle { session, .. }) if session.is_alive() => (Some(session), None),
                Some(Slot::Idle { session, .. }) => (None, Some(session)),
                Some(held @ Slot::Busy { .. }) => {
                    // A thread runs one turn at a time; a second checkout is
                    // a caller bug, but never steal a busy session.
                    slots.insert(key.to_owned(), held);
                    return None;
                }
                None if slots.len() <= self.max => (None, None),
                None => {
                    // A dead idle session (its agent crashed while idle)
                    // goes first, then the least recently used.
                    let oldest = slots
                        .iter()
                        .filter_map(|(k, slot)| match slot {
                            Slot::Idle { session, since } => {
                                Some((k.clone(), session.is_alive(), *since))
                            }
                            Slot::Busy { .. } => None,
                        })
                        .min_by_key(|(_, alive, since)| (*alive, *since))
                        .map(|(k, _, _)| k);
                    match oldest.and_then(|k| slots.remove(&k)) {
                        Some(Slot::Idle { session, .. }) => (None, Some(session)),
                        _ => {
                            slots.remove(key);
                            return None;
                        }
                    }
                }
            }
        };
        // Made after the lock is released: its drop takes the lock.
        let lease = SlotLease::new(self.clone(), key, lease);
        if let Some(session) = evicted {
            tokio::spawn(session.close());
        }
        Some(Checkout { lease, session })
    }

    /// Take the thread's slot, waiting for one to free when all are busy;
    /// `on_wait` runs once if it has to wait. Dropping the future while it
    /// waits holds nothing and loses no other waiter's wake-up.
    pub async fn checkout(self: &Arc<Self>, key: &str, on_wait: impl FnOnce()) -> Checkout<S> {
        let mut on_wait = Some(on_wait);
        loop {
            // Registered before the attempt: a slot freed between the
            // attempt and the await still wakes this waiter.
            let freed = self.freed.notified();
            if let Some(checkout) = self.try_checkout(key) {
                return checkout;
            }
            if let Some(f) = on_wait.take() {
                f();
            }
            freed.await;
        }
    }

    /// The lease `lease` of `key` ends with a live session: the slot becomes
    /// idle. Only [`SlotLease::checkin`] calls this.
    fn put_idle(&self, key: &str, lease: u64, session: S) {
        let stale = {
            let mut slots = self.lock();
            match slots.get(key) {
                Some(Slot::Busy { lease: held }) if *held == lease => {
                    slots.insert(
                        key.to_owned(),
                        Slot::Idle {
                            session,
                            since: Instant::now(),
                        },
                    );
                    None
                }
                // Cannot happen while leases are the only way in; never
                // overwrite another lease's slot, close the session instead.
                _ => Some(session),
            }
        };
        if let Some(session) = stale {
            tracing::warn!(
                thread = key,
                "checked-in session had lost its slot; closing it"
            );
            tokio::spawn(session.close());
        }
        self.freed.notify_waiters();
    }

    /// The lease `lease` of `key` ends without a session: free its slot.
    /// Only [`SlotLease`] calls this (on drop).
    fn free(&self, key: &str, lease: u64) {
        let mut slots = self.lock();
        if matches!(slots.get(key), Some(Slot::Busy { lease: held }) if *held == lease) {
            slots.remove(key);
        }
        drop(slots);
        self.freed.notify_waiters();
    }

    /// End the thread's idle session, if any (`!reset`, thread gone).
    pub async fn remove(&self, key: &str) {
        let removed = {
            let mut slots = self.lock();
            match slots.remove(key) {
                Some(Slot::Idle { session, .. }) => Some(session),
                Some(held @ Slot::Busy { .. }) => {
                    slots.insert(key.to_owned(), held);
                    None
                }
                None => None,
            }
        };
        if let Some(session) = removed {
            self.freed.notify_waiters();
            session.close().await;
        }
    }

    /// Take out every idle session that `expired(idle since)` selects.
    fn take_idle(&self, expired: impl Fn(Instant) -> bool) -> Vec<S> {
        let mut slots = self.lock();
        let keys: Vec<String> = slots
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Idle { since, .. } if expired(*since)))
            .map(|(k, _)| k.clone())
            .collect();
        keys.iter()
            .filter_map(|k| match slots.remove(k) {
                Some(Slot::Idle { session, .. }) => Some(session),
                _ => None,
            })
            .collect()
    }

    /// Close idle sessions unused for longer than the TTL; returns how many.
    pub async fn reap_idle(&self) -> usize {
        let now = Instant::now();
        let expired = self.take_idle(|since| now - since >= self.idle_ttl);
        let count = expired.len();
        if count > 0 {
            self.freed.notify_waiters();
        }
        for session in expired {
            session.close().await;
        }
        count
    }

    /// Close every idle session (shutdown). Busy ones end with their turn.
    pub async fn close_idle(&self) {
        for session in self.take_idle(|_| true) {
            session.close().await;
        }
    }

    /// Busy slots, and idle sessions whose agent still runs (a dead one
    /// is only a free slot not yet cleared: the next checkout of its thread,
    /// or the first eviction, takes it out).
    pub fn stats(&self) -> PoolStats {
        let slots = self.lock();
        let busy = slots
            .values()
            .filter(|s| matches!(s, Slot::Busy { .. }))
            .count();
        let idle = slots
            .values()
            .filter(|s| matches!(s, Slot::Idle { session, .. } if session.is_alive()))
            .count();
        PoolStats {
            max: self.max,
            busy,
            idle,
        }
    }

    /// The threads whose slot is busy now (sorted), for checks and tests.
    pub fn busy_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .lock()
            .iter()
            .filter(|(_, slot)| matches!(slot, Slot::Busy { .. }))
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort();
        keys
    }

    /// Reap idle sessions every `every` until `shutdown`; `after_reaping`
    /// runs once after each round that closed at least one session (the app
    /// hands freed memory back to the OS there).
    pub async fn run_reaper(
        self: Arc<Self>,
        every: Duration,
        shutdown: tokio_util::sync::CancellationToken,
        after_reaping: fn(),
    ) {
        let mut ticker = tokio::time::interval(every);
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => return,
                _ = ticker.tick() => {
                    let reaped = self.reap_idle().await;
                    if reaped > 0 {
                        tracing::info!(reaped, "idle agent sessions closed");
                        after_reaping();
                    }
                }
            }
        }
    }
}
