//! The Discord shards when several instances share one bot (issue 14):
//! one holder at a time, the others on standby; the holder keeps each
//! shard's session in the store as it goes, and whoever takes over RESUMEs
//! every one, so Discord replays the events of the gap and nothing is
//! identified anew.
//!
//! Owns the loop standby -> holder -> standby: wait for the lease (trying
//! again as soon as the holder's can have expired), take the saved
//! sessions, run every shard's supervised gateway until shutdown or until
//! the lease is lost, and hand the broker side over (`ChatEvent::TookOver`
//! / `HandedOver`). One shard: one runner, the lease `discord:shard:0`.
//! Several: one runner per shard, each with its own lease
//! (`discord:shard:<i>/<n>`), taken only within this instance's share and
//! given back when the instance holds more than it (`shard_share`, ADR
//! 24); the threads are their owners' whichever instance hears them (ADR
//! 22). Every session save is fenced by the lease
//! (`discord_session_saver`). On shutdown the gateways
//! close resumably, the last sessions are saved, and the lease is parked
//! with the app, renewed while the running turns drain, then released, so
//! a standby takes over at once instead of after the ttl.
//! It must never run a gateway without holding the lease.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use twilight_gateway::ShardId;

use super::discord_session_saver::{STORE_CALL, save_sessions};
use super::shard_share::{ShardShare, ShareSeat};
use crate::chat::discord::{
    BotUserId, DiscordGateway, DiscordRest, ResumeState, SessionPublisher, shard_session_key,
};
use crate::chat::{ChatEvent, InboundSender, Platform};
use crate::cluster::{HeldLease, LeaseTiming};
use crate::config::SupervisorConfig;
use crate::health::{ClusterHealth, ConnectionHealth, ConnectionState};
use crate::store::Store;
use crate::supervisor::{FatalError, supervise};

/// A standby tries for the lease at least this often (a holder that shuts
/// down releases it, and is followed within this).
const STANDBY_POLL: Duration = Duration::from_secs(1);
/// How often a spread shard's runner standing by at its instance's share
/// looks again (the look itself is shared by the instance's runners).
const SHARE_POLL: Duration = Duration::from_millis(500);
/// How often a holder of a spread shard asks whether it holds more than
/// its share.
const SHARE_CHECK: Duration = Duration::from_secs(2);
/// After giving a shard back, its runner waits this long before it may
/// try again (another instance takes it meanwhile).
const GIVEN_BACK_PAUSE: Duration = Duration::from_secs(3);

/// One shard this instance runs while it holds the lease, and the health
/// connection /status and /readyz show for it.
pub(super) struct ShardSeat {
    pub id: ShardId,
    pub health: ConnectionHealth,
}

/// Builds a shard's gateway for one holding: its seat, where it publishes
/// its session, and the saved session it resumes (if any).
pub(super) type ShardGatewayFactory =
    Arc<dyn Fn(&ShardSeat, SessionPublisher, Option<ResumeState>) -> DiscordGateway + Send + Sync>;

/// Everything the loop needs.
pub(super) struct ShardRunner {
    pub store: Store,
    pub instance: String,
    pub timing: LeaseTiming,
    /// The lease this runner holds for its shards.
    pub lease: String,
    /// The shards run together by whoever holds the lease (one when the
    /// shards are spread).
    pub seats: Vec<ShardSeat>,
    /// Spread shards: this instance's share (`None`: one lease for all).
    pub share: Option<ShardShare>,
    pub cluster: ClusterHealth,
    pub supervisor: SupervisorConfig,
    pub inbound: InboundSender,
    pub rest: DiscordRest,
    pub bot: BotUserId,
    /// Where the lease goes at shutdown, held while the turns drain.
    pub draining: Arc<Mutex<Vec<HeldLease>>>,
    /// A fresh gateway per shard for each time this instance holds them.
    pub gateway: ShardGatewayFactory,
}

