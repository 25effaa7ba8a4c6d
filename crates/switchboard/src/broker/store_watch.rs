//! Whether the store can be reached, as the intake sees it, and the probe
//! that finds out (ADR 21).
//!
//! Owns one fact and its changes: the store is *down* from the first store
//! call that could not reach it (`StoreError::is_unavailable`, or a failed
//! probe) and *up* again only when the probe succeeds. Each way back up
//! bumps a generation the intake waits on, so every bridge then fetches
//! what it turned away meanwhile. The probe runs every [`PROBE_EVERY`]
//! ([`PROBE_EVERY_DOWN`] while down), each bounded by [`PROBE_DEADLINE`],
//! on a connection of its own ([`crate::store::ReachProbe`]: a server stopped or
//! restarting fails it at once, not after the pool's acquire timeout), so
//! an outage shows within about [`PROBE_EVERY`] with no traffic at all;
//! its outcome goes to the
//! pipeline's health like any store operation's, and the pause itself
//! (with how many messages were turned away) is reported there too. Each
//! change is logged once: WARN down, INFO up with how long it lasted.
//!
//! It must never decide what happens to a message (the bridge does), and
//! never hold its lock across an await.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::test_faults::TestFaults;
use crate::health::PipelineHealth;
use crate::store::Store;

/// How often the store is probed while it is up.
pub const PROBE_EVERY: Duration = Duration::from_secs(2);
/// How often while it is down: how soon a recovery is seen.
pub const PROBE_EVERY_DOWN: Duration = Duration::from_secs(1);
/// A probe with no answer by then failed (a server that took the
/// connection and went silent; a stopped or restarting one fails at once).
pub const PROBE_DEADLINE: Duration = Duration::from_secs(5);

struct Shared {
    down: AtomicBool,
    /// When it went down (for the log line when it is back).
    since: Mutex<Option<Instant>>,
    /// How many times it came back up.
    ups: watch::Sender<u64>,
    pipeline: PipelineHealth,
}

/// Shared by the probe, every store user ([`super::durable::Durable`]) and
/// the intake. Cheap to clone.
#[derive(Clone)]
pub struct StoreWatch {
    shared: Arc<Shared>,
}

impl Default for StoreWatch {
    /// A watch reporting to a pipeline health of its own (tests).
    fn default() -> Self {
        Self::new(PipelineHealth::default())
    }
}

impl StoreWatch {
    pub fn new(pipeline: PipelineHealth) -> Self {
        Self {
            shared: Arc::new(Shared {
                down: AtomicBool::new(false),
                since: Mutex::new(None),
                ups: watch::Sender::new(0),
                pipeline,
            }),
        }
    }

    /// Where store outcomes are reported.
    pub fn pipeline(&self) -> &PipelineHealth {
        &self.shared.pipeline
    }

    /// Whether the store was found unreachable and not yet seen back.
    pub fn is_down(&self) -> bool {
        self.shared.down.load(Ordering::SeqCst)
    }

    /// A store call could not reach the store (`error` says how).
    pub fn unreachable(&self, error: &str) {
        if self.shared.down.swap(true, Ordering::SeqCst) {
            return;
        }
        *self.lock_since() = Some(Instant::now());
        self.shared.pipeline.intake_paused(true);
        tracing::warn!(%error, "store unreachable: the intake pauses (messages are turned away, not acknowledged, and fetched again once it is back)");
    }

    /// The probe reached the store.
    fn reachable(&self) {
        if !self.shared.down.swap(false, Ordering::SeqCst) {
            return;
        }
        let down_for = self.lock_since().take().map(|at| at.elapsed());
        self.shared.pipeline.intake_paused(false);
        tracing::info!(
            down_ms = down_for.map_or(0, |d| d.as_millis() as u64),
            "store reachable again: the intake resumes and catches up on what it turned away"
        );
        self.shared.ups.send_modify(|ups| *ups += 1);
    }

    /// One message was turned away (counted for /status and /readyz).
    pub fn turned_away(&self) {
        self.shared.pipeline.turned_away();
    }

    /// Changes each time the store comes back up.
    pub fn ups(&self) -> watch::Receiver<u64> {
        self.shared.ups.subscribe()
    }

    /// Wait until the store is up (at once if it is).
    pub async fn wait_up(&self) {
        let mut ups = self.ups();
        while self.is_down() {
            // The sender lives as long as `self`: this never errs.
            if ups.changed().await.is_err() {
                return;
            }
        }
    }

    fn lock_since(&self) -> std::sync::MutexGuard<'_, Option<Instant>> {
        self.shared.since.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Probe `store` until shutdown, telling `watch` what it finds. An armed
/// `store_fail` test fault fails the probe too (the store "fails from now
/// on").
pub async fn probe(
    store: Store,
    watch: StoreWatch,
    faults: TestFaults,
    shutdown: CancellationToken,
) {
    let mut reach = store.reach_probe();
    loop {
        let every = if watch.is_down() {
            PROBE_EVERY_DOWN
        } else {
            PROBE_EVERY
        };
        let answer = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            answer = async {
                tokio::time::sleep(every).await;
                tokio::time::timeout(PROBE_DEADLINE, reach.check()).await
            } => answer,
        };
        let failure = match answer {
            Ok(Ok(())) if faults.store_failing() => Some("injected test fault".to_owned()),
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(err.to_string()),
            Err(_) => Some(format!("no answer within {PROBE_DEADLINE:?}")),
        };
        match failure {
            None => {
                watch.pipeline().store_outcome(None);
                watch.reachable();
            }
            Some(err) => {
                let error = format!("probe: {err}");
                watch.pipeline().store_outcome(Some(&error));
                watch.unreachable(&error);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn down_until_the_probe_finds_it_up_and_each_return_is_announced() {
        let watch = StoreWatch::default();
        let mut ups = watch.ups();
        watch.wait_up().await;
        watch.unreachable("pool timed out");
        watch.unreachable("pool timed out again");
        assert!(watch.is_down());
        assert!(watch.pipeline().figures().intake_paused);
        let waiter = tokio::spawn({
            let watch = watch.clone();
            async move { watch.wait_up().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "waits while down");
        watch.reachable();
        waiter.await.unwrap();
        assert!(!watch.is_down());
        assert!(!watch.pipeline().figures().intake_paused);
        ups.changed().await.unwrap();
        assert_eq!(*ups.borrow_and_update(), 1);
        watch.reachable();
        assert!(!ups.has_changed().unwrap(), "up while up is no return");
    }

    #[tokio::test]
    async fn the_probe_notices_an_unreachable_store_and_its_return() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let watch = StoreWatch::default();
        let shutdown = CancellationToken::new();
        // A closed store fails every call, as an unreachable one does.
        store.close().await;
        let task = tokio::spawn(probe(
            store.clone(),
            watch.clone(),
            TestFaults::default(),
            shutdown.clone(),
        ));
        let deadline = PROBE_EVERY * 3;
        tokio::time::timeout(deadline, async {
            while !watch.is_down() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the probe finds the store unreachable");
        let reasons = watch.pipeline().unready_reasons();
        assert!(
            reasons.iter().any(|r| r.starts_with("store: failing")),
            "{reasons:?}"
        );
        shutdown.cancel();
        task.await.unwrap();
    }
}
