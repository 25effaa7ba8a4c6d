//! The identify queue the shards of this process share: twilight's
//! `InMemoryQueue` (Discord's pacing: `max_concurrency` identifies per 5 s,
//! bucket = shard id % max_concurrency, and the daily budget), wrapped so a
//! shard's watchdog can tell "waiting for my turn to identify" from "the
//! gateway does not answer". Time in the queue is not handshake time: with
//! one identify per 5 s, shard 3 of 4 waits 15 s, the default
//! `handshake_timeout`, and would be dropped as a zombie and queued again
//! at the back, over and over.
//!
//! Owns the count of pending requests per shard. It must never grant an
//! identify itself: every permit is `InMemoryQueue`'s, and a request whose
//! shard gave up is dropped before its permit is spent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::oneshot;
use twilight_gateway::queue::{InMemoryQueue, Queue};

/// Cheap to clone; every clone shares the queue and the counts.
#[derive(Clone, Debug, Default)]
pub struct IdentifyQueue {
    inner: InMemoryQueue,
    /// Shard number -> requests not granted yet (a reconnect may ask again
    /// before its dropped request is cleared).
    waiting: Arc<Mutex<HashMap<u32, usize>>>,
}

impl IdentifyQueue {
    pub fn new(inner: InMemoryQueue) -> Self {
        Self {
            inner,
            waiting: Arc::default(),
        }
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
        tokio::spawn(async move {
            // A shard that dropped its receiver (its connection ended) lets
            // go of the request, so InMemoryQueue skips it.
            let granted = tokio::select! {
                permit = permit => permit.is_ok(),
                () = tx.closed() => false,
            };
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
        let queue = IdentifyQueue::new(InMemoryQueue::new(
            1,
            1000,
            Duration::from_secs(86_400),
            1000,
        ));
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
        let queue = IdentifyQueue::new(InMemoryQueue::new(
            1,
            1000,
            Duration::from_secs(86_400),
            1000,
        ));
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
