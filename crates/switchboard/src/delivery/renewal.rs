//! How the delivery check tells a platform's connections to start a new
//! session: a generation counter every connection run watches. A run that
//! sees it move ends with "events not delivered" and the next run
//! identifies anew (a resume would replay nothing that was never sent).

use tokio::sync::watch;

/// The sending side, held by the reconciler.
#[derive(Clone, Debug)]
pub struct SessionRenewal {
    tx: watch::Sender<u64>,
}

impl Default for SessionRenewal {
    fn default() -> Self {
        Self {
            tx: watch::Sender::new(0),
        }
    }
}

impl SessionRenewal {
    /// Ask every connection of the platform for a new session.
    pub fn request(&self) {
        self.tx.send_modify(|generation| *generation += 1);
    }

    /// After `consecutive` checks in a row found a miss: at `max_misses`
    /// or more, ask for a new session (logged, counted in `health`).
    pub fn renew_if_due(
        &self,
        platform: &str,
        consecutive: u32,
        max_misses: u32,
        health: &crate::health::DeliveryHealth,
    ) {
        if consecutive < max_misses {
            return;
        }
        tracing::warn!(
            platform,
            cause = "events not delivered",
            consecutive,
            "dropping the connection for a new session: a resume would replay nothing"
        );
        self.request();
        health.renewed(platform);
    }

    /// A watch for one connection.
    pub fn watch(&self) -> RenewalWatch {
        RenewalWatch {
            rx: self.tx.subscribe(),
        }
    }

    /// Renewals requested so far.
    pub fn requested_total(&self) -> u64 {
        *self.tx.borrow()
    }
}

/// The receiving side, one per connection.
#[derive(Debug)]
pub struct RenewalWatch {
    rx: watch::Receiver<u64>,
}

impl RenewalWatch {
    /// Forget requests made before now (call when a connection run starts).
    pub fn arm(&mut self) {
        self.rx.borrow_and_update();
    }

    /// Renewals requested so far, as this watch last saw them (after
    /// [`Self::arm`]: the generation the connection run belongs to).
    pub fn generation(&self) -> u64 {
        *self.rx.borrow()
    }

    /// Resolves when a renewal is requested after [`Self::arm`]; never
    /// when the sender is gone. Cancel-safe.
    pub async fn requested(&mut self) {
        if self.rx.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_request_reaches_every_armed_watch_and_older_ones_are_forgotten() {
        let renewal = SessionRenewal::default();
        let (mut a, mut b) = (renewal.watch(), renewal.watch());
        renewal.request();
        a.arm();
        let early = tokio::time::timeout(Duration::from_millis(20), a.requested()).await;
        assert!(early.is_err(), "a request before arm() is forgotten");
        renewal.request();
        tokio::time::timeout(Duration::from_secs(1), a.requested())
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(1), b.requested())
            .await
            .unwrap();
        assert_eq!(renewal.requested_total(), 2);
    }
}
