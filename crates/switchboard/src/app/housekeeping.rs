//! Periodic store upkeep: forget processed ids and finished journal entries
//! older than `prune_after`.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::health::StoreHealth;
use crate::store::{Store, now_ms};

/// How often pruning runs (and once at start).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

pub(super) async fn prune(
    store: Store,
    prune_after: Duration,
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
        let cutoff = now_ms() - i64::try_from(prune_after.as_millis()).unwrap_or(i64::MAX);
        let seen = store.prune_seen(cutoff).await;
        let journal = store.prune_journal(cutoff).await;
        match (seen, journal) {
            (Ok(seen), Ok(journal)) => tracing::debug!(seen, journal, "store pruned"),
            (Err(err), _) | (_, Err(err)) => {
                tracing::warn!(%err, "store pruning failed");
                health.record_error(&format!("prune: {err}"));
            }
        }
    }
}
