//! The threads this instance owns (issue 14, point 5; ADR 22): one lease
//! per thread (`thread:<platform>:<thread id>`), all renewed by one
//! statement every ttl/3.
//!
//! Owns the map of held threads, each with its [`HolderSlot`] (a guard
//! judged by the clock, extended by every renewal that kept the thread,
//! and the fence its writes carry), the renewal loop, and what the bridges
//! must learn from it: threads another instance placed on this one (in a
//! renewal's answer and not in the map) and threads lost (in the map and
//! not in the answer). Claims and renewals run one at a time, so a renewal
//! never mistakes a thread claimed meanwhile for lost or placed. It must
//! never decide which instance should own a thread (the bridge places) and
//! never touch a platform.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::holder::HolderSlot;
use super::lease::{ActingGuard, LeaseTiming, acquire_in_time};
use crate::store::{Fence, LeaseRecord, Store, StoreError, THREAD_LEASE_PREFIX, thread_lease_name};

/// At most this many threads are held at once; a claim beyond it is
/// refused (the message stays journaled for an instance with room).
pub const MAX_OWNED_THREADS: usize = 50_000;

/// The threads of this instance. Cheap to clone (one `Arc`).
#[derive(Clone)]
pub struct ThreadOwners {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    instance: String,
    timing: LeaseTiming,
    /// Lease name -> the thread's slot.
    held: Mutex<HashMap<String, HolderSlot>>,
    /// Claims, let-gos and renewals, one at a time.
    ops: tokio::sync::Mutex<()>,
    /// What the bridges have not taken yet: lease names placed and lost.
    changes: Mutex<Changes>,
    changed: Notify,
}

#[derive(Default)]
struct Changes {
    placed: BTreeSet<String>,
    lost: BTreeSet<String>,
}

/// One platform's threads gained and lost since it last asked.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OwnerChanges {
    /// Placed on this instance by another: take up their journal entries.
    pub placed: Vec<String>,
    /// No longer this instance's: stop acting on them.
    pub lost: Vec<String>,
}

impl std::fmt::Debug for ThreadOwners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadOwners")
            .field("instance", &self.inner.instance)
            .field("held", &self.held_count())
            .finish()
    }
}

impl ThreadOwners {
    pub fn new(store: Store, instance: String, timing: LeaseTiming) -> ThreadOwners {
        ThreadOwners {
            inner: Arc::new(Inner {
                store,
                instance,
                timing,
                held: Mutex::default(),
                ops: tokio::sync::Mutex::new(()),
                changes: Mutex::default(),
                changed: Notify::new(),
            }),
        }
    }

