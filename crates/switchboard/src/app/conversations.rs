//! The broker side of one platform, the same for every platform: its
//! session pool (with the TTL reaper), the store writes, the thread actors'
//! shared dependencies and the bridge restored from the store. Also the
//! watch that turns a 401 from the platform's API into the platform's fatal
//! end.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::holder_outbound::HolderOutbound;
use super::{PlatformTasks, Wiring};
use crate::agent::{AgentCommand, AgentSession, SessionOptions};
use crate::broker::bridge::{Bridge, CatchUpSource};
use crate::broker::catch_up::{CatchUpLimits, PAGE_OVERRUN};
use crate::broker::durable::Durable;
use crate::broker::owners::{
    AnswerForwardedClick, AnswerForwardedCommand, BridgeOwners, OwnedThreadDeps, WaitingFlag,
};
use crate::broker::pool::SessionPool;
use crate::broker::reply::{ReplyConfig, ToolDisplay};
use crate::broker::thread::{Approval, ThreadDeps};
use crate::chat::{ChatHistory, ChatOutbound, Platform};
use crate::cluster::HolderSlot;
use crate::config::{Gating, Reactions};
use crate::delivery::active::{ActiveCanary, CanaryPoster};
use crate::delivery::reconcile::ReconcileSettings;
use crate::delivery::schedule::ScheduleSettings;
use crate::delivery::{DeliveryLedger, LatestProbe, Reconciler, SessionRenewal};
use crate::health::HealthRegistry;
use crate::supervisor::FatalError;

/// How often idle agent sessions are checked against their TTL.
/// Overridden by the environment variable `SWITCHBOARD_POOL_REAP_EVERY_MS`
/// (the soak benchmark, whose short `idle_ttl` would otherwise wait up to
/// a minute for the reaper).
const REAP_EVERY: Duration = Duration::from_secs(60);

