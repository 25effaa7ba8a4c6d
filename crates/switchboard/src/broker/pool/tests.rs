//! The pool's bookkeeping with a fake session: eviction, waiting, TTL, and
//! every way a lease can end (check-in, drop, a dropped future, a panic).

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

/// The session's name, "vacant" (no session) or "full"; the lease is kept
/// in `held` so the slot stays busy.
fn take(
    pool: &Arc<SessionPool<Fake>>,
    key: &str,
    held: &mut Vec<SlotLease<Fake>>,
) -> (&'static str, Option<Fake>) {
    match pool.try_checkout(key) {
        Some(Checkout { lease, session }) => {
            held.push(lease);
            (session.as_ref().map_or("vacant", |s| s.name), session)
        }
        None => ("full", None),
    }
}

fn checkin(held: &mut Vec<SlotLease<Fake>>, key: &str, session: Fake) {
    let at = held.iter().position(|l| l.key() == key).expect("leased");
    held.remove(at).checkin(session);
}

fn figures(max: usize, busy: usize, idle: usize) -> PoolStats {
    PoolStats { max, busy, idle }
}

#[tokio::test(start_paused = true)]
async fn a_thread_gets_its_own_session_back() {
    let pool = SessionPool::new(2, Duration::from_secs(3600));
    let mut held = Vec::new();
    assert_eq!(take(&pool, "t1", &mut held).0, "vacant");
    checkin(&mut held, "t1", Fake::new("s1"));
    assert_eq!(take(&pool, "t1", &mut held).0, "s1");
    assert_eq!(pool.stats(), figures(2, 1, 0));
}

#[tokio::test(start_paused = true)]
async fn when_full_the_least_recently_used_idle_session_is_evicted() {
    let pool = SessionPool::new(2, Duration::from_secs(3600));
    let mut held = Vec::new();
    let (a, b) = (Fake::new("a"), Fake::new("b"));
    take(&pool, "t1", &mut held);
    checkin(&mut held, "t1", a.clone());
    tokio::time::advance(Duration::from_secs(1)).await;
    take(&pool, "t2", &mut held);
    checkin(&mut held, "t2", b.clone());
    assert_eq!(take(&pool, "t3", &mut held).0, "vacant");
    tokio::task::yield_now().await;
    assert!(!a.is_alive(), "LRU idle session closed");
    assert!(b.is_alive());
    assert_eq!(
        take(&pool, "t1", &mut held).0,
        "vacant",
        "t2's idle session makes room"
    );
    tokio::task::yield_now().await;
    assert!(!b.is_alive());
    assert_eq!(take(&pool, "t4", &mut held).0, "full", "t1 and t3 are busy");
}

#[tokio::test(start_paused = true)]
async fn busy_sessions_are_never_evicted_and_waiters_get_the_freed_slot() {
    let pool = SessionPool::<Fake>::new(1, Duration::from_secs(3600));
    let mut held = Vec::new();
    assert_eq!(take(&pool, "t1", &mut held).0, "vacant");
    assert_eq!(take(&pool, "t2", &mut held).0, "full");
    let waited = Arc::new(AtomicBool::new(false));
    let waiter = tokio::spawn({
        let pool = pool.clone();
        let waited = waited.clone();
        async move {
            let checkout = pool
                .checkout("t2", || waited.store(true, Ordering::SeqCst))
                .await;
            checkout.session.is_none()
        }
    });
    tokio::task::yield_now().await;
    assert!(waited.load(Ordering::SeqCst), "told the user once");
    checkin(&mut held, "t1", Fake::new("s1"));
    assert!(
        waiter.await.unwrap(),
        "t2 got a slot by evicting t1's idle session"
    );
}

