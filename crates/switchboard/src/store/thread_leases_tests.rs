//! Threads' owners and wake-ups on both backends.

use std::time::Duration;

use super::super::test_support::{TestBackend, journal_entry, temp_store};
use super::super::wake::Wakeup;
use super::super::{Fence, JournalEntry, JournalState, Store};
use super::*;

const LONG: Duration = Duration::from_secs(60);

fn entry(id: &str, thread: &str, received_at_ms: i64) -> JournalEntry {
    JournalEntry {
        thread_id: thread.into(),
        channel_id: thread.into(),
        received_at_ms,
        ..journal_entry(id)
    }
}

async fn journal(store: &Store, entries: &[JournalEntry]) {
    for e in entries {
        assert!(store.journal_insert(e).await.unwrap());
    }
}

fn ids(entries: &[JournalEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.message_id.as_str()).collect()
}

both_backends!(
    one_statement_renews_every_thread_of_a_holder_and_shows_the_ones_placed_on_it,
    an_owner_takes_what_others_left_for_it_once_and_only_in_its_threads,
    a_new_owner_takes_every_unfinished_entry_of_its_thread,
    threads_with_unfinished_entries_and_no_live_owner_are_unattended,
    an_instance_is_woken_by_name_on_postgres_only,
    only_threads_leases_long_expired_are_pruned,
);

