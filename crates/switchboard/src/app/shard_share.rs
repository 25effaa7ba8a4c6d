//! Discord's shards spread over the instances of one bot (issue 14 point
//! 3; ADR 24): with `discord.shards` above 1 each shard has its own lease
//! (`discord:shard:<i>/<n>`), and an instance holds at most its share,
//! ceil(shards / instances alive). An instance over its share (others
//! joined) gives the extra shards back, one runner at a time, and the
//! others RESUME them; an instance that dies leaves its shards to the
//! others once their leases expire.
//!
//! Also the identify gate across instances: Discord allows
//! `max_concurrency` identifies per 5 s for the whole bot, one per bucket
//! (shard % max_concurrency), so an identify waits for the bucket's
//! short-lived lease (`discord:identify:<bucket>`, held 5 s, never renewed,
//! never released).
//!
//! Owns the count of shards held here (a guard per held shard, released
//! when dropped on every path) and those two rules. It never runs a
//! gateway, and it never lets a runner take a shard while an older
//! instance holds the one lease that guarded every shard
//! (`discord:shard:0`, ADR 23).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::BoxFuture;
use twilight_gateway::ShardId;

use crate::chat::discord::IdentifyGate;
use crate::cluster::LeaseTiming;
use crate::store::Store;

/// The lease an older instance (ADR 23) held for every shard.
const ALL_SHARDS_LEASE: &str = "discord:shard:0";
/// How long one identify holds its bucket (Discord's window).
const IDENTIFY_WINDOW: Duration = Duration::from_secs(5);
/// Between tries for a bucket the database could not be asked about.
const IDENTIFY_RETRY: Duration = Duration::from_secs(1);
/// How long the instances alive and the old lease, once read, stand for
/// every runner of this instance (one read per this, whatever the count
/// of shards standing by).
const LOOK_FRESH: Duration = Duration::from_millis(400);

/// The lease of shard `id` when the shards are spread (one shard keeps the
/// name it always had).
pub(super) fn shard_lease_name(id: ShardId) -> String {
    if id.total() == 1 {
        ALL_SHARDS_LEASE.to_owned()
    } else {
        format!("discord:shard:{}/{}", id.number(), id.total())
    }
}

/// This instance's part of the shards. Cheap to clone; clones share the
/// count.
#[derive(Clone)]
pub(super) struct ShardShare {
    store: Store,
    instance: String,
    timing: LeaseTiming,
    shards: usize,
    held: Arc<AtomicUsize>,
    /// The last look: when, the share, and whether an older instance held
    /// every shard.
    look: Arc<tokio::sync::Mutex<Option<(tokio::time::Instant, usize, bool)>>>,
}

/// One shard counted as held here; dropped, it is not any more.
pub(super) struct ShareSeat {
    held: Arc<AtomicUsize>,
    counted: bool,
}

