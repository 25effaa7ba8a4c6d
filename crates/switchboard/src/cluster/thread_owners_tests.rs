//! Threads' owners against a real database, both backends: claims, one
//! renewal for all, threads placed by another instance and threads lost,
//! and acting stopped by the clock when renewals stop.

use std::time::Duration;

use super::*;
use crate::store::test_support::{TestBackend, temp_store};

const LONG: LeaseTiming = LeaseTiming {
    ttl: Duration::from_secs(60),
};

fn owners(store: &Store, instance: &str, timing: LeaseTiming) -> ThreadOwners {
    ThreadOwners::new(store.clone(), instance.to_owned(), timing)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_owner_per_thread_kept_by_renewals_and_free_once_let_go() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        let (_db, store) = temp_store(backend).await;
        let (a, b) = (owners(&store, "a", LONG), owners(&store, "b", LONG));
        assert!(a.claim("slack", "t1").await.unwrap());
        assert!(a.claim("slack", "t1").await.unwrap(), "a holds it already");
        assert!(!b.claim("slack", "t1").await.unwrap(), "{backend:?}");
        assert!(a.may_act("slack", "t1"));
        assert!(!b.may_act("slack", "t1"));
        let fence = a.slot("slack", "t1").unwrap().fence().unwrap();
        assert_eq!(fence.lease, "thread:slack:t1");
        assert_eq!(fence.holder, "a");
        let owner = b.owner("slack", "t1").await.unwrap().unwrap();
        assert_eq!((owner.holder.as_str(), owner.token), ("a", fence.token));

        a.renew_once().await.unwrap();
        assert_eq!(a.take_changes("slack"), OwnerChanges::default());
        assert!(a.may_act("slack", "t1"));

        a.let_go("slack", "t1").await;
        assert!(!a.may_act("slack", "t1"));
        assert_eq!(a.held_count(), 0);
        assert!(b.owner("slack", "t1").await.unwrap().is_none());
        assert!(b.claim("slack", "t1").await.unwrap(), "{backend:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_finds_the_threads_placed_on_it_and_the_ones_it_lost() {
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        let (_db, store) = temp_store(backend).await;
        let (a, b) = (owners(&store, "a", LONG), owners(&store, "b", LONG));
        assert!(b.place("slack", "placed", "a").await.unwrap());
        assert!(!b.place("slack", "placed", "b").await.unwrap(), "a's now");
        assert!(a.claim("slack", "kept").await.unwrap());
        assert!(a.claim("slack", "taken").await.unwrap());
        assert!(a.claim("discord", "other").await.unwrap());
        // `taken` expires for a (as if a had stalled) and b takes it.
        let fence = a.slot("slack", "taken").unwrap().fence().unwrap();
        assert!(store.lease_release(&fence).await.unwrap());
        assert!(b.claim("slack", "taken").await.unwrap());
        assert!(!a.may_act("slack", "placed"), "not known before a renewal");

        a.renew_once().await.unwrap();
        let changes = a.take_changes("slack");
        assert_eq!(changes.placed, ["placed"], "{backend:?}");
        assert_eq!(changes.lost, ["taken"], "{backend:?}");
        assert!(a.may_act("slack", "placed"));
        assert!(a.may_act("slack", "kept"));
        assert!(!a.may_act("slack", "taken"));
        assert_eq!(
            a.take_changes("slack"),
            OwnerChanges::default(),
            "taken once"
        );
        assert_eq!(
            a.take_changes("discord"),
            OwnerChanges::default(),
            "nothing changed there"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_renewals_a_thread_stops_being_acted_on_before_its_lease_expires() {
    let timing = LeaseTiming {
        ttl: Duration::from_millis(600),
    };
    for backend in [TestBackend::Sqlite, TestBackend::Postgres] {
        let (_db, store) = temp_store(backend).await;
        let a = owners(&store, "a", timing);
        assert!(a.claim("slack", "t1").await.unwrap());
        assert!(a.may_act("slack", "t1"));
        // No renewal runs: acting ends by the clock (a fifth of the ttl
        // before the database may give the thread to another).
        let deadline = Instant::now() + Duration::from_secs(5);
        while a.may_act("slack", "t1") {
            assert!(Instant::now() < deadline, "still acting");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(a.slot("slack", "t1").unwrap().fence().is_none());
    }
}
