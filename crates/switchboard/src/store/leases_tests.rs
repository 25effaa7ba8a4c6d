//! Leases, fencing, instances and saved gateway sessions on both backends.

use std::time::Duration;

use super::super::test_support::{TestBackend, journal_entry, temp_store};
use super::super::{GatewaySession, Store};
use super::*;

const LONG: Duration = Duration::from_secs(60);

fn fence(lease: &str, holder: &str, token: i64) -> Fence {
    Fence {
        lease: lease.to_owned(),
        holder: holder.to_owned(),
        token,
    }
}

/// Try to take `name` for `holder` until it is granted (the lease before
/// it expires on the database's clock), at most 10 s.
async fn acquire_when_free(store: &Store, name: &str, holder: &str, ttl: Duration) -> i64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(token) = store.lease_acquire(name, holder, ttl).await.unwrap() {
            return token;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{name} never became free"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn session(id: &str, sequence: u64) -> GatewaySession {
    GatewaySession {
        session_id: id.to_owned(),
        sequence,
        resume_url: Some("wss://resume.example".to_owned()),
    }
}

both_backends!(
    one_holder_at_a_time_and_each_acquisition_is_a_new_tenure,
    a_takeover_after_expiry_raises_the_token_and_fences_the_old_holder,
    a_released_lease_is_free_at_once_and_its_token_is_never_reused,
    a_gateway_session_is_saved_under_its_lease_and_read_back,
    instances_report_heartbeats_least_loaded_first,
    a_fenced_store_refuses_journal_writes_once_its_lease_is_gone,
);

async fn one_holder_at_a_time_and_each_acquisition_is_a_new_tenure(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    let a = store.lease_acquire("shard:0", "a", LONG).await.unwrap();
    assert_eq!(a, Some(1));
    assert_eq!(
        store.lease_acquire("shard:0", "b", LONG).await.unwrap(),
        None
    );
    // Its holder may take it again, as a new tenure: the old token is
    // over, so a late release or write made under it changes nothing now.
    assert_eq!(
        store.lease_acquire("shard:0", "a", LONG).await.unwrap(),
        Some(2)
    );
    assert!(
        !store
            .lease_release(&fence("shard:0", "a", 1))
            .await
            .unwrap(),
        "a release under the earlier tenure"
    );
    // Another name is another lease.
    assert_eq!(
        store.lease_acquire("shard:1", "b", LONG).await.unwrap(),
        Some(1)
    );
    let held = store.lease("shard:0").await.unwrap().unwrap();
    assert_eq!((held.holder.as_str(), held.token), ("a", 2));
    assert!(held.expires_in_ms > 50_000, "{held:?}");
    let other = store.lease("shard:1").await.unwrap().unwrap();
    assert_eq!((other.holder.as_str(), other.token), ("b", 1));
    assert!(
        store
            .lease_renew(&fence("shard:0", "a", 2), LONG)
            .await
            .unwrap()
    );
    assert!(
        !store
            .lease_renew(&fence("shard:0", "a", 1), LONG)
            .await
            .unwrap()
    );
    assert!(
        !store
            .lease_renew(&fence("shard:0", "b", 1), LONG)
            .await
            .unwrap()
    );
}

async fn a_takeover_after_expiry_raises_the_token_and_fences_the_old_holder(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    let short = Duration::from_millis(300);
    let old = store
        .lease_acquire("shard:0", "a", short)
        .await
        .unwrap()
        .unwrap();
    let old_fence = fence("shard:0", "a", old);
    store
        .save_gateway_session("discord:0", &session("s1", 5), &old_fence)
        .await
        .unwrap();
    let new = acquire_when_free(&store, "shard:0", "b", LONG).await;
    assert!(new > old, "takeover token {new} after {old}");
    // The deposed holder can neither renew nor write.
    assert!(!store.lease_renew(&old_fence, LONG).await.unwrap());
    let late = store
        .save_gateway_session("discord:0", &session("s1", 9), &old_fence)
        .await
        .unwrap_err();
    assert!(
        matches!(late, StoreError::Fenced { token, .. } if token == old),
        "{late}"
    );
    assert!(late.to_string().contains("shard:0"), "{late}");
    assert_eq!(
        store.gateway_session("discord:0").await.unwrap(),
        Some(session("s1", 5)),
        "the late write changed nothing"
    );
    store
        .save_gateway_session("discord:0", &session("s1", 9), &fence("shard:0", "b", new))
        .await
        .unwrap();
    assert_eq!(
        store
            .gateway_session("discord:0")
            .await
            .unwrap()
            .unwrap()
            .sequence,
        9
    );
    // Even the old holder taking it back gets a new token, never its old one.
    assert!(
        store
            .lease_release(&fence("shard:0", "b", new))
            .await
            .unwrap()
    );
    let again = acquire_when_free(&store, "shard:0", "a", LONG).await;
    assert!(again > new);
    assert!(
        store
            .save_gateway_session("discord:0", &session("s1", 10), &old_fence)
            .await
            .is_err(),
        "an old token is refused even when its holder holds the lease again"
    );
}

async fn a_released_lease_is_free_at_once_and_its_token_is_never_reused(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    let first = store.lease_acquire("t", "a", LONG).await.unwrap().unwrap();
    assert!(store.lease_release(&fence("t", "a", first)).await.unwrap());
    assert!(
        !store.lease_release(&fence("t", "a", first)).await.unwrap(),
        "released twice"
    );
    let second = acquire_when_free(&store, "t", "b", LONG).await;
    assert_eq!(second, first + 1);
    let now_b = store.lease("t").await.unwrap().unwrap();
    assert_eq!((now_b.holder.as_str(), now_b.token), ("b", second));
}

