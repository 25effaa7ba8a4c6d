//! The Discord shard when several instances share one bot (issue 14): one
//! holder at a time, the others on standby; the holder keeps its session in
//! the store as it goes, and whoever takes the shard over RESUMEs it, so
//! Discord replays the events of the gap and nothing is identified anew.
//!
//! Owns the loop standby -> holder -> standby: wait for the shard's lease
//! (trying again as soon as the holder's can have expired), take the saved
//! session, run the supervised gateway until shutdown or until the lease is
//! lost, and hand the broker side over (`ChatEvent::TookOver` /
//! `HandedOver`). Every session save is fenced by the lease. On shutdown
//! the gateway closes resumably, the last session is saved, and the lease
//! is parked with the app, renewed while the running turns drain, then
//! released, so a standby takes over at once instead of after the ttl.
//! It must never run the gateway without holding the lease.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::chat::discord::{BotUserId, DiscordGateway, DiscordRest, ResumeState, SessionPublisher};
use crate::chat::{ChatEvent, InboundSender, Platform};
use crate::cluster::{HeldLease, HolderSlot, LeaseTiming};
use crate::config::SupervisorConfig;
use crate::health::{ClusterHealth, ConnectionHealth, ConnectionState};
use crate::store::{GatewaySession, Store, StoreError};
use crate::supervisor::{FatalError, supervise};

/// The lease of Discord's (only) shard.
pub(super) const SHARD_LEASE: &str = "discord:shard:0";
/// Its saved session's key.
const SHARD_KEY: &str = "discord:0";
/// Sessions are saved at most this often (a RESUME from an older sequence
/// only replays more, which the journal dedupes).
const SAVE_EVERY: Duration = Duration::from_millis(500);
/// A standby tries for the lease at least this often (a holder that shuts
/// down releases it, and is followed within this).
const STANDBY_POLL: Duration = Duration::from_secs(1);
/// A store call of the hand-over may take this long before it is given up.
const STORE_CALL: Duration = Duration::from_secs(2);

/// Everything the loop needs.
pub(super) struct ShardRunner {
    pub store: Store,
    pub instance: String,
    pub timing: LeaseTiming,
    pub health: ConnectionHealth,
    pub cluster: ClusterHealth,
    pub supervisor: SupervisorConfig,
    pub inbound: InboundSender,
    pub rest: DiscordRest,
    pub bot: BotUserId,
    /// What the Discord side's posts and journal writes ask before acting.
    pub slot: HolderSlot,
    /// Where the lease goes at shutdown, held while the turns drain.
    pub draining: Arc<Mutex<Vec<HeldLease>>>,
    /// A fresh gateway for each time this instance holds the shard.
    pub gateway: Box<dyn Fn(SessionPublisher, Option<ResumeState>) -> DiscordGateway + Send + Sync>,
}

impl ShardRunner {
    /// Stand by, hold, hand over, until `stop` (`Ok`) or a fatal end.
    pub(super) async fn run(self, stop: CancellationToken) -> Result<(), FatalError> {
        loop {
            self.health.transition(ConnectionState::Standby);
            let Some(held) = self.wait_for_lease(&stop).await else {
                self.health.transition(ConnectionState::Stopped);
                return Ok(());
            };
            self.cluster
                .set_lease(SHARD_LEASE, Some(held.fence().token));
            self.slot.hold(&held);
            match self.hold(&held, &stop).await {
                Held::Stopped => {
                    // The running turns finish under the lease (the app
                    // releases it after the drain); the gateway is closed
                    // resumably already, so the events meanwhile wait for
                    // the next holder's RESUME.
                    self.draining
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(held);
                    return Ok(());
                }
                Held::Lost => {
                    self.let_go();
                    let _ = self.inbound.send(ChatEvent::HandedOver {
                        platform: Platform::Discord,
                    });
                    drop(held);
                }
                Held::Fatal(fatal) => {
                    self.let_go();
                    held.release().await;
                    return Err(fatal);
                }
            }
        }
    }

    /// Nothing may act on the shard here any more.
    fn let_go(&self) {
        self.slot.clear();
        self.cluster.set_lease(SHARD_LEASE, None);
    }