/// [`REAP_EVERY`], or the environment's override.
fn reap_every() -> Duration {
    std::env::var("SWITCHBOARD_POOL_REAP_EVERY_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .filter(|ms| *ms > 0)
        .map_or(REAP_EVERY, Duration::from_millis)
}

/// After idle sessions were closed: hand the memory they used back to the
/// OS, so a burst of sessions does not stay in the RSS for good.
fn after_reaping() {
    let returned = super::heap::return_freed_memory();
    tracing::debug!(returned, "freed heap memory handed back after reaping");
}

/// What a platform brings to the broker.
pub(super) struct PlatformSide {
    pub platform: Platform,
    /// The store its broker side writes through (each thread's actor
    /// writes fenced by the thread's lease when several instances share
    /// it).
    pub store: crate::store::Store,
    pub outbound: Arc<dyn ChatOutbound>,
    pub history: Arc<dyn ChatHistory>,
    pub gating: Gating,
    pub reactions: Reactions,
    /// The fatal end a 401 from the platform's API means.
    pub unauthorized: FatalError,
    /// The platform's view of a channel's newest message, for the delivery
    /// check (`None`: the platform is not checked).
    pub probe: Option<Arc<dyn LatestProbe>>,
    /// Where the delivery check asks the connections for a new session.
    pub renewal: SessionRenewal,
    /// `canary.calls_per_minute` of this platform.
    pub check_calls_per_minute: u32,
    /// The active canary: where it posts (`canary.channel`) and how.
    pub canary: Option<(String, Arc<dyn CanaryPoster>)>,
    /// With several instances, this instance hears only a part of the
    /// platform's events (Slack's connections, Discord's spread shards):
    /// the delivery check counts a message taken in by any instance.
    pub heard_in_part: bool,
    /// How a click another instance heard is answered here (threads with
    /// owners; `None`: the platform's threads have none).
    pub answer_forwarded_click: Option<AnswerForwardedClick>,
    /// How a slash command another instance heard is answered here.
    pub answer_forwarded_command: Option<AnswerForwardedCommand>,
}

pub(super) struct Wired {
    pub bridge: Bridge,
    pub pool: Arc<SessionPool<AgentSession>>,
    /// Several instances, threads with owners: the flag of this
    /// platform's `ThreadsWaiting` (the waker raises it).
    pub waiting: Option<WaitingFlag>,
}

/// Build the broker side of `side.platform`; the bridge is restored from
/// the store before it is returned (before any event is read).
pub(super) async fn wire_conversations(
    w: &Wiring<'_>,
    side: PlatformSide,
    platforms: &mut PlatformTasks,
) -> Wired {
    let name = side.platform.as_str();
    let pool = SessionPool::new(w.agent.max_sessions, w.agent.idle_ttl);
    w.tracker.spawn(
        pool.clone()
            .run_reaper(reap_every(), w.stop.clone(), after_reaping),
    );
    w.health
        .register_pool(name, pool.clone(), w.agent.turn_idle_timeout);
    let durable = Durable::new(side.store.clone(), w.health.store.clone(), name)
        .reporting(w.store_watch.clone(), w.faults.clone())
        .counting(w.metrics.clone());
    // Unbounded, but never long: a send happens once per post refused with
    // 401, and the first one received ends this platform.
    let (fatal_tx, mut fatal_rx) = mpsc::unbounded_channel();
    let unauthorized = side.unauthorized;
    platforms.spawn(async move {
        match fatal_rx.recv().await {
            Some(_) => Err(unauthorized),
            None => Ok(()),
        }
    });
    let store = side.store.clone();
    let deps = thread_deps(
        w,
        side.outbound,
        pool.clone(),
        side.reactions,
        durable,
        fatal_tx,
        &side.gating,
    );
    let ledger = DeliveryLedger::default();
    if let Some(probe) = side.probe.filter(|_| w.config.canary.enabled) {
        let canary = &w.config.canary;
        let reconciler = Reconciler {
            platform: side.platform,
            settings: ReconcileSettings {
                schedule: ScheduleSettings {
                    interval: canary.interval,
                    idle_interval: canary.idle_interval,
                    thread_window: canary.thread_window,
                    calls_per_minute: side.check_calls_per_minute,
                },
                grace: canary.grace,
                max_misses: canary.max_misses,
            },
            configured: side.gating.allowed_channels.clone(),
            probe,
            history: side.history.clone(),
            ledger: ledger.clone(),
            inbound: w.inbound.clone(),
            renewal: side.renewal.clone(),
            health: w.health.delivery.clone(),
            metrics: w.metrics.clone(),
            shared: w
                .cluster
                .filter(|_| side.heard_in_part)
                .map(|_| side.store.clone()),
        };
        w.tracker.spawn(reconciler.run(w.stop.clone()));
    }
    if let Some((channel, poster)) = side.canary.filter(|_| w.config.canary.enabled) {
        let canary = &w.config.canary;
        let active = ActiveCanary {
            platform: side.platform,
            channel,
            post_interval: canary.post_interval,
            grace: canary.grace,
            max_misses: canary.max_misses,
            poster,
            ledger: ledger.clone(),
            renewal: side.renewal.clone(),
            health: w.health.delivery.clone(),
            metrics: w.metrics.clone(),
        };
        w.tracker.spawn(active.run(w.stop.clone()));
    }
    let catch_up = CatchUpSource {
        history: side.history,
        inbound: w.inbound.clone(),
        window: w.config.broker.catch_up_window,
        limits: CatchUpLimits {
            max_pages: w.config.broker.catch_up_max_pages,
            max_time: w.config.broker.catch_up_max_time,
            page_overrun: PAGE_OVERRUN,
            health: w.health.catch_up.clone(),
        },
    };
    let base_deps = deps.clone();
    let mut bridge = Bridge::new(
        side.platform,
        deps,
        side.gating,
        w.metrics.clone(),
        catch_up,
        w.tracker.clone(),
        w.stop.clone(),
    )
    .with_prune_after(w.config.store.prune_after)
    .with_delivery_ledger(ledger)
    .with_status(bot_status(w.health.clone()));
    let mut waiting = None;
    match (w.cluster, side.platform) {
        (Some(cluster), _) => {
            // Each thread is answered by its owner, whichever instance
            // heard it (Slack: every instance; Discord: the shard's
            // holder), and threads nobody holds are taken up by the poll.
            // When this instance takes Discord's shard over
            // (`ChatEvent::TookOver`), it only learns the threads.
            let flag = WaitingFlag::default();
            bridge = bridge.with_owners(BridgeOwners {
                owners: cluster.owners.clone(),
                alive_within: cluster.timing.ttl,
                deps_for: owned_thread_deps(base_deps, store),
                waiting: flag.clone(),
                answer_click: side
                    .answer_forwarded_click
                    .clone()
                    .unwrap_or_else(|| Arc::new(|_| None)),
                answer_command: side
                    .answer_forwarded_command
                    .clone()
                    .unwrap_or_else(|| Arc::new(|_| None)),
            });
            bridge.restore_threads().await;
            waiting = Some(flag);
        }
        (None, _) => bridge.restore().await,
    }
    Wired {
        bridge,
        pool,
        waiting,
    }
}

/// A thread's actors' dependencies under its lease's `slot`: posts refused
/// and journal writes fenced once the thread may be another instance's.
fn owned_thread_deps(base: Arc<ThreadDeps>, store: crate::store::Store) -> OwnedThreadDeps {
    Arc::new(move |slot: &HolderSlot| {
        let mut deps = (*base).clone();
        deps.outbound = Arc::new(HolderOutbound {
            inner: base.outbound.clone(),
            slot: slot.clone(),
        });
        deps.durable = base
            .durable
            .with_store(store.fenced_by(slot.fence_source()));
        Arc::new(deps)
    })
}

/// `/status` outside a thread: each connection's state and each
/// platform's agent sessions, one line each.
fn bot_status(health: HealthRegistry) -> crate::broker::bridge::BotStatus {
    Arc::new(move || {
        let mut lines: Vec<String> = health
            .snapshots()
            .iter()
            .map(|c| {
                format!(
                    "**{} {}**: {} ({} events, {} reconnects)",
                    c.platform,
                    c.name,
                    c.state.name(),
                    c.events_total,
                    c.reconnects_total
                )
            })
            .collect();
        for (platform, pool) in health.pools() {
            lines.push(format!(
                "**{platform} agent sessions**: {} answering, {} idle, {} at most",
                pool.busy, pool.idle, pool.max
            ));
        }
        lines.join("\n")
    })
}

/// What every thread actor of the platform shares.
fn thread_deps(
    w: &Wiring<'_>,
    outbound: Arc<dyn ChatOutbound>,
    pool: Arc<SessionPool<AgentSession>>,
    reactions: Reactions,
    durable: Durable,
    fatal: mpsc::UnboundedSender<crate::chat::OutboundError>,
    gating: &Gating,
) -> Arc<ThreadDeps> {
    let (broker, agent) = (&w.config.broker, w.agent);
    let approval = Approval {
        users: gating.approver_users.clone(),
        groups: gating.approver_groups.clone(),
        timeout: agent.permission_timeout,
        ..Approval::default()
    };
    Arc::new(ThreadDeps {
        outbound,
        pool,
        agent: AgentCommand::from_config(agent),
        session: SessionOptions::from_config(agent),
        reply: ReplyConfig {
            edit_interval: broker.edit_interval,
            tool_display: broker
                .tool_display
                .parse::<ToolDisplay>()
                .expect("validated tool display"),
            ..ReplyConfig::default()
        },
        reactions,
        max_bot_turns: broker.max_bot_turns,
        max_queued: broker.max_queued,
        actor_idle_end: crate::broker::thread::actor_idle_end(),
        shutdown_grace: broker.shutdown_grace,
        durable,
        fatal,
        approval,
    })
}
