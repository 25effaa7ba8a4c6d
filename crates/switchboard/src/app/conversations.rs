//! The broker side of one platform, the same for every platform: its
//! session pool (with the TTL reaper), the store writes, the thread actors'
//! shared dependencies and the bridge restored from the store. Also the
//! watch that turns a 401 from the platform's API into the platform's fatal
//! end.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{PlatformTasks, Wiring};
use crate::agent::{AgentCommand, AgentSession, SessionOptions};
use crate::broker::bridge::{Bridge, CatchUpSource};
use crate::broker::durable::Durable;
use crate::broker::pool::SessionPool;
use crate::broker::reply::{ReplyConfig, ToolDisplay};
use crate::broker::thread::ThreadDeps;
use crate::chat::{ChatHistory, ChatOutbound, Platform};
use crate::config::{Gating, Reactions};
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

/// What a platform brings to the broker.
pub(super) struct PlatformSide {
    pub platform: Platform,
    pub outbound: Arc<dyn ChatOutbound>,
    pub history: Arc<dyn ChatHistory>,
    pub gating: Gating,
    pub reactions: Reactions,
    /// The fatal end a 401 from the platform's API means.
    pub unauthorized: FatalError,
}

pub(super) struct Wired {
    pub bridge: Bridge,
    pub pool: Arc<SessionPool<AgentSession>>,
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
    w.tracker
        .spawn(pool.clone().run_reaper(reap_every(), w.stop.clone()));
    w.health
        .register_pool(name, pool.clone(), w.agent.turn_idle_timeout);
    let durable = Durable::new(w.store.clone(), w.health.store.clone(), name)
        .reporting(w.health.pipeline.clone(), w.faults.clone());
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
    let deps = thread_deps(
        w,
        side.outbound,
        pool.clone(),
        side.reactions,
        durable,
        fatal_tx,
    );
    let catch_up = CatchUpSource {
        history: side.history,
        inbound: w.inbound.clone(),
        window: w.config.broker.catch_up_window,
    };
    let mut bridge = Bridge::new(
        side.platform,
        deps,
        side.gating,
        w.metrics.clone(),
        catch_up,
        w.tracker.clone(),
        w.stop.clone(),
    )
    .with_prune_after(w.config.store.prune_after);
    bridge.restore().await;
    Wired { bridge, pool }
}

/// What every thread actor of the platform shares.
fn thread_deps(
    w: &Wiring<'_>,
    outbound: Arc<dyn ChatOutbound>,
    pool: Arc<SessionPool<AgentSession>>,
    reactions: Reactions,
    durable: Durable,
    fatal: mpsc::UnboundedSender<crate::chat::OutboundError>,
) -> Arc<ThreadDeps> {
    let (broker, agent) = (&w.config.broker, w.agent);
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
    })
}
