//! [`SlotLease`]: a busy pool slot as a value. Whoever holds it holds the
//! slot; it ends either by [`SlotLease::checkin`] (the session stays, idle)
//! or by being dropped (the slot is freed and a waiting checkout wakes).
//!
//! Owns: the one way a busy slot ends. Must never: free a slot it does not
//! hold (each lease has its own number), or block in `Drop` beyond the
//! pool's short, never-awaited lock.

use std::sync::Arc;

use super::{PooledSession, SessionPool};

/// The outcome of a checkout: the lease on the thread's slot, and the
/// thread's live session if it has one (`None`: a new thread, or the old
/// session died or was evicted, so start one).
pub struct Checkout<S: PooledSession> {
    pub lease: SlotLease<S>,
    pub session: Option<S>,
}

/// A busy slot. Dropped without [`SlotLease::checkin`] (a failed start, a
/// dead agent, a turn cancelled or dropped at any point, a panic), it frees
/// the slot.
#[must_use = "dropping the lease frees the slot at once"]
pub struct SlotLease<S: PooledSession> {
    pool: Arc<SessionPool<S>>,
    key: String,
    pub(super) number: u64,
    /// Cleared once the slot has been handed back by `checkin`.
    held: bool,
}

impl<S: PooledSession> SlotLease<S> {
    pub(super) fn new(pool: Arc<SessionPool<S>>, key: &str, number: u64) -> Self {
        Self {
            pool,
            key: key.to_owned(),
            number,
            held: true,
        }
    }

    /// The thread whose slot this is.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// End the lease with a live session: the slot becomes idle and keeps
    /// it for the thread's next turn.
    pub fn checkin(mut self, session: S) {
        self.held = false;
        self.pool.put_idle(&self.key, self.number, session);
    }

    /// End the lease without a session (it failed to start or died); the
    /// same as dropping it, said out loud.
    pub fn release(self) {}
}

impl<S: PooledSession> Drop for SlotLease<S> {
    fn drop(&mut self) {
        if self.held {
            self.pool.free(&self.key, self.number);
        }
    }
}

impl<S: PooledSession> std::fmt::Debug for SlotLease<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotLease")
            .field("key", &self.key)
            .field("number", &self.number)
            .field("held", &self.held)
            .finish()
    }
}