    /// Try for the lease until it is ours or `stop`: again right after the
    /// current holder's lease can expire, and at least every
    /// [`STANDBY_POLL`] (one small query: a released lease is taken at once).
    async fn wait_for_lease(&self, stop: &CancellationToken) -> Option<HeldLease> {
        let mut reported = None;
        loop {
            let wait = match HeldLease::try_take(
                &self.store,
                SHARD_LEASE,
                &self.instance,
                self.timing,
            )
            .await
            {
                Ok(Some(held)) => return Some(held),
                Ok(None) => self.until_expiry(&mut reported).await,
                Err(err) => {
                    tracing::warn!(platform = "discord", %err, "could not try for the shard's lease; trying again");
                    self.timing.renew_every().min(STANDBY_POLL)
                }
            };
            tokio::select! {
                () = stop.cancelled() => return None,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// How long until the holder's lease can have expired (logging the
    /// holder once per holder).
    async fn until_expiry(&self, reported: &mut Option<String>) -> Duration {
        let most = self.timing.renew_every().min(STANDBY_POLL);
        let Ok(Some(lease)) = self.store.lease(SHARD_LEASE).await else {
            return most;
        };
        if reported.as_ref() != Some(&lease.holder) {
            tracing::info!(platform = "discord", holder = %lease.holder, token = lease.token, "standby: another instance holds the Discord shard");
            *reported = Some(lease.holder.clone());
        }
        let until = u64::try_from(lease.expires_in_ms).unwrap_or(0) + 20;
        Duration::from_millis(until).clamp(Duration::from_millis(50), most)
    }

    /// Run the gateway while `held`.
    async fn hold(&self, held: &HeldLease, stop: &CancellationToken) -> Held {
        let resume = match self.store.gateway_session(SHARD_KEY).await {
            Ok(saved) => saved.map(|s| ResumeState {
                session_id: s.session_id,
                sequence: s.sequence,
                resume_url: s.resume_url,
            }),
            Err(err) => {
                tracing::warn!(platform = "discord", %err, "could not read the shard's saved session; identifying anew");
                None
            }
        };
        if resume.is_some() {
            self.learn_bot_id().await;
        }
        tracing::info!(
            platform = "discord",
            instance = %self.instance,
            token = held.fence().token,
            resuming = resume.is_some(),
            "holding the Discord shard"
        );
        let _ = self.inbound.send(ChatEvent::TookOver {
            platform: Platform::Discord,
        });
        let (publisher, saved) = SessionPublisher::new();
        let gateway = (self.gateway)(publisher, resume);
        let saver_done = CancellationToken::new();
        let saver = tokio::spawn(save_sessions(
            self.store.clone(),
            held.fence().clone(),
            saved,
            saver_done.clone(),
        ));
        let holding = stop.child_token();
        let supervised = supervise(
            gateway,
            self.health.clone(),
            self.supervisor,
            holding.clone(),
        );
        tokio::pin!(supervised);
        let (ended, lost) = tokio::select! {
            ended = &mut supervised => (ended, false),
            () = held.lost() => {
                holding.cancel();
                (supervised.await, true)
            }
        };
        saver_done.cancel();
        if lost {
            saver.abort();
            return match ended {
                Err(fatal) => Held::Fatal(fatal),
                Ok(()) => Held::Lost,
            };
        }
        // The last session (published by the resumable close) is saved
        // before the lease is released.
        let _ = tokio::time::timeout(STORE_CALL * 2, saver).await;
        match ended {
            Err(fatal) => Held::Fatal(fatal),
            Ok(()) => Held::Stopped,
        }
    }

    /// A RESUME brings no READY, so who the bot is comes from REST (to tell
    /// mentions of it); bounded, and a failure only logged.
    async fn learn_bot_id(&self) {
        if self.bot.get().is_some() {
            return;
        }
        match tokio::time::timeout(STORE_CALL * 5, self.rest.current_user()).await {
            Ok(Ok(user)) => {
                let _ = self.bot.set(user.id);
            }
            Ok(Err(err)) => {
                tracing::warn!(platform = "discord", %err, "could not learn the bot's id before resuming")
            }
            Err(_) => tracing::warn!(
                platform = "discord",
                "learning the bot's id before resuming timed out"
            ),
        }
    }
}

/// How holding the shard ended.
enum Held {
    /// Shutdown.
    Stopped,
    /// The lease was lost: another instance may hold it now.
    Lost,
    Fatal(FatalError),
}

/// Save the newest published session under `fence`, at most every
/// [`SAVE_EVERY`], until `done` (then the newest once more) or until the
/// store refuses the fence.
async fn save_sessions(
    store: Store,
    fence: crate::store::Fence,
    mut published: watch::Receiver<Option<ResumeState>>,
    done: CancellationToken,
) {
    loop {
        let finishing = tokio::select! {
            changed = published.changed() => {
                if changed.is_err() {
                    return;
                }
                false
            }
            () = done.cancelled() => true,
        };
        if !finishing || published.has_changed().unwrap_or(false) {
            let state = published.borrow_and_update().clone();
            if let Err(err) = save(&store, &fence, state.as_ref()).await {
                if matches!(err, StoreError::Fenced { .. }) {
                    tracing::warn!(platform = "discord", %err, "the shard's session was not saved: the lease is gone");
                    return;
                }
                tracing::warn!(platform = "discord", %err, "the shard's session was not saved; saving the next one");
            }
        }
        if finishing {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(SAVE_EVERY) => {}
            () = done.cancelled() => {}
        }
    }
}

async fn save(
    store: &Store,
    fence: &crate::store::Fence,
    state: Option<&ResumeState>,
) -> Result<(), StoreError> {
    let call = async {
        match state {
            Some(state) => {
                let session = GatewaySession {
                    session_id: state.session_id.clone(),
                    sequence: state.sequence,
                    resume_url: state.resume_url.clone(),
                };
                store.save_gateway_session(SHARD_KEY, &session, fence).await
            }
            None => store.forget_gateway_session(SHARD_KEY, fence).await,
        }
    };
    match tokio::time::timeout(STORE_CALL, call).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(platform = "discord", "saving the shard's session timed out");
            Ok(())
        }
    }
}
