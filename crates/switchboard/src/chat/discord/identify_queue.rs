//! The identify queue the shards of this process share: twilight's
//! `InMemoryQueue` (Discord's pacing: `max_concurrency` identifies per 5 s,
//! bucket = shard id % max_concurrency, and the daily budget), wrapped so a
//! shard's watchdog can tell "waiting for my turn to identify" from "the
//! gateway does not answer". Time in the queue is not handshake time: with
//! one identify per 5 s, shard 3 of 4 waits 15 s, the default
//! `handshake_timeout`, and would be dropped as a zombie and queued again
//! at the back, over and over.
//!
//! With shards spread over several instances (ADR 24) a permit also waits
//! for the bot-wide gate of its bucket (`shard % max_concurrency`), which
//! the app builds on the shared store: the pacing holds across processes.
//!
//! Owns the count of pending requests per shard. It must never grant an
//! identify itself: every permit is `InMemoryQueue`'s (and the gate's), and
//! a request whose shard gave up is dropped before its permit is spent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::future::BoxFuture;
use tokio::sync::oneshot;
use twilight_gateway::queue::{InMemoryQueue, Queue};

/// Resolves when the bucket (the argument) may identify, bot-wide.
pub type IdentifyGate = Arc<dyn Fn(u32) -> BoxFuture<'static, ()> + Send + Sync>;

/// Cheap to clone; every clone shares the queue and the counts.
#[derive(Clone, Default)]
pub struct IdentifyQueue {
    inner: InMemoryQueue,
    /// Identifies per 5 s: a shard's bucket is its number modulo this.
    max_concurrency: u32,
    /// The bot-wide gate (several instances), passed after the permit.
    gate: Option<IdentifyGate>,
    /// Shard number -> requests not granted yet (a reconnect may ask again
    /// before its dropped request is cleared).
    waiting: Arc<Mutex<HashMap<u32, usize>>>,
}

impl std::fmt::Debug for IdentifyQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdentifyQueue")
            .field("max_concurrency", &self.max_concurrency)
            .field("gated", &self.gate.is_some())
            .finish_non_exhaustive()
    }
}

impl IdentifyQueue {
    pub fn new(inner: InMemoryQueue, max_concurrency: u32) -> Self {
        Self {
            inner,
            max_concurrency,
            gate: None,
            waiting: Arc::default(),
        }
    }

    /// Every permit also waits for `gate` (its bucket's turn bot-wide).
    pub fn with_gate(mut self, gate: IdentifyGate) -> Self {
        self.gate = Some(gate);
        self
    }

    /// Whether `shard` is waiting for its turn to identify.
    pub fn is_waiting(&self, shard: u32) -> bool {
        self.counts().get(&shard).is_some_and(|n| *n > 0)
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, HashMap<u32, usize>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Queue for IdentifyQueue {
    fn enqueue(&self, shard: u32) -> oneshot::Receiver<()> {
        let permit = self.inner.enqueue(shard);
        *self.counts().entry(shard).or_default() += 1;
        let (mut tx, rx) = oneshot::channel();
        let queue = self.clone();
        let bucket = shard % self.max_concurrency.max(1);
        tokio::spawn(async move {
            // A shard that dropped its receiver (its connection ended) lets
            // go of the request, so InMemoryQueue skips it.
            let mut granted = tokio::select! {
                permit = permit => permit.is_ok(),
                () = tx.closed() => false,
            };
            if granted && let Some(gate) = &queue.gate {
                granted = tokio::select! {
                    () = gate(bucket) => true,
                    () = tx.closed() => false,
                };
            }
            {
                let mut counts = queue.counts();
                if let Some(n) = counts.get_mut(&shard) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        counts.remove(&shard);
                    }
                }
            }
            if granted {
                let _ = tx.send(());
            }
            // Not granted: dropping `tx` tells the shard to queue again.
        });
        rx
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_shard_is_waiting_until_its_permit_comes() {
        let queue = IdentifyQueue::new(
            InMemoryQueue::new(1, 1000, Duration::from_secs(86_400), 1000),
            1,
        );
        let first = queue.enqueue(0);
        let second = queue.enqueue(1);
        first.await.expect("the first goes at once");
        tokio::task::yield_now().await;
        assert!(!queue.is_waiting(0));
        assert!(queue.is_waiting(1), "one identify per 5 s");
        let started = tokio::time::Instant::now();
        second.await.expect("then the second");
        assert!(started.elapsed() >= Duration::from_millis(4_900));
        tokio::task::yield_now().await;
        assert!(!queue.is_waiting(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_given_up_is_no_longer_waiting() {
        let queue = IdentifyQueue::new(
            InMemoryQueue::new(1, 1000, Duration::from_secs(86_400), 1000),
            1,
        );
        queue.enqueue(0).await.unwrap();
        let given_up = queue.enqueue(1);
        tokio::task::yield_now().await;
        assert!(queue.is_waiting(1));
        drop(given_up);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!queue.is_waiting(1));
    }
}