async fn a_gateway_session_is_saved_under_its_lease_and_read_back(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    assert_eq!(store.gateway_session("discord:0").await.unwrap(), None);
    let token = store
        .lease_acquire("discord:shard:0", "a", LONG)
        .await
        .unwrap()
        .unwrap();
    let held = fence("discord:shard:0", "a", token);
    let unheld = fence("discord:shard:1", "a", token);
    let refused = store
        .save_gateway_session("discord:0", &session("s", 1), &unheld)
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused}");
    store
        .save_gateway_session("discord:0", &session("s", 1), &held)
        .await
        .unwrap();
    store
        .save_gateway_session("discord:0", &session("s", 42), &held)
        .await
        .unwrap();
    assert_eq!(
        store.gateway_session("discord:0").await.unwrap(),
        Some(session("s", 42))
    );
    store
        .forget_gateway_session("discord:0", &unheld)
        .await
        .unwrap();
    assert!(
        store.gateway_session("discord:0").await.unwrap().is_some(),
        "unfenced forget"
    );
    store
        .forget_gateway_session("discord:0", &held)
        .await
        .unwrap();
    assert_eq!(store.gateway_session("discord:0").await.unwrap(), None);
}

async fn instances_report_heartbeats_least_loaded_first(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    store.instance_heartbeat("busy", 9, 10).await.unwrap();
    store.instance_heartbeat("idle", 1, 10).await.unwrap();
    store.instance_heartbeat("half", 2, 4).await.unwrap();
    let alive = store.instances_alive(LONG).await.unwrap();
    let ids: Vec<&str> = alive.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["idle", "half", "busy"]);
    assert!(
        alive
            .iter()
            .all(|i| (0..5_000).contains(&i.heartbeat_age_ms)),
        "{alive:?}"
    );
    store.instance_gone("idle").await.unwrap();
    // A stale heartbeat is not alive.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !store
        .instances_alive(Duration::from_millis(100))
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "heartbeats never went stale"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    store.instance_heartbeat("busy", 0, 10).await.unwrap();
    let alive = store
        .instances_alive(Duration::from_millis(100))
        .await
        .unwrap();
    assert_eq!(alive.len(), 1);
    assert_eq!((alive[0].id.as_str(), alive[0].live_sessions), ("busy", 0));
}

/// PostgreSQL: instances racing for one free lease; exactly one wins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_instances_get_one_holder_on_postgres() {
    let (db, store) = temp_store(TestBackend::Postgres).await;
    let mut racers = Vec::new();
    for i in 0..8 {
        let store = db.open().await;
        racers.push(tokio::spawn(async move {
            store
                .lease_acquire("shard:0", &format!("i{i}"), LONG)
                .await
                .unwrap()
        }));
    }
    let mut won = Vec::new();
    for racer in racers {
        if let Some(token) = racer.await.unwrap() {
            won.push(token);
        }
    }
    assert_eq!(won, vec![1], "exactly one holder, with the first token");
    assert!(store.lease("shard:0").await.unwrap().is_some());
}

async fn a_fenced_store_refuses_journal_writes_once_its_lease_is_gone(backend: TestBackend) {
    use crate::store::JournalState;
    use std::sync::{Arc, Mutex};
    let (_db, store) = temp_store(backend).await;
    let short = Duration::from_millis(300);
    let token = store
        .lease_acquire("discord:shard:0", "a", short)
        .await
        .unwrap()
        .unwrap();
    let current = Arc::new(Mutex::new(Some(fence("discord:shard:0", "a", token))));
    let source = {
        let current = current.clone();
        FenceSource(Arc::new(move || current.lock().unwrap().clone()))
    };
    let owner = store.fenced_by(source);
    for id in ["1", "2"] {
        assert!(store.journal_accept(&journal_entry(id)).await.unwrap());
    }
    owner
        .journal_set_state("discord", "1", JournalState::Prompted, 2)
        .await
        .unwrap();
    owner
        .finish_turn(
            "discord",
            &["1"],
            JournalState::Answered,
            &["r1".into()],
            "t1",
            3,
        )
        .await
        .unwrap();
    // A message that is not journaled is still "no such entry" while held.
    let missing = owner
        .journal_set_state("discord", "404", JournalState::Prompted, 3)
        .await
        .unwrap_err();
    assert!(
        matches!(missing, StoreError::NoSuchEntry { .. }),
        "{missing}"
    );
    // Another instance takes the shard over after expiry.
    let new = acquire_when_free(&store, "discord:shard:0", "b", LONG).await;
    assert!(new > token);
    let late = owner
        .journal_set_state("discord", "2", JournalState::Interrupted, 4)
        .await
        .unwrap_err();
    assert!(matches!(late, StoreError::Fenced { .. }), "{late}");
    let late = owner
        .finish_turn("discord", &["2"], JournalState::Answered, &[], "t1", 4)
        .await
        .unwrap_err();
    assert!(matches!(late, StoreError::Fenced { .. }), "{late}");
    let entry = store.journal_entry("discord", "2").await.unwrap().unwrap();
    assert_eq!(
        entry.state,
        JournalState::Received,
        "the late writes changed nothing"
    );
    // Not holding at all: refused without asking the database.
    *current.lock().unwrap() = None;
    let refused = owner.journal_accept(&journal_entry("3")).await.unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused}");
    let refused = owner
        .journal_set_state("discord", "2", JournalState::Prompted, 5)
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Fenced { .. }), "{refused}");
    // The unfenced handle writes as before.
    store
        .journal_set_state("discord", "2", JournalState::Prompted, 5)
        .await
        .unwrap();
}
