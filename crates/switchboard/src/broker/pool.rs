//! One agent session per thread, at most `max` at once.
//!
//! A thread checks its session out for a turn (the slot is then busy) and
//! back in afterwards (idle). When every slot is taken, the least recently
//! used idle session is closed to make room; a busy one never is. When all
//! are busy, a checkout waits for a slot to free. Idle sessions older than
//! `idle_ttl` are reaped. Generic over the session type so the bookkeeping
//! is tested without processes; never holds its lock across an `.await`.

use std::collections::HashMap;
use std::future::Future;
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
    Idle { session: S, since: Instant },
    Busy,
}

/// The outcome of a checkout; the slot is busy until checked in or released.
pub enum Checkout<S> {
    /// The thread's live session.
    Existing(S),
    /// No session (new thread, or the old one died or was evicted): start one.
    Vacant,
}

pub use crate::health::PoolFigures as PoolStats;

impl<S: PooledSession> crate::health::PoolView for SessionPool<S> {
    fn figures(&self) -> PoolStats {
        self.stats()
    }
}

pub struct SessionPool<S> {
    slots: Mutex<HashMap<String, Slot<S>>>,
    freed: Notify,
    max: usize,
    idle_ttl: Duration,
}

impl<S: PooledSession> SessionPool<S> {
    pub fn new(max: usize, idle_ttl: Duration) -> Arc<Self> {
        Arc::new(Self {
            slots: Mutex::new(HashMap::new()),
            freed: Notify::new(),
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
    pub fn try_checkout(&self, key: &str) -> Option<Checkout<S>> {
        let (checkout, evicted) = {
            let mut slots = self.lock();
            match slots.insert(key.to_owned(), Slot::Busy) {
                Some(Slot::Idle { session, .. }) if session.is_alive() => {
                    (Checkout::Existing(session), None)
                }
                Some(Slot::Idle { session, .. }) => (Checkout::Vacant, Some(session)),
                Some(Slot::Busy) => {
                    // A thread runs one turn at a time; a second checkout is
                    // a caller bug, but never steal a busy session.
                    slots.insert(key.to_owned(), Slot::Busy);
                    return None;
                }
                None if slots.len() <= self.max => (Checkout::Vacant, None),
                None => {
                    let oldest = slots
                        .iter()
                        .filter_map(|(k, slot)| match slot {
                            Slot::Idle { since, .. } => Some((k.clone(), *since)),
                            Slot::Busy => None,
                        })
                        .min_by_key(|(_, since)| *since)
                        .map(|(k, _)| k);
                    match oldest.and_then(|k| slots.remove(&k)) {
                        Some(Slot::Idle { session, .. }) => (Checkout::Vacant, Some(session)),
                        _ => {
                            slots.remove(key);
                            return None;
                        }
                    }
                }
            }
        };
        if let Some(session) = evicted {
            tokio::spawn(session.close());
        }
        Some(checkout)
    }

    /// Take the thread's slot, waiting for one to free when all are busy;
    /// `on_wait` runs once if it has to wait.
    pub async fn checkout(&self, key: &str, on_wait: impl FnOnce()) -> Checkout<S> {
        let mut on_wait = Some(on_wait);
        loop {
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

    /// Return a live session after a turn: the slot becomes idle.
    pub fn checkin(&self, key: &str, session: S) {
        self.lock().insert(
            key.to_owned(),
            Slot::Idle {
                session,
                since: Instant::now(),
            },
        );
        self.freed.notify_waiters();
    }

    /// Free a busy slot without a session (it failed to start or died).
    pub fn release(&self, key: &str) {
        let mut slots = self.lock();
        if matches!(slots.get(key), Some(Slot::Busy)) {
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
                Some(Slot::Busy) => {
                    slots.insert(key.to_owned(), Slot::Busy);
                    None
                }
                None => None,
            }
        };
        if let Some(session) = removed {
            session.close().await;
            self.freed.notify_waiters();
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
        for session in expired {
            session.close().await;
        }
        if count > 0 {
            self.freed.notify_waiters();
        }
        count
    }

    /// Close every idle session (shutdown). Busy ones end with their turn.
    pub async fn close_idle(&self) {
        for session in self.take_idle(|_| true) {
            session.close().await;
        }
    }

    pub fn stats(&self) -> PoolStats {
        let slots = self.lock();
        let busy = slots.values().filter(|s| matches!(s, Slot::Busy)).count();
        PoolStats {
            max: self.max,
            busy,
            idle: slots.len() - busy,
        }
    }

    /// Reap idle sessions every `every` until `shutdown`.
    pub async fn run_reaper(
        self: Arc<Self>,
        every: Duration,
        shutdown: tokio_util::sync::CancellationToken,
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
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[derive(Clone)]
    struct Fake {
        name: &'static str,
        closed: Arc<AtomicBool>,
    }

    impl Fake {
        fn new(name: &'static str) -> Self {
            Self {
                name,
                closed: Arc::default(),
            }
        }
    }

    impl PooledSession for Fake {
        fn is_alive(&self) -> bool {
            !self.closed.load(Ordering::SeqCst)
        }
        async fn close(self) {
            self.closed.store(true, Ordering::SeqCst);
        }
    }

    fn existing(c: Option<Checkout<Fake>>) -> &'static str {
        match c {
            Some(Checkout::Existing(s)) => s.name,
            Some(Checkout::Vacant) => "vacant",
            None => "full",
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_thread_gets_its_own_session_back() {
        let pool = SessionPool::new(2, Duration::from_secs(3600));
        assert_eq!(existing(pool.try_checkout("t1")), "vacant");
        pool.checkin("t1", Fake::new("s1"));
        assert_eq!(existing(pool.try_checkout("t1")), "s1");
        assert_eq!(
            pool.stats(),
            PoolStats {
                max: 2,
                busy: 1,
                idle: 0
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn when_full_the_least_recently_used_idle_session_is_evicted() {
        let pool = SessionPool::new(2, Duration::from_secs(3600));
        let (a, b) = (Fake::new("a"), Fake::new("b"));
        pool.try_checkout("t1");
        pool.checkin("t1", a.clone());
        tokio::time::advance(Duration::from_secs(1)).await;
        pool.try_checkout("t2");
        pool.checkin("t2", b.clone());
        assert_eq!(existing(pool.try_checkout("t3")), "vacant");
        tokio::task::yield_now().await;
        assert!(!a.is_alive(), "LRU idle session closed");
        assert!(b.is_alive());
        assert_eq!(
            existing(pool.try_checkout("t1")),
            "vacant",
            "t2's idle session makes room"
        );
        tokio::task::yield_now().await;
        assert!(!b.is_alive());
        assert_eq!(
            existing(pool.try_checkout("t4")),
            "full",
            "t1 and t3 are busy"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn busy_sessions_are_never_evicted_and_waiters_get_the_freed_slot() {
        let pool = SessionPool::<Fake>::new(1, Duration::from_secs(3600));
        assert_eq!(existing(pool.try_checkout("t1")), "vacant");
        assert_eq!(existing(pool.try_checkout("t2")), "full");
        let waited = Arc::new(AtomicBool::new(false));
        let waiter = tokio::spawn({
            let pool = pool.clone();
            let waited = waited.clone();
            async move {
                matches!(
                    pool.checkout("t2", || waited.store(true, Ordering::SeqCst))
                        .await,
                    Checkout::Vacant
                )
            }
        });
        tokio::task::yield_now().await;
        assert!(waited.load(Ordering::SeqCst), "told the user once");
        pool.checkin("t1", Fake::new("s1"));
        assert!(
            waiter.await.unwrap(),
            "t2 got a slot by evicting t1's idle session"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn dead_sessions_come_back_vacant_and_idle_ones_expire() {
        let pool = SessionPool::new(3, Duration::from_secs(60));
        let dead = Fake::new("dead");
        pool.try_checkout("t1");
        pool.checkin("t1", dead.clone());
        dead.closed.store(true, Ordering::SeqCst);
        assert_eq!(existing(pool.try_checkout("t1")), "vacant");
        pool.release("t1");
        let idle = Fake::new("idle");
        pool.try_checkout("t2");
        pool.checkin("t2", idle.clone());
        tokio::time::advance(Duration::from_secs(59)).await;
        assert_eq!(pool.reap_idle().await, 0);
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(pool.reap_idle().await, 1);
        assert!(!idle.is_alive());
        assert_eq!(
            pool.stats(),
            PoolStats {
                max: 3,
                busy: 0,
                idle: 0
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn remove_closes_an_idle_session_but_not_a_busy_one() {
        let pool = SessionPool::new(2, Duration::from_secs(60));
        let s = Fake::new("s");
        pool.try_checkout("t1");
        pool.checkin("t1", s.clone());
        pool.remove("t1").await;
        assert!(!s.is_alive());
        pool.try_checkout("t2");
        pool.remove("t2").await;
        assert_eq!(pool.stats().busy, 1);
    }
}
