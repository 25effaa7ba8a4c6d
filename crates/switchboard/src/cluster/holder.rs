//! What this instance holds right now of one lease (a thread's, ADR 22),
//! for the work done under it: a [`HolderSlot`] is filled when the lease
//! is taken and emptied when it is lost or given up. Posts ask it whether they may act; the store's
//! fenced writes take their fence from it ([`HolderSlot::fence_source`]).
//!
//! Owns only the slot; it never takes or renews a lease. Judged by the
//! clock at each question ([`ActingGuard`]), so work that runs first after
//! a pause still sees that the lease may be gone.

use std::sync::{Arc, Mutex};

use super::lease::ActingGuard;
use crate::store::{Fence, FenceSource};

/// The lease held now, if any. Cheap to clone (one `Arc`).
#[derive(Clone, Debug, Default)]
pub struct HolderSlot {
    held: Arc<Mutex<Option<(ActingGuard, Fence)>>>,
}

impl HolderSlot {
    fn with<T>(&self, f: impl FnOnce(&mut Option<(ActingGuard, Fence)>) -> T) -> T {
        f(&mut self.held.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// A lease held under `guard` with `fence` is this instance's now.
    pub fn hold_parts(&self, guard: ActingGuard, fence: Fence) {
        self.with(|slot| *slot = Some((guard, fence)));
    }

    /// Nothing is held any more.
    pub fn clear(&self) {
        self.with(|slot| *slot = None);
    }

    /// The fence to write under, if this instance may act now.
    pub fn fence(&self) -> Option<Fence> {
        self.with(|slot| {
            slot.as_ref()
                .filter(|(guard, _)| guard.may_act())
                .map(|(_, fence)| fence.clone())
        })
    }

    /// The fence held, whether or not acting is still allowed (to give the
    /// lease up, or to compare tokens).
    pub fn fence_unchecked(&self) -> Option<Fence> {
        self.with(|slot| slot.as_ref().map(|(_, fence)| fence.clone()))
    }

    /// A renewal kept the lease: acting is allowed until `until`.
    pub(super) fn extend_until(&self, until: tokio::time::Instant) {
        self.with(|slot| {
            if let Some((guard, _)) = slot {
                guard.extend(until);
            }
        });
    }

    /// Whether this instance may act on the lease now.
    pub fn may_act(&self) -> bool {
        self.fence().is_some()
    }

    /// For [`crate::store::Store::fenced_by`].
    pub fn fence_source(&self) -> FenceSource {
        let slot = self.clone();
        FenceSource(Arc::new(move || slot.fence()))
    }
}
