//! A lease this instance holds, renewed in the background, and the signal
//! to stop acting on it before anyone else may take it.
//!
//! The database judges expiry on its own clock; this side judges when to
//! stop on its own monotonic clock, conservatively: a renewal *sent* at `t`
//! extends the lease to at least `t + ttl` in the database (the database
//! reads its clock after `t`), so acting until `t + ttl - ttl/5` never
//! outlives the lease, whatever the two clocks say, unless a clock runs a
//! fifth faster than the other. When a renewal is refused (the lease was
//! taken) or no renewal succeeds in time (the database is unreachable, or
//! this process was paused), [`HeldLease::lost`] fires: the holder must
//! stop. What it still writes in flight carries the [`Fence`], which the
//! database refuses once another holder has the lease.
//!
//! Owns the renewal task; dropping a [`HeldLease`] stops it, fires `lost`
//! and gives the lease up in the background (a clean hand-over instead of
//! waiting out the ttl). It must never act on the lease itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::store::{Fence, Store, StoreError};

/// A release gives up after this; past it the lease simply expires.
const RELEASE_WITHIN: Duration = Duration::from_secs(2);

/// How long leases last and how they are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseTiming {
    pub ttl: Duration,
}

impl LeaseTiming {
    /// A renewal is sent every third of the ttl: two may fail before the
    /// holder must stop.
    pub fn renew_every(&self) -> Duration {
        self.ttl / 3
    }

    /// How long after a successful renewal was sent this holder may act.
    pub fn acting_window(&self) -> Duration {
        self.ttl - self.ttl / 5
    }
}

/// Whether this instance may still act on a lease, judged by the clock at
/// the moment of asking: true only before the end of the acting window of
/// the last renewal that succeeded. Unlike [`HeldLease::lost`], which the
/// renewal task fires when it runs, this is right even in the first
/// instant after a pause (SIGSTOP, a stalled runtime): every task that
/// asks sees the window has passed, whatever ran first.
#[derive(Clone, Debug)]
pub struct ActingGuard {
    /// The reference instant of `until_ms`.
    base: Instant,
    /// Milliseconds after `base` until which acting is allowed (0: never).
    until_ms: Arc<AtomicU64>,
}

impl ActingGuard {
    pub(super) fn new(until: Instant) -> ActingGuard {
        let base = Instant::now();
        let guard = ActingGuard {
            base,
            until_ms: Arc::new(AtomicU64::new(0)),
        };
        guard.extend(until);
        guard
    }

    /// A guard that never allows acting (no lease held).
    pub fn never() -> ActingGuard {
        ActingGuard {
            base: Instant::now(),
            until_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    pub(super) fn extend(&self, until: Instant) {
        let ms = until.saturating_duration_since(self.base).as_millis();
        self.until_ms
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Release);
    }

    pub(super) fn end(&self) {
        self.until_ms.store(0, Ordering::Release);
    }

    /// Whether acting on the lease is allowed now.
    pub fn may_act(&self) -> bool {
        let until = self.until_ms.load(Ordering::Acquire);
        until > 0 && self.base + Duration::from_millis(until) > Instant::now()
    }
}

/// A lease held by this instance.
pub struct HeldLease {
    fence: Fence,
    store: Store,
    lost: CancellationToken,
    guard: ActingGuard,
    renewer: JoinHandle<()>,
    released: bool,
}

impl HeldLease {
    /// Take `name` for `holder` if it is free or expired: the held lease,
    /// renewing from now on, or `None` while another holder's runs (or
    /// when the database answered too late to act on it: given back).
    pub async fn try_take(
        store: &Store,
        name: &str,
        holder: &str,
        timing: LeaseTiming,
    ) -> Result<Option<HeldLease>, StoreError> {
        let Some((fence, guard)) = acquire_in_time(store, name, holder, timing).await? else {
            return Ok(None);
        };
        let token = fence.token;
        let lost = CancellationToken::new();
        let renewer = tokio::spawn(keep(
            store.clone(),
            fence.clone(),
            timing,
            guard.clone(),
            lost.clone(),
        ));
        tracing::info!(lease = %name, holder = %holder, token, "lease taken");
        Ok(Some(HeldLease {
            fence,
            store: store.clone(),
            lost,
            guard,
            renewer,
            released: false,
        }))
    }