async fn only_threads_leases_long_expired_are_pruned(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    let held = thread_lease_name("slack", "held");
    let gone = thread_lease_name("slack", "gone");
    store
        .lease_acquire(&held, "a", LONG)
        .await
        .unwrap()
        .unwrap();
    store
        .lease_acquire(&gone, "a", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    store
        .lease_acquire("discord:shard:0", "a", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        store.prune_thread_leases(LONG).await.unwrap(),
        0,
        "not long enough"
    );
    // Expired for longer than 0 ms: on the database's clock, a moment on.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while store.lease(&gone).await.unwrap().is_some() {
        store.prune_thread_leases(Duration::ZERO).await.unwrap();
        assert!(tokio::time::Instant::now() < deadline, "never pruned");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(store.lease(&held).await.unwrap().is_some());
    assert!(store.lease("discord:shard:0").await.unwrap().is_some());
}

async fn one_statement_renews_every_thread_of_a_holder_and_shows_the_ones_placed_on_it(
    backend: TestBackend,
) {
    let (_db, store) = temp_store(backend).await;
    let t1 = thread_lease_name("discord", "t1");
    let t2 = thread_lease_name("discord", "t2");
    let other = thread_lease_name("discord", "t3");
    let gone = thread_lease_name("discord", "t4");
    let a1 = store.lease_acquire(&t1, "a", LONG).await.unwrap().unwrap();
    // Placed on `a` by another instance: `a` learns of it by renewing.
    let a2 = store.lease_acquire(&t2, "a", LONG).await.unwrap().unwrap();
    store
        .lease_acquire(&other, "b", LONG)
        .await
        .unwrap()
        .unwrap();
    // Expired already: not revived.
    store
        .lease_acquire(&gone, "a", Duration::ZERO)
        .await
        .unwrap()
        .unwrap();
    // Not a thread's lease.
    store
        .lease_acquire("discord:shard:0", "a", LONG)
        .await
        .unwrap()
        .unwrap();

    let mut renewed = store
        .leases_renew_all("a", THREAD_LEASE_PREFIX, LONG)
        .await
        .unwrap();
    renewed.sort();
    assert_eq!(renewed, vec![(t1.clone(), a1), (t2.clone(), a2)]);
    let lease = store.lease(&gone).await.unwrap().unwrap();
    assert!(lease.expires_in_ms <= 0, "{lease:?}");
    assert!(
        store
            .leases_renew_all("c", THREAD_LEASE_PREFIX, LONG)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn an_owner_takes_what_others_left_for_it_once_and_only_in_its_threads(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    // m6 was journaled by its owner (no mark).
    for (e, owner) in [
        (entry("m3", "t1", 3_000), Some("a")),
        (entry("m1", "t1", 1_000), Some("a")),
        (entry("m2", "t2", 2_000), Some("b")),
        (entry("m4", "t3", 4_000), Some("a")),
        (entry("m5", "t1", 5_000), Some("a")),
        (entry("m6", "t1", 6_000), None),
    ] {
        assert!(store.journal_accept_for(&e, owner).await.unwrap());
    }
    // m5's turn began already.
    store
        .journal_set_state("discord", "m5", JournalState::Prompted, 7_000)
        .await
        .unwrap();
    store
        .lease_acquire(&thread_lease_name("discord", "t1"), "a", LONG)
        .await
        .unwrap();
    store
        .lease_acquire(&thread_lease_name("discord", "t2"), "b", LONG)
        .await
        .unwrap();
    // t3's lease has expired: not `a`'s to act on.
    store
        .lease_acquire(&thread_lease_name("discord", "t3"), "a", Duration::ZERO)
        .await
        .unwrap();

    let taken = store.journal_take_waiting("a", "discord", 1).await.unwrap();
    assert_eq!(ids(&taken), ["m1"], "oldest first, at most the limit");
    let taken = store
        .journal_take_waiting("a", "discord", 10)
        .await
        .unwrap();
    assert_eq!(ids(&taken), ["m3"], "taken once; received only");
    assert!(
        store
            .journal_take_waiting("a", "discord", 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .journal_take_waiting("a", "slack", 10)
            .await
            .unwrap()
            .is_empty()
    );
    let taken = store
        .journal_take_waiting("b", "discord", 10)
        .await
        .unwrap();
    assert_eq!(ids(&taken), ["m2"]);
    assert_eq!(taken[0].content, "hello", "the whole entry comes back");
}

async fn a_new_owner_takes_every_unfinished_entry_of_its_thread(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    journal(
        &store,
        &[
            entry("m2", "t1", 2_000),
            entry("m1", "t1", 1_000),
            entry("m4", "t2", 500),
        ],
    )
    .await;
    assert!(
        store
            .journal_accept_for(&entry("m3", "t1", 3_000), Some("dead"))
            .await
            .unwrap()
    );
    store
        .journal_set_state("discord", "m1", JournalState::Answered, 7_000)
        .await
        .unwrap();
    store
        .journal_set_state("discord", "m2", JournalState::Interrupted, 7_000)
        .await
        .unwrap();
    let lease = thread_lease_name("discord", "t1");
    // Without the lease nothing is taken.
    assert!(
        store
            .journal_take_thread("discord", "t1", "a")
            .await
            .unwrap()
            .is_empty()
    );
    let token = store
        .lease_acquire(&lease, "a", LONG)
        .await
        .unwrap()
        .unwrap();
    let taken = store
        .journal_take_thread("discord", "t1", "a")
        .await
        .unwrap();
    assert_eq!(ids(&taken), ["m2", "m3"]);
    assert_eq!(taken[0].state, JournalState::Interrupted);
    // Its mark for the dead instance went with the take: even holding the
    // thread again, that instance finds nothing left for it.
    let a = Fence {
        lease: lease.clone(),
        holder: "a".into(),
        token,
    };
    assert!(store.lease_release(&a).await.unwrap());
    store
        .lease_acquire(&lease, "dead", LONG)
        .await
        .unwrap()
        .unwrap();
    assert!(
        store
            .journal_take_waiting("dead", "discord", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn threads_with_unfinished_entries_and_no_live_owner_are_unattended(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    journal(
        &store,
        &[
            entry("m1", "held", 1_000),
            entry("m2", "expired", 2_000),
            entry("m3", "nobody", 500),
            entry("m4", "done", 100),
            entry("m5", "nobody", 50),
        ],
    )
    .await;
    store
        .journal_set_state("discord", "m4", JournalState::Answered, 6_000)
        .await
        .unwrap();
    store
        .lease_acquire(&thread_lease_name("discord", "held"), "a", LONG)
        .await
        .unwrap();
    store
        .lease_acquire(
            &thread_lease_name("discord", "expired"),
            "a",
            Duration::ZERO,
        )
        .await
        .unwrap();

    let unattended = store.threads_unattended("discord", 10).await.unwrap();
    assert_eq!(unattended, ["nobody", "expired"], "longest waiting first");
    assert_eq!(
        store.threads_unattended("discord", 1).await.unwrap(),
        ["nobody"]
    );
    assert!(
        store
            .threads_unattended("slack", 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn an_instance_is_woken_by_name_on_postgres_only(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    let listening = store.wakeups("a").await.unwrap();
    let Some(mut wakeups) = listening else {
        assert!(
            matches!(backend, TestBackend::Sqlite),
            "PostgreSQL must listen"
        );
        store.wake("a").await.unwrap();
        return;
    };
    assert!(matches!(backend, TestBackend::Postgres));
    // Another instance's wake-up is skipped; ours is seen.
    store.wake("b").await.unwrap();
    store.wake("a").await.unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), wakeups.next())
        .await
        .expect("the wake-up arrives")
        .unwrap();
    assert_eq!(seen, Wakeup::Woken);
    // Nothing else is pending for `a`.
    let more = tokio::time::timeout(Duration::from_millis(200), wakeups.next()).await;
    assert!(more.is_err(), "{more:?}");
}