impl Drop for ShareSeat {
    fn drop(&mut self) {
        if self.counted {
            self.held.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl ShardShare {
    pub(super) fn new(store: Store, instance: String, timing: LeaseTiming, shards: usize) -> Self {
        Self {
            store,
            instance,
            timing,
            shards: shards.max(1),
            held: Arc::default(),
            look: Arc::default(),
        }
    }

    /// Shards held here now.
    pub(super) fn held(&self) -> usize {
        self.held.load(Ordering::Acquire)
    }

    /// A shard was taken: counted until the seat is dropped.
    pub(super) fn seat(&self) -> ShareSeat {
        self.held.fetch_add(1, Ordering::AcqRel);
        ShareSeat {
            held: self.held.clone(),
            counted: true,
        }
    }

    /// At most this many shards per instance: ceil(shards / instances
    /// alive), all of them when the heartbeats cannot be read; and whether
    /// an older instance holds every shard under the one lease. Read at
    /// most once per [`LOOK_FRESH`] for all the runners.
    async fn look(&self) -> (usize, bool) {
        let mut last = self.look.lock().await;
        if let Some((at, share, old_holder)) = *last
            && at.elapsed() < LOOK_FRESH
        {
            return (share, old_holder);
        }
        let share = match self.store.instances_alive(self.timing.ttl).await {
            Ok(alive) => self.shards.div_ceil(alive.len().max(1)),
            Err(err) => {
                tracing::debug!(%err, "could not count the instances alive; every shard may be taken");
                self.shards
            }
        };
        let old_holder = match self.store.lease(ALL_SHARDS_LEASE).await {
            Ok(Some(lease)) => lease.expires_in_ms > 0 && lease.holder != self.instance,
            _ => false,
        };
        *last = Some((tokio::time::Instant::now(), share, old_holder));
        (share, old_holder)
    }

    /// Whether a runner standing by may try for its shard now: this
    /// instance holds less than its share, and no older instance holds
    /// every shard under the one lease.
    pub(super) async fn may_take(&self) -> bool {
        let (share, old_holder) = self.look().await;
        if old_holder {
            tracing::debug!("an instance holds every shard under the one lease; standing by");
        }
        self.held() < share && !old_holder
    }

    /// Whether the shard of `seat` should be given back (this instance
    /// holds more than its share); at most as many runners as there are
    /// extra shards are told so, and each stops counting at once.
    pub(super) async fn give_back(&self, seat: &mut ShareSeat) -> bool {
        let (share, _) = self.look().await;
        loop {
            let held = self.held();
            if held <= share || !seat.counted {
                return false;
            }
            if self
                .held
                .compare_exchange(held, held - 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                seat.counted = false;
                return true;
            }
        }
    }

    /// The identify gate across instances: wait for bucket's lease.
    pub(super) fn identify_gate(&self) -> IdentifyGate {
        let (store, instance) = (self.store.clone(), self.instance.clone());
        Arc::new(move |bucket: u32| -> BoxFuture<'static, ()> {
            let (store, instance) = (store.clone(), instance.clone());
            Box::pin(async move {
                let name = format!("discord:identify:{bucket}");
                loop {
                    let wait = match store.lease_acquire(&name, &instance, IDENTIFY_WINDOW).await {
                        Ok(Some(_)) => return,
                        Ok(None) => match store.lease(&name).await {
                            Ok(Some(lease)) => {
                                let ms = u64::try_from(lease.expires_in_ms).unwrap_or(0) + 20;
                                Duration::from_millis(ms).min(IDENTIFY_WINDOW)
                            }
                            _ => IDENTIFY_RETRY,
                        },
                        Err(err) => {
                            tracing::warn!(%err, bucket, "could not take the identify bucket's turn; trying again");
                            IDENTIFY_RETRY
                        }
                    };
                    tokio::time::sleep(wait).await;
                }
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{TestBackend, TestDb};

    const TIMING: LeaseTiming = LeaseTiming {
        ttl: Duration::from_secs(10),
    };

    async fn beat(store: &Store, id: &str) {
        store.instance_heartbeat(id, 0, 10).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_instance_takes_its_share_and_gives_back_what_is_over_it() {
        let db = TestDb::new(TestBackend::Postgres).await;
        let store = db.open().await;
        let a = ShardShare::new(store.clone(), "a".into(), TIMING, 4);
        beat(&store, "a").await;
        // Alone: every shard.
        let mut seats: Vec<ShareSeat> = Vec::new();
        while a.may_take().await {
            seats.push(a.seat());
        }
        assert_eq!(a.held(), 4);
        // A second and a third instance: ceil(4 / 3) = 2 each, so two of
        // the four are given back, and only two.
        beat(&store, "b").await;
        beat(&store, "c").await;
        tokio::time::sleep(LOOK_FRESH).await;
        let mut given = 0;
        for seat in &mut seats {
            if a.give_back(seat).await {
                given += 1;
            }
        }
        assert_eq!((given, a.held()), (2, 2));
        assert!(!a.may_take().await, "at its share");
        let b = ShardShare::new(store.clone(), "b".into(), TIMING, 4);
        assert!(b.may_take().await);
        // A seat dropped after it was given back is not counted twice.
        drop(seats);
        assert_eq!(a.held(), 0);
        // An older instance holding every shard under the one lease: none
        // is taken beside it.
        store
            .lease_acquire(ALL_SHARDS_LEASE, "old", Duration::from_secs(10))
            .await
            .unwrap()
            .unwrap();
        tokio::time::sleep(LOOK_FRESH).await;
        assert!(!b.may_take().await);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_identify_per_bucket_per_window_across_instances() {
        let db = TestDb::new(TestBackend::Postgres).await;
        let store = db.open().await;
        let a = ShardShare::new(store.clone(), "a".into(), TIMING, 2).identify_gate();
        let b = ShardShare::new(store.clone(), "b".into(), TIMING, 2).identify_gate();
        let started = tokio::time::Instant::now();
        a(0).await;
        // Another bucket goes at once; the same bucket waits its window.
        tokio::time::timeout(Duration::from_secs(2), b(1))
            .await
            .expect("another bucket is free");
        b(0).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(4_500) && waited < Duration::from_secs(8),
            "{waited:?}"
        );
    }

    #[test]
    fn one_shard_keeps_its_lease_name_and_several_name_theirs() {
        assert_eq!(shard_lease_name(ShardId::ONE), "discord:shard:0");
        assert_eq!(shard_lease_name(ShardId::new(2, 4)), "discord:shard:2/4");
    }
}
