//! Periodic store upkeep: forget processed ids, finished journal entries,
//! threads without unfinished work and cursors older than `prune_after`
//! (cursors: older than `prune_after` and `catch_up_window` both) and
//! threads' leases expired that long, and clicks left for a thread's owner
//! for an hour (ADR 22), so the
//! store does not grow with every conversation ever held.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::health::StoreHealth;
use crate::store::{Store, now_ms};

/// Clicks and commands left for a thread's owner that nobody took are
/// kept this long (a click older than that is of no use).
const FORWARDED_KEPT: Duration = Duration::from_secs(3600);

/// How often pruning runs (and once at start).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub(super) async fn prune(
    store: Store,
    prune_after: Duration,
    catch_up_window: Duration,
    health: StoreHealth,
    shutdown: CancellationToken,
) {
    let mut ticker = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let before = |age: Duration| now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
        let cutoff = before(prune_after);
        let result = async {
            let seen = store.prune_seen(cutoff).await?;
            let journal = store.prune_journal(cutoff).await?;
            let threads = store.prune_threads(cutoff).await?;
            let cursors = store
                .prune_cursors(before(prune_after.max(catch_up_window)))
                .await?;
            let leases = store.prune_thread_leases(prune_after).await?
                + store.prune_forwarded_inputs(before(FORWARDED_KEPT)).await?;
            Ok::<_, crate::store::StoreError>((seen, journal, threads, cursors, leases))
        }
        .await;
        match result {
            Ok((seen, journal, threads, cursors, leases)) => {
                tracing::debug!(seen, journal, threads, cursors, leases, "store pruned")
            }
            Err(err) => {
                tracing::warn!(%err, "store pruning failed");
                health.record_error(&format!("prune: {err}"));
            }
        }
    }
}