impl ShardRunner {
    /// Stand by, hold, hand over, until `stop` (`Ok`) or a fatal end.
    pub(super) async fn run(self, stop: CancellationToken) -> Result<(), FatalError> {
        loop {
            self.transition_all(ConnectionState::Standby);
            let Some(held) = self.wait_for_lease(&stop).await else {
                self.transition_all(ConnectionState::Stopped);
                return Ok(());
            };
            let mut seat = self.share.as_ref().map(ShardShare::seat);
            self.cluster
                .set_lease(&self.lease, Some(held.fence().token));
            match self.hold(&held, &mut seat, &stop).await {
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
                    drop(seat);
                    // Spread shards: the platform is handed over when this
                    // instance holds none of them any more.
                    if self.share.as_ref().is_none_or(|share| share.held() == 0) {
                        let _ = self.inbound.send(ChatEvent::HandedOver {
                            platform: Platform::Discord,
                        });
                    }
                    drop(held);
                }
                Held::GivenBack => {
                    self.let_go();
                    held.release().await;
                    drop(seat);
                    tokio::select! {
                        () = stop.cancelled() => {}
                        () = tokio::time::sleep(GIVEN_BACK_PAUSE) => {}
                    }
                }
                Held::Fatal(fatal) => {
                    self.let_go();
                    held.release().await;
                    return Err(fatal);
                }
            }
        }
    }

    fn transition_all(&self, state: ConnectionState) {
        for seat in &self.seats {
            seat.health.transition(state.clone());
        }
    }

    /// Nothing may act on the shards here any more.
    fn let_go(&self) {
        self.cluster.set_lease(&self.lease, None);
    }

    /// Try for the lease until it is ours or `stop`: again right after the
    /// current holder's lease can expire, and at least every
    /// [`STANDBY_POLL`] (one small query: a released lease is taken at once).
    async fn wait_for_lease(&self, stop: &CancellationToken) -> Option<HeldLease> {
        let mut reported = None;
        loop {
            if let Some(share) = &self.share
                && !share.may_take().await
            {
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = tokio::time::sleep(SHARE_POLL) => continue,
                }
            }
            let wait = match HeldLease::try_take(
                &self.store,
                &self.lease,
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
        let Ok(Some(lease)) = self.store.lease(&self.lease).await else {
            return most;
        };
        if reported.as_ref() != Some(&lease.holder) {
            tracing::info!(platform = "discord", holder = %lease.holder, token = lease.token, "standby: another instance holds the Discord shard");
            *reported = Some(lease.holder.clone());
        }
        let until = u64::try_from(lease.expires_in_ms).unwrap_or(0) + 20;
        Duration::from_millis(until).clamp(Duration::from_millis(50), most)
    }

    /// Run every shard's gateway while `held`: each supervised on its own;
    /// the first fatal end stops the others. A spread shard is given back
    /// (closed resumably, its session saved) when this instance holds more
    /// than its share.
    async fn hold(
        &self,
        held: &HeldLease,
        seat: &mut Option<ShareSeat>,
        stop: &CancellationToken,
    ) -> Held {
        let mut resumes = Vec::with_capacity(self.seats.len());
        for seat in &self.seats {
            resumes.push(self.saved_session(seat.id).await);
        }
        let resuming = resumes.iter().filter(|r| r.is_some()).count();
        if resuming > 0 {
            self.learn_bot_id().await;
        }
        tracing::info!(
            platform = "discord",
            instance = %self.instance,
            lease = %self.lease,
            token = held.fence().token,
            shards = self.seats.len(),
            resuming,
            "holding the Discord shard"
        );
        let _ = self.inbound.send(ChatEvent::TookOver {
            platform: Platform::Discord,
        });
        let holding = stop.child_token();
        let saver_done = CancellationToken::new();
        let mut savers = Vec::with_capacity(self.seats.len());
        let mut shards = JoinSet::new();
        for (seat, resume) in self.seats.iter().zip(resumes) {
            let (publisher, saved) = SessionPublisher::new();
            let gateway = (self.gateway)(seat, publisher, resume);
            savers.push(tokio::spawn(save_sessions(
                self.store.clone(),
                shard_session_key(seat.id),
                held.fence().clone(),
                saved,
                saver_done.clone(),
            )));
            shards.spawn(supervise(
                gateway,
                seat.health.clone(),
                self.supervisor,
                holding.clone(),
            ));
        }
        let give_back = async {
            let (Some(share), Some(seat)) = (&self.share, seat.as_mut()) else {
                return std::future::pending().await;
            };
            loop {
                tokio::time::sleep(SHARE_CHECK).await;
                if share.give_back(seat).await {
                    return;
                }
            }
        };
        let (ended, lost, given_back) = tokio::select! {
            ended = first_fatal(&mut shards, &holding) => (ended, false, false),
            () = held.lost() => {
                holding.cancel();
                (first_fatal(&mut shards, &holding).await, true, false)
            }
            () = give_back => {
                tracing::info!(platform = "discord", lease = %self.lease, "giving a Discord shard back: this instance holds more than its share");
                holding.cancel();
                (first_fatal(&mut shards, &holding).await, false, true)
            }
        };
        saver_done.cancel();
        if lost {
            savers.iter().for_each(tokio::task::JoinHandle::abort);
            return match ended {
                Err(fatal) => Held::Fatal(fatal),
                Ok(()) => Held::Lost,
            };
        }
        // The last sessions (published by the resumable closes) are saved
        // before the lease is released.
        let _ = tokio::time::timeout(STORE_CALL * 2, futures_util::future::join_all(savers)).await;
        match ended {
            Err(fatal) => Held::Fatal(fatal),
            Ok(()) if given_back => Held::GivenBack,
            Ok(()) => Held::Stopped,
        }
    }

    /// A shard's saved session, if another holder left one.
    async fn saved_session(&self, id: ShardId) -> Option<ResumeState> {
        let key = shard_session_key(id);
        match self.store.gateway_session(&key).await {
            Ok(saved) => saved.map(|s| ResumeState {
                session_id: s.session_id,
                sequence: s.sequence,
                resume_url: s.resume_url,
            }),
            Err(err) => {
                tracing::warn!(platform = "discord", %key, %err, "could not read the shard's saved session; identifying anew");
                None
            }
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
    /// A spread shard given back (its session saved): the lease is to be
    /// released for an instance under its share.
    GivenBack,
    Fatal(FatalError),
}

/// Wait for every shard to end: `Ok` when all ended on `holding` (shutdown
/// or a lost lease), else the first fatal end, after cancelling `holding`
/// so the others stop too. A shard that panicked panics the runner, which
/// ends the run as any platform task's panic does (a shard must never stop
/// unnoticed while its health still says active).
async fn first_fatal(
    shards: &mut JoinSet<Result<(), FatalError>>,
    holding: &CancellationToken,
) -> Result<(), FatalError> {
    let mut first = Ok(());
    while let Some(ended) = shards.join_next().await {
        match ended {
            Ok(Err(fatal)) if first.is_ok() => {
                holding.cancel();
                first = Err(fatal);
            }
            Err(join) if join.is_panic() => {
                holding.cancel();
                std::panic::resume_unwind(join.into_panic());
            }
            _ => {}
        }
    }
    first
}
