//! When to look for a platform's waiting thread work (ADR 22): another
//! instance's wake-up (PostgreSQL NOTIFY), a change in the threads this
//! instance owns (placed on it, lost), the listener's reconnect (wake-ups
//! may have been missed), and at least every [`POLL_EVERY`] (threads left
//! with nobody are found by the poll only).
//!
//! Owns only the timing: it sends `ChatEvent::ThreadsWaiting` into the
//! intake, at most one queued per platform at a time (`WaitingFlag`),
//! and the bridge does the work in order with the platform's events. It
//! must never touch the journal itself.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::broker::owners::WaitingFlag;
use crate::chat::{ChatEvent, InboundSender, Platform};
use crate::cluster::ThreadOwners;
use crate::store::{Store, Wakeup, Wakeups};

/// The poll: how late a message can be when its wake-up was lost, and how
/// soon a dead owner's threads are looked for once its leases expired.
pub(super) const POLL_EVERY: Duration = Duration::from_secs(1);
/// Before listening again after the listener failed.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// Wake `platforms`' bridges until `stop`.
pub(super) async fn wake_owners(
    store: Store,
    owners: ThreadOwners,
    platforms: Vec<(Platform, WaitingFlag)>,
    inbound: InboundSender,
    stop: CancellationToken,
) {
    let wake = || {
        for (platform, flag) in &platforms {
            if flag.raise() {
                let _ = inbound.send(ChatEvent::ThreadsWaiting {
                    platform: *platform,
                });
            }
        }
    };
    let mut listener: Option<Wakeups> = None;
    let mut listen_after = tokio::time::Instant::now();
    let mut poll = tokio::time::interval(POLL_EVERY);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if listener.is_none() && tokio::time::Instant::now() >= listen_after {
            match store.wakeups(owners.instance()).await {
                Ok(made) => listener = made,
                Err(err) => {
                    tracing::warn!(%err, "could not listen for other instances' wake-ups; polling meanwhile");
                    listen_after = tokio::time::Instant::now() + LISTEN_RETRY;
                }
            }
        }
        /// What ended the wait.
        enum Woke {
            Stop,
            Work,
            ListenerFailed(crate::store::StoreError),
        }
        let woken = async {
            match listener.as_mut() {
                Some(listener) => listener.next().await,
                None => std::future::pending().await,
            }
        };
        let woke = tokio::select! {
            () = stop.cancelled() => Woke::Stop,
            () = owners.changed() => Woke::Work,
            _ = poll.tick() => Woke::Work,
            seen = woken => match seen {
                Ok(Wakeup::Woken | Wakeup::Reconnected) => Woke::Work,
                Err(err) => Woke::ListenerFailed(err),
            },
        };
        match woke {
            Woke::Stop => return,
            Woke::Work => wake(),
            Woke::ListenerFailed(err) => {
                tracing::warn!(%err, "listening for wake-ups failed; listening again");
                listener = None;
                listen_after = tokio::time::Instant::now() + LISTEN_RETRY;
                wake();
            }
        }
    }
}
