//! The periodic INFO line per connection: state, last ACK age, and what
//! happened since the previous line. Operators read it to know the bridge is
//! alive without scraping metrics.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::health::ConnectionHealth;

/// Log one summary line every `every` until shutdown.
pub async fn log_summaries(health: ConnectionHealth, every: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await; // the first tick is immediate; there is nothing to say yet
    let first = health.snapshot();
    let (mut events_seen, mut reconnects_seen) = (first.events_total, first.reconnects_total);
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let snap = health.snapshot();
        tracing::info!(
            platform = snap.platform,
            connection = %snap.name,
            state = snap.state.name(),
            healthy = snap.is_healthy(),
            last_ack_age_ms = snap.last_ack_age.map(|d| d.as_millis() as u64),
            events = snap.events_total - events_seen,
            reconnects = snap.reconnects_total - reconnects_seen,
            "connection summary"
        );
        events_seen = snap.events_total;
        reconnects_seen = snap.reconnects_total;
    }
}
