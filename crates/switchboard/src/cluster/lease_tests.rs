//! A held lease against a real database: kept past its ttl while renewals
//! succeed, lost when they are refused or cannot reach the database (and
//! then before the database would let another instance take it), handed
//! over at once when dropped.

use std::time::Duration;

use super::*;
use crate::store::test_proxy::FlakyServer;
use crate::store::test_support::{TestBackend, TestDb, temp_store};
use crate::store::{PostgresOptions, StoreError};

const TTL: Duration = Duration::from_millis(900);

fn timing() -> LeaseTiming {
    LeaseTiming { ttl: TTL }
}

/// Wait until `condition` holds, at most `within`.
async fn until(within: Duration, what: &str, mut condition: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_lease_is_renewed_past_its_ttl_and_no_one_else_gets_it() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        let (_db, store) = temp_store(backend).await;
        let held = HeldLease::try_take(&store, "shard:0", "a", timing())
            .await
            .unwrap()
            .expect("free");
        assert!(
            HeldLease::try_take(&store, "shard:0", "b", timing())
                .await
                .unwrap()
                .is_none()
        );
        // The measured span itself: three ttls of renewals.
        tokio::time::sleep(TTL * 3).await;
        assert!(!held.is_lost(), "{backend:?}: lost while renewals succeed");
        let record = store.lease("shard:0").await.unwrap().unwrap();
        assert_eq!(
            (record.holder.as_str(), record.token),
            ("a", held.fence().token)
        );
        assert!(record.expires_in_ms > 0, "{backend:?}: {record:?}");
        assert!(
            HeldLease::try_take(&store, "shard:0", "b", timing())
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_cut_off_from_the_database_stops_before_its_lease_expires_and_is_fenced_after() {
    let db = TestDb::new(TestBackend::Postgres).await;
    let direct = db.open().await;
    let (server, url) = FlakyServer::in_front_of(db.pg_url()).await;
    let options = PostgresOptions {
        acquire_timeout: Duration::from_millis(200),
        ..PostgresOptions::default()
    };
    let cut_off = crate::store::Store::connect_postgres(&url, &options)
        .await
        .unwrap();
    let held = HeldLease::try_take(&cut_off, "discord:shard:0", "a", timing())
        .await
        .unwrap()
        .expect("free");
    let old = held.fence().clone();
    server.go_silent();
    tokio::time::timeout(TTL * 2, held.lost())
        .await
        .expect("the holder noticed within two ttls");
    // It stopped acting while the database still counted the lease as its.
    let record = direct.lease("discord:shard:0").await.unwrap().unwrap();
    assert_eq!(record.holder, "a");
    assert!(
        record.expires_in_ms > 0,
        "the holder stopped only after its lease expired: {record:?}"
    );
    // Another instance takes it once it has expired, with a larger token.
    let mut taken = None;
    until(TTL * 3, "the takeover", async || {
        taken = HeldLease::try_take(&direct, "discord:shard:0", "b", timing())
            .await
            .unwrap();
        taken.is_some()
    })
    .await;
    let taken = taken.unwrap();
    assert!(taken.fence().token > old.token);
    // The old holder's late write, once it reaches the database, is refused.
    server.come_back();
    let session = crate::store::GatewaySession {
        session_id: "s".into(),
        sequence: 7,
        resume_url: None,
    };
    let late = cut_off
        .save_gateway_session("discord:0", &session, &old)
        .await
        .unwrap_err();
    assert!(matches!(late, StoreError::Fenced { .. }), "{late}");
    direct
        .save_gateway_session("discord:0", &session, taken.fence())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_is_noticed_at_the_next_renewal() {
    let (_db, store) = temp_store(TestBackend::Postgres).await;
    let held = HeldLease::try_take(&store, "t", "a", timing())
        .await
        .unwrap()
        .unwrap();
    // Another instance judged it expired and took it (as after a pause).
    store.test_exec("UPDATE leases SET expires_at = 0").await;
    let other = HeldLease::try_take(&store, "t", "b", timing())
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(TTL, held.lost())
        .await
        .expect("the deposed holder stops at its next renewal");
    assert!(!other.is_lost());
    drop(held);
    assert_eq!(
        store.lease("t").await.unwrap().unwrap().holder,
        "b",
        "a's drop released b's lease"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_or_released_lease_is_free_for_the_next_instance_at_once() {
    let (_db, store) = temp_store(TestBackend::Postgres).await;
    let long = LeaseTiming {
        ttl: Duration::from_secs(60),
    };
    let held = HeldLease::try_take(&store, "t", "a", long)
        .await
        .unwrap()
        .unwrap();
    let lost = held.lost_token();
    drop(held);
    assert!(lost.is_cancelled(), "a dropped lease is not acted on");
    let mut next = None;
    until(Duration::from_secs(5), "taken after a drop", async || {
        next = HeldLease::try_take(&store, "t", "b", long).await.unwrap();
        next.is_some()
    })
    .await;
    let next = next.unwrap();
    let token = next.fence().token;
    next.release().await;
    let again = HeldLease::try_take(&store, "t", "c", long)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.fence().token, token + 1);
}

/// The database answers a take only after the request's acting window
/// (here: a lock holds the statement; in life, the pool waiting for a
/// server that is just back): the lease is given back, not held dead from
/// its first instant, and the next take is a new tenure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_granted_after_its_acting_window_is_given_back_not_held() {
    use sqlx::Connection;

    let (db, store) = temp_store(TestBackend::Postgres).await;
    let mut locker = sqlx::PgConnection::connect(db.pg_url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE leases IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut locker)
        .await
        .unwrap();
    let take = tokio::spawn({
        let store = store.clone();
        async move { HeldLease::try_take(&store, "shard:0", "a", timing()).await }
    });
    // Held past the acting window (ttl - ttl/5) of the take's request.
    tokio::time::sleep(timing().acting_window() + Duration::from_millis(200)).await;
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();
    assert!(
        take.await.unwrap().unwrap().is_none(),
        "a lease granted too late to act on is not held"
    );
    let record = store.lease("shard:0").await.unwrap().unwrap();
    assert!(record.expires_in_ms <= 0, "given back: {record:?}");
    let next = HeldLease::try_take(&store, "shard:0", "b", timing())
        .await
        .unwrap()
        .expect("free for the next instance at once");
    assert!(next.fence().token > record.token);
    assert!(!next.is_lost());
}

/// A stalled process (here: the runtime's only thread blocked, as under
/// SIGSTOP) sees at its first instant awake that it may no longer act,
/// before the renewal task has had a chance to run.
#[tokio::test]
async fn after_a_stall_past_the_window_the_guard_refuses_before_any_task_runs() {
    let (_db, store) = temp_store(TestBackend::Sqlite).await;
    let held = HeldLease::try_take(&store, "shard:0", "a", timing())
        .await
        .unwrap()
        .unwrap();
    let guard = held.guard();
    assert!(guard.may_act());
    std::thread::sleep(TTL); // the stall itself: nothing else may run
    assert!(!guard.may_act(), "acting allowed after the window passed");
    assert!(held.is_lost());
}
