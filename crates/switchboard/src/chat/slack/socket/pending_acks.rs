//! Envelopes waiting for the broker's receipt before they are acked.
//!
//! A delivered message is acked only once it is journaled, so a crash in
//! between leaves it un-acked and Slack redelivers it. Slack wants an ack
//! within 3 s; the journal write takes milliseconds. A receipt that says
//! "not durable", or none within [`ACK_WAIT`], leaves the envelope
//! un-acked on purpose: Slack redelivers it (and its event id is forgotten,
//! so the redelivery is taken). At most [`MAX_PENDING_ACKS`] wait at once;
//! at the limit the link reads no more frames until one settles (back
//! pressure, never an unbounded queue).

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::StreamExt as _;
use futures_util::stream::FuturesUnordered;
use tokio::time::{Instant, timeout};

use crate::chat::receipt::ReceiptWait;

/// How long an envelope waits for its receipt (Slack's budget is 3 s).
pub const ACK_WAIT: Duration = Duration::from_millis(2_500);
/// Envelopes waiting at once on one link.
pub const MAX_PENDING_ACKS: usize = 256;

/// One envelope whose receipt came (or did not).
#[derive(Debug)]
pub struct Settled {
    pub envelope_id: String,
    pub event_id: Option<String>,
    /// Journaled: ack it. Otherwise leave it for Slack to redeliver.
    pub durable: bool,
    /// From hand-over to the receipt.
    pub waited: Duration,
}

type Waiting = Pin<Box<dyn Future<Output = Settled> + Send>>;

#[derive(Default)]
pub struct PendingAcks {
    waiting: FuturesUnordered<Waiting>,
}

impl PendingAcks {
    /// Wait for `receipt` (bounded by [`ACK_WAIT`]).
    pub fn push(&mut self, envelope_id: String, event_id: Option<String>, receipt: ReceiptWait) {
        let since = Instant::now();
        self.waiting.push(Box::pin(async move {
            let durable = timeout(ACK_WAIT, receipt.durable()).await.unwrap_or(false);
            Settled {
                envelope_id,
                event_id,
                durable,
                waited: since.elapsed(),
            }
        }));
    }

    pub fn is_full(&self) -> bool {
        self.waiting.len() >= MAX_PENDING_ACKS
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// The next envelope to settle; never resolves while none waits (use
    /// it in a `select!` guarded by `!is_empty()`).
    pub async fn next(&mut self) -> Settled {
        match self.waiting.next().await {
            Some(settled) => settled,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::receipt::Receipt;

    #[tokio::test(start_paused = true)]
    async fn a_durable_receipt_settles_at_once_and_a_silent_one_after_the_wait() {
        let mut pending = PendingAcks::default();
        let (fast, fast_wait) = Receipt::pair();
        let (_silent, silent_wait) = Receipt::pair();
        pending.push("E1".into(), Some("Ev1".into()), fast_wait);
        pending.push("E2".into(), Some("Ev2".into()), silent_wait);
        fast.settle(true);
        let first = pending.next().await;
        assert_eq!((first.envelope_id.as_str(), first.durable), ("E1", true));
        let second = pending.next().await;
        assert_eq!((second.envelope_id.as_str(), second.durable), ("E2", false));
        assert_eq!(second.waited, ACK_WAIT);
        assert!(pending.is_empty());
    }

    #[tokio::test]
    async fn it_is_full_at_the_limit() {
        let mut pending = PendingAcks::default();
        let mut receipts = Vec::new();
        for i in 0..MAX_PENDING_ACKS {
            let (receipt, wait) = Receipt::pair();
            receipts.push(receipt);
            assert!(!pending.is_full());
            pending.push(format!("E{i}"), None, wait);
        }
        assert!(pending.is_full());
    }
}
