//! Periodic store upkeep: forget processed ids, finished journal entries,
//! threads without unfinished work and cursors older than `prune_after`
//! (cursors: older than `prune_after` and `catch_up_window` both), so the
//! store does not grow with every conversation ever held.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::health::StoreHealth;
use crate::store::{Store, now_ms};

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
            Ok::<_, crate::store::StoreError>((seen, journal, threads, cursors))
        }
        .await;
        match result {
            Ok((seen, journal, threads, cursors)) => {
                tracing::debug!(seen, journal, threads, cursors, "store pruned")
            }
            Err(err) => {
                tracing::warn!(%err, "store pruning failed");
                health.record_error(&format!("prune: {err}"));
            }
        }
    }
}
