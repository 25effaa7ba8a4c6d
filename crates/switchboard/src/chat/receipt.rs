//! A message's receipt: the broker's word back to the platform loop that
//! an accepted message is durable (journaled, or recorded as seen), so the
//! platform may be told "received" (Slack's envelope ack).
//!
//! Owns only the hand-shake. A receipt dropped without a word (shutdown, a
//! panic, a cancelled future) reads as "not durable": the platform then
//! redelivers, and the journal's dedupe makes that harmless. A platform
//! that needs no ack (Discord: catch-up finds what was missed) passes
//! [`Receipt::none`].

use tokio::sync::oneshot;

/// Held by the broker with the message; settled once.
#[derive(Debug)]
pub struct Receipt(Option<oneshot::Sender<bool>>);

/// Held by the platform loop: resolves when the broker settles.
#[derive(Debug)]
pub struct ReceiptWait(oneshot::Receiver<bool>);

impl Receipt {
    /// No one waits for this message's receipt.
    pub fn none() -> Self {
        Self(None)
    }

    /// A receipt and the wait for it.
    pub fn pair() -> (Self, ReceiptWait) {
        let (tx, rx) = oneshot::channel();
        (Self(Some(tx)), ReceiptWait(rx))
    }

    /// Say whether the message is durable now.
    pub fn settle(mut self, durable: bool) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(durable);
        }
    }
}

impl ReceiptWait {
    /// `true` once the broker said the message is durable; `false` if it
    /// said it is not, or dropped the receipt.
    pub async fn durable(self) -> bool {
        self.0.await.unwrap_or(false)
    }

    /// Without waiting: `None` while the broker has not settled it, else
    /// as [`ReceiptWait::durable`].
    pub fn settled(&mut self) -> Option<bool> {
        match self.0.try_recv() {
            Ok(durable) => Some(durable),
            Err(oneshot::error::TryRecvError::Empty) => None,
            Err(oneshot::error::TryRecvError::Closed) => Some(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn settled_durable_reads_true_and_a_drop_reads_false() {
        let (receipt, wait) = Receipt::pair();
        receipt.settle(true);
        assert!(wait.durable().await);

        let (receipt, wait) = Receipt::pair();
        receipt.settle(false);
        assert!(!wait.durable().await);

        let (receipt, wait) = Receipt::pair();
        drop(receipt);
        assert!(!wait.durable().await, "a dropped receipt is not durable");

        Receipt::none().settle(true);
    }
}