    /// This instance's id (the holder of its leases).
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, HolderSlot>> {
        self.inner.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many threads this instance holds.
    pub fn held_count(&self) -> usize {
        self.held().len()
    }

    /// The ids of `platform`'s threads this instance holds.
    pub fn held_threads(&self, platform: &str) -> Vec<String> {
        let prefix = format!("{THREAD_LEASE_PREFIX}{platform}:");
        self.held()
            .keys()
            .filter_map(|name| name.strip_prefix(&prefix).map(str::to_owned))
            .collect()
    }

    /// The slot of a thread this instance holds (its posts and writes ask
    /// it before acting), or `None`.
    pub fn slot(&self, platform: &str, thread_id: &str) -> Option<HolderSlot> {
        self.held()
            .get(&thread_lease_name(platform, thread_id))
            .cloned()
    }

    /// Whether this instance holds the thread and may act on it now.
    pub fn may_act(&self, platform: &str, thread_id: &str) -> bool {
        self.slot(platform, thread_id)
            .is_some_and(|slot| slot.may_act())
    }

    /// Take the thread for this instance if nobody holds it (or this
    /// instance does already): `true` when it is held now.
    pub async fn claim(&self, platform: &str, thread_id: &str) -> Result<bool, StoreError> {
        let name = thread_lease_name(platform, thread_id);
        let _one_at_a_time = self.inner.ops.lock().await;
        if self.held().contains_key(&name) {
            return Ok(true);
        }
        if self.held_count() >= MAX_OWNED_THREADS {
            tracing::warn!(
                thread = thread_id,
                held = MAX_OWNED_THREADS,
                "this instance holds as many threads as it may; another instance takes this one"
            );
            return Ok(false);
        }
        let inner = &self.inner;
        let acquired = acquire_in_time(&inner.store, &name, &inner.instance, inner.timing).await?;
        let Some((fence, guard)) = acquired else {
            return Ok(false);
        };
        self.hold(fence, guard);
        Ok(true)
    }

    /// Take the thread for instance `owner` if nobody holds it: `true` if
    /// it is `owner`'s now (it learns so at its next renewal).
    pub async fn place(
        &self,
        platform: &str,
        thread_id: &str,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let name = thread_lease_name(platform, thread_id);
        let ttl = self.inner.timing.ttl;
        Ok(self
            .inner
            .store
            .lease_acquire(&name, owner, ttl)
            .await?
            .is_some())
    }

    /// Who holds the thread now (an unexpired lease), if anyone.
    pub async fn owner(
        &self,
        platform: &str,
        thread_id: &str,
    ) -> Result<Option<LeaseRecord>, StoreError> {
        let name = thread_lease_name(platform, thread_id);
        let lease = self.inner.store.lease(&name).await?;
        Ok(lease.filter(|lease| lease.expires_in_ms > 0))
    }

    /// Give the thread up (its actor ended with nothing to do): the next
    /// message in it is placed afresh.
    pub async fn let_go(&self, platform: &str, thread_id: &str) {
        let name = thread_lease_name(platform, thread_id);
        let _one_at_a_time = self.inner.ops.lock().await;
        let Some(slot) = self.held().remove(&name) else {
            return;
        };
        let fence = slot.fence_unchecked();
        slot.clear();
        if let Some(fence) = fence {
            let released = tokio::time::timeout(
                Duration::from_secs(2),
                self.inner.store.lease_release(&fence),
            )
            .await;
            tracing::debug!(thread = thread_id, ?released, "thread let go");
        }
    }

    /// Give every thread up (shutdown, after the turns drained): other
    /// instances take up what is unfinished at their next poll instead of
    /// after the ttl. Bounded: 2 s per thread at most, 5 s in all.
    pub async fn release_all(&self) {
        let _one_at_a_time = self.inner.ops.lock().await;
        let slots: Vec<HolderSlot> = self.held().drain().map(|(_, slot)| slot).collect();
        let store = &self.inner.store;
        let release = async {
            for slot in &slots {
                let fence = slot.fence_unchecked();
                slot.clear();
                if let Some(fence) = fence {
                    let _ =
                        tokio::time::timeout(Duration::from_secs(2), store.lease_release(&fence))
                            .await;
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), release).await;
        if !slots.is_empty() {
            tracing::info!(threads = slots.len(), "threads given up at shutdown");
        }
    }

    /// The changes of `platform`'s threads since it last asked.
    pub fn take_changes(&self, platform: &str) -> OwnerChanges {
        let prefix = format!("{THREAD_LEASE_PREFIX}{platform}:");
        let mut changes = self.inner.changes.lock().unwrap_or_else(|e| e.into_inner());
        let take = |set: &mut BTreeSet<String>| -> Vec<String> {
            let mine: Vec<String> = set
                .iter()
                .filter(|name| name.starts_with(&prefix))
                .cloned()
                .collect();
            for name in &mine {
                set.remove(name);
            }
            mine.into_iter()
                .map(|name| name[prefix.len()..].to_owned())
                .collect()
        };
        let placed = take(&mut changes.placed);
        let lost = take(&mut changes.lost);
        OwnerChanges { placed, lost }
    }

    /// Resolves when there are changes to take (at once if some are
    /// waiting since the last notification).
    pub async fn changed(&self) {
        self.inner.changed.notified().await;
    }

    fn hold(&self, fence: Fence, guard: ActingGuard) {
        let slot = HolderSlot::default();
        let name = fence.lease.clone();
        slot.hold_parts(guard, fence);
        if let Some(old) = self.held().insert(name, slot) {
            old.clear();
        }
    }

    /// Renew every held thread every ttl/3 until `stop`, and let the
    /// bridges know what changed.
    pub async fn run(self, stop: CancellationToken) {
        let every = self.inner.timing.renew_every();
        loop {
            let wait = match self.renew_once().await {
                Ok(()) => every,
                Err(err) => {
                    tracing::warn!(%err, "renewing this instance's threads failed; retrying (each stops acting when its lease may have expired)");
                    every / 4
                }
            };
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One renewal of every thread held (and learning the placed ones).
    pub async fn renew_once(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let _one_at_a_time = inner.ops.lock().await;
        let sent = Instant::now();
        let renewed = inner
            .store
            .leases_renew_all(&inner.instance, THREAD_LEASE_PREFIX, inner.timing.ttl)
            .await?;
        let until = sent + inner.timing.acting_window();
        let renewed: HashMap<String, i64> = renewed.into_iter().collect();
        let (mut placed, mut lost) = (Vec::new(), Vec::new());
        {
            let mut held = self.held();
            held.retain(|name, slot| {
                let kept = renewed
                    .get(name)
                    .is_some_and(|token| slot.fence_unchecked().is_some_and(|f| f.token == *token));
                if kept {
                    slot.extend_until(until);
                } else {
                    slot.clear();
                    lost.push(name.clone());
                }
                kept
            });
            for (name, token) in &renewed {
                if !held.contains_key(name) && held.len() < MAX_OWNED_THREADS {
                    placed.push((name.clone(), *token));
                }
            }
        }
        for (name, token) in &placed {
            let fence = Fence {
                lease: name.clone(),
                holder: inner.instance.clone(),
                token: *token,
            };
            self.hold(fence, ActingGuard::new(until));
        }
        if placed.is_empty() && lost.is_empty() {
            return Ok(());
        }
        if !lost.is_empty() {
            tracing::warn!(
                threads = lost.len(),
                "threads no longer this instance's (taken over or expired); stopped acting on them"
            );
        }
        {
            let mut changes = inner.changes.lock().unwrap_or_else(|e| e.into_inner());
            changes
                .placed
                .extend(placed.into_iter().map(|(name, _)| name));
            for name in lost {
                changes.placed.remove(&name);
                changes.lost.insert(name);
            }
        }
        inner.changed.notify_one();
        Ok(())
    }
}

#[cfg(test)]
#[path = "thread_owners_tests.rs"]
mod tests;
