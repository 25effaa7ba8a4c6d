//! What the Socket Mode connection slots of one app share: the recent
//! `event_id`s (Slack may redeliver an envelope on another connection),
//! how many slots are live (have a connection that said `hello`), and the
//! newest session renewal whose new session was announced.
//!
//! Plain shared bookkeeping: never awaits, and never holds its lock longer
//! than one set operation.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::chat::recent_ids::RecentIds;

/// How many recent event ids are remembered. Slack redelivers an
/// unacknowledged envelope a few times within minutes; far fewer events
/// than this arrive in that time on one app.
pub const RECENT_EVENT_IDS: usize = 10_000;

/// Shared by every slot of one Slack app. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SlotsShared {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    seen: Mutex<RecentIds>,
    live: AtomicUsize,
    /// The renewal generation (see `delivery::SessionRenewal`) the last
    /// announced session belongs to.
    announced: AtomicU64,
}

impl Default for SlotsShared {
    fn default() -> Self {
        Self::new(RECENT_EVENT_IDS)
    }
}

impl SlotsShared {
    /// Remembers up to `capacity` event ids (at least one).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                seen: Mutex::new(RecentIds::new(capacity.max(1))),
                live: AtomicUsize::new(0),
                announced: AtomicU64::new(0),
            }),
        }
    }

    /// `true` the first time `event_id` is offered by any slot (within the
    /// window of recent ids).
    pub fn first_sighting(&self, event_id: &str) -> bool {
        self.inner
            .seen
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .first_sighting(event_id)
    }

    /// Forget `event_id`: its envelope was not acked, and the redelivery
    /// must be taken, not dropped as a duplicate.
    pub fn forget(&self, event_id: &str) {
        self.inner
            .seen
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .forget(event_id);
    }

    /// Mark one slot live until the returned guard drops. `generation` is
    /// the session renewal the slot's run was started under. `first` says
    /// that a new session begins: no slot was live just before (so events
    /// may have been missed), or this is the first slot live since a
    /// renewal (the others may still be closing their old links), once
    /// per renewal.
    pub fn go_live(&self, generation: u64) -> LiveSlot {
        let before = self.inner.live.fetch_add(1, Ordering::SeqCst);
        let renewed = self.inner.announced.fetch_max(generation, Ordering::SeqCst) < generation;
        LiveSlot {
            shared: self.clone(),
            first: before == 0 || renewed,
        }
    }

    /// How many slots are live now.
    pub fn live_slots(&self) -> usize {
        self.inner.live.load(Ordering::SeqCst)
    }
}

/// One live slot; counted until dropped.
#[derive(Debug)]
pub struct LiveSlot {
    shared: SlotsShared,
    /// No other slot was live when this one went live.
    pub first: bool,
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        self.shared.inner.live.fetch_sub(1, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_id_is_new_once_across_clones_and_old_ids_are_forgotten() {
        let a = SlotsShared::new(2);
        let b = a.clone();
        assert!(a.first_sighting("Ev1"));
        assert!(!b.first_sighting("Ev1"), "another slot saw it");
        assert!(b.first_sighting("Ev2"));
        assert!(a.first_sighting("Ev3"), "forgets Ev1");
        assert!(!a.first_sighting("Ev2"));
        assert!(a.first_sighting("Ev1"));
    }

    #[test]
    fn only_the_slot_that_goes_live_with_none_live_is_first() {
        let shared = SlotsShared::default();
        let one = shared.go_live(0);
        assert!(one.first);
        let two = shared.go_live(0);
        assert!(!two.first);
        assert_eq!(shared.live_slots(), 2);
        drop(one);
        let again = shared.go_live(0);
        assert!(!again.first, "slot two stayed live meanwhile");
        drop(two);
        drop(again);
        assert_eq!(shared.live_slots(), 0);
        assert!(shared.go_live(0).first);
    }

    #[test]
    fn after_a_renewal_the_first_slot_live_starts_the_session_once() {
        let shared = SlotsShared::default();
        let old = shared.go_live(0);
        assert!(old.first);
        // Renewal 1: a slot live again while the other still closes.
        let renewed = shared.go_live(1);
        assert!(renewed.first, "a new session, though a slot was live");
        drop(old);
        let other = shared.go_live(1);
        assert!(!other.first, "one announcement per renewal");
        assert!(!shared.go_live(0).first, "a run from before the renewal");
    }
}