#[tokio::test(start_paused = true)]
async fn dead_sessions_come_back_vacant_and_idle_ones_expire() {
    let pool = SessionPool::new(3, Duration::from_secs(60));
    let mut held = Vec::new();
    let dead = Fake::new("dead");
    take(&pool, "t1", &mut held);
    checkin(&mut held, "t1", dead.clone());
    dead.closed.store(true, Ordering::SeqCst);
    assert_eq!(take(&pool, "t1", &mut held).0, "vacant");
    held.pop().expect("t1's lease").release();
    let idle = Fake::new("idle");
    take(&pool, "t2", &mut held);
    checkin(&mut held, "t2", idle.clone());
    tokio::time::advance(Duration::from_secs(59)).await;
    assert_eq!(pool.reap_idle().await, 0);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(pool.reap_idle().await, 1);
    assert!(!idle.is_alive());
    assert_eq!(pool.stats(), figures(3, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn remove_closes_an_idle_session_but_not_a_busy_one() {
    let pool = SessionPool::new(2, Duration::from_secs(60));
    let mut held = Vec::new();
    let s = Fake::new("s");
    take(&pool, "t1", &mut held);
    checkin(&mut held, "t1", s.clone());
    pool.remove("t1").await;
    assert!(!s.is_alive());
    take(&pool, "t2", &mut held);
    pool.remove("t2").await;
    assert_eq!(pool.stats().busy, 1);
    assert_eq!(pool.busy_keys(), ["t2"]);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_lease_frees_its_slot_for_a_waiting_thread() {
    let pool = SessionPool::<Fake>::new(1, Duration::from_secs(3600));
    let lease = pool.try_checkout("t1").expect("a free slot").lease;
    let waiter = tokio::spawn({
        let pool = pool.clone();
        async move { pool.checkout("t2", || {}).await.lease.key().to_owned() }
    });
    tokio::task::yield_now().await;
    assert!(
        !waiter.is_finished(),
        "t2 waits while t1 holds the only slot"
    );
    drop(lease);
    let got = tokio::time::timeout(Duration::from_secs(1), waiter)
        .await
        .expect("the waiter wakes when the lease is dropped")
        .unwrap();
    assert_eq!(got, "t2");
    assert_eq!(pool.stats(), figures(1, 0, 0), "t2's lease ended too");
}

/// The turn's shape: check out, then await the agent's start, which is
/// cut short (the user's `!cancel`, a shutdown) by dropping the future.
#[tokio::test(start_paused = true)]
async fn a_start_dropped_part_way_frees_the_slot() {
    let pool = SessionPool::<Fake>::new(1, Duration::from_secs(3600));
    let cancel = tokio_util::sync::CancellationToken::new();
    let turn = {
        let pool = pool.clone();
        async move {
            let checkout = pool.checkout("t1", || {}).await;
            std::future::pending::<()>().await; // the agent is starting
            checkout.lease.checkin(Fake::new("never"));
        }
    };
    let task = tokio::spawn({
        let cancel = cancel.clone();
        async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = turn => {}
            }
        }
    });
    tokio::task::yield_now().await;
    assert_eq!(pool.busy_keys(), ["t1"], "busy while the agent starts");
    cancel.cancel();
    task.await.unwrap();
    assert_eq!(pool.stats(), figures(1, 0, 0));
    assert!(
        pool.try_checkout("t1").is_some(),
        "the thread's next turn gets the slot"
    );
}

#[tokio::test(start_paused = true)]
async fn a_panicking_turn_frees_its_slot() {
    let pool = SessionPool::<Fake>::new(1, Duration::from_secs(3600));
    let task = tokio::spawn({
        let pool = pool.clone();
        async move {
            let _checkout = pool.checkout("t1", || {}).await;
            panic!("a bug in the turn");
        }
    });
    assert!(task.await.unwrap_err().is_panic());
    assert_eq!(pool.stats(), figures(1, 0, 0));
}

/// Two threads wait for the one busy slot; one of them gives up (its
/// `!cancel` drops the waiting checkout). Freeing the slot still wakes the
/// other: no wake-up is lost with the dropped waiter.
#[tokio::test(start_paused = true)]
async fn a_dropped_waiter_takes_no_wake_up_from_another() {
    let pool = SessionPool::<Fake>::new(1, Duration::from_secs(3600));
    let lease = pool.try_checkout("t1").expect("a free slot").lease;
    let quitter = tokio::spawn({
        let pool = pool.clone();
        async move { drop(pool.checkout("t2", || {}).await) }
    });
    let patient = tokio::spawn({
        let pool = pool.clone();
        async move { pool.checkout("t3", || {}).await.lease.key().to_owned() }
    });
    tokio::task::yield_now().await;
    // Free the slot, then drop a waiter before it runs again: a wake-up
    // handed to it alone would be gone with it.
    drop(lease);
    quitter.abort();
    let got = tokio::time::timeout(Duration::from_secs(1), patient)
        .await
        .expect("the remaining waiter is woken")
        .unwrap();
    assert_eq!(got, "t3");
}

#[tokio::test(start_paused = true)]
async fn a_stale_release_never_frees_a_newer_lease() {
    let pool = SessionPool::<Fake>::new(1, Duration::from_secs(3600));
    let first = pool.try_checkout("t1").expect("a free slot").lease;
    let number = first.number;
    drop(first);
    let second = pool.try_checkout("t1").expect("freed").lease;
    pool.free("t1", number);
    assert_eq!(pool.busy_keys(), ["t1"], "the newer lease still holds it");
    second.checkin(Fake::new("s"));
    assert_eq!(pool.stats(), figures(1, 0, 1));
}

#[tokio::test(start_paused = true)]
async fn a_dead_idle_session_is_evicted_before_a_live_one_and_not_counted() {
    let pool = SessionPool::new(2, Duration::from_secs(3600));
    let mut held = Vec::new();
    let (older, crashed) = (Fake::new("older"), Fake::new("crashed"));
    take(&pool, "t1", &mut held);
    checkin(&mut held, "t1", older.clone());
    tokio::time::advance(Duration::from_secs(1)).await;
    take(&pool, "t2", &mut held);
    checkin(&mut held, "t2", crashed.clone());
    crashed.closed.store(true, Ordering::SeqCst);
    assert_eq!(pool.stats(), figures(2, 0, 1), "only the live one is idle");
    assert_eq!(take(&pool, "t3", &mut held).0, "vacant");
    tokio::task::yield_now().await;
    assert!(older.is_alive(), "the dead session made room, not the LRU");
    assert_eq!(take(&pool, "t1", &mut held).0, "older");
}