    /// What every write under this lease carries.
    pub fn fence(&self) -> &Fence {
        &self.fence
    }

    /// Resolves when this instance must stop acting on the lease.
    pub async fn lost(&self) {
        self.lost.cancelled().await;
    }

    /// A token cancelled when the lease is lost (for tasks that outlive a
    /// borrow of this).
    pub fn lost_token(&self) -> CancellationToken {
        self.lost.clone()
    }

    /// Whether this instance must stop acting on the lease.
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled() || !self.guard.may_act()
    }

    /// The clock-judged guard, for work that must check before each act.
    pub fn guard(&self) -> ActingGuard {
        self.guard.clone()
    }

    /// Stop acting and give the lease up now, so another instance may take
    /// it at once (bounded: 2 s; past that it simply expires).
    pub async fn release(mut self) {
        self.released = true;
        self.renewer.abort();
        self.guard.end();
        self.lost.cancel();
        let released =
            tokio::time::timeout(RELEASE_WITHIN, self.store.lease_release(&self.fence)).await;
        tracing::info!(lease = %self.fence.lease, token = self.fence.token, ?released, "lease released");
    }
}

/// Take `name` for `holder` if it is free or expired: its fence and the
/// guard of the acting window counted from when the request was sent, or
/// `None` while another holder's runs. A grant that came after that window
/// (the database slow or just back: the pool waited for a connection) may
/// not be acted on from its first instant, so it is given back, not held:
/// holding it would announce a takeover and a loss at once.
pub(super) async fn acquire_in_time(
    store: &Store,
    name: &str,
    holder: &str,
    timing: LeaseTiming,
) -> Result<Option<(Fence, ActingGuard)>, StoreError> {
    let sent = Instant::now();
    let Some(token) = store.lease_acquire(name, holder, timing.ttl).await? else {
        return Ok(None);
    };
    let fence = Fence {
        lease: name.to_owned(),
        holder: holder.to_owned(),
        token,
    };
    let guard = ActingGuard::new(sent + timing.acting_window());
    if !guard.may_act() {
        let took_ms = sent.elapsed().as_millis() as u64;
        tracing::warn!(lease = %name, token, took_ms, "lease taken too late to act on (the database answered after the acting window); giving it back");
        let _ = tokio::time::timeout(RELEASE_WITHIN, store.lease_release(&fence)).await;
        return Ok(None);
    }
    Ok(Some((fence, guard)))
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        self.renewer.abort();
        self.guard.end();
        self.lost.cancel();
        if self.released {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = self.store.clone();
            let fence = self.fence.clone();
            runtime.spawn(async move {
                let _ = tokio::time::timeout(RELEASE_WITHIN, store.lease_release(&fence)).await;
            });
        }
    }
}

/// Renew `fence` every `renew_every` until it is refused or no renewal
/// succeeded before `acting_until`; then fire `lost`.
async fn keep(
    store: Store,
    fence: Fence,
    timing: LeaseTiming,
    guard: ActingGuard,
    lost: CancellationToken,
) {
    let mut acting_until =
        guard.base + Duration::from_millis(guard.until_ms.load(Ordering::Acquire));
    let mut next = Instant::now() + timing.renew_every();
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(acting_until) => {
                tracing::warn!(lease = %fence.lease, token = fence.token, "lease not renewed in time (database unreachable or this process stalled); stopped acting on it before it can expire");
                guard.end();
                lost.cancel();
                return;
            }
            () = tokio::time::sleep_until(next) => {}
        }
        let sent = Instant::now();
        let renewed = tokio::select! {
            renewed = store.lease_renew(&fence, timing.ttl) => renewed,
            () = tokio::time::sleep_until(acting_until) => continue,
        };
        match renewed {
            Ok(true) => {
                acting_until = sent + timing.acting_window();
                guard.extend(acting_until);
                next = sent + timing.renew_every();
            }
            Ok(false) => {
                tracing::warn!(lease = %fence.lease, token = fence.token, "lease taken over by another instance or expired; stopped acting on it");
                guard.end();
                lost.cancel();
                return;
            }
            Err(err) => {
                tracing::warn!(lease = %fence.lease, %err, "lease renewal failed; retrying");
                next = Instant::now() + timing.renew_every() / 4;
            }
        }
    }
}

#[cfg(test)]
#[path = "lease_tests.rs"]
mod tests;
