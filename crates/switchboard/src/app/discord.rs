//! Wiring Discord: the supervised gateway, REST (outbound and history), the
//! session pool and the bridge with its restored state.

use std::sync::Arc;
use std::time::Duration;

use super::{PlatformTasks, Wiring};
use crate::agent::{AgentCommand, AgentSession, PermissionPolicy, SessionOptions};
use crate::broker::bridge::{Bridge, CatchUpSource};
use crate::broker::durable::Durable;
use crate::broker::pool::SessionPool;
use crate::broker::reply::{ReplyConfig, ToolDisplay};
use crate::broker::thread::ThreadDeps;
use crate::chat::discord::{
    BotUserId, ChannelDirectory, DiscordCause, DiscordGateway, DiscordHistory, DiscordOutbound,
    DiscordRest,
};
use crate::chat::{ChatOutbound, Platform};
use crate::config::{AgentConfig, DiscordConfig};
use crate::health::ConnectionHealth;
use crate::supervisor::{FatalError, fatal_error, summary::log_summaries, supervise};

/// How often idle agent sessions are checked against their TTL.
const REAP_EVERY: Duration = Duration::from_secs(60);
/// How long the start-up token check over REST may take.
const TOKEN_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Wired {
    pub bridge: Bridge,
    pub pool: Arc<SessionPool<AgentSession>>,
}

/// Build and start everything Discord needs; the bridge is restored from
/// the store before it is returned (before any event is read).
pub(super) async fn wire(
    w: &Wiring<'_>,
    discord: &DiscordConfig,
    platforms: &mut PlatformTasks,
) -> Wired {
    let agent = w
        .config
        .agent
        .as_ref()
        .expect("validated: a platform has an agent");
    let conn = ConnectionHealth::new("discord", "shard-0");
    w.health.register(conn.clone());
    let directory = ChannelDirectory::default();
    let bot = BotUserId::default();
    let rest = DiscordRest::new(&discord.token, &discord.api_url);
    let gateway = DiscordGateway::new(
        discord,
        &w.config.supervisor,
        conn.clone(),
        w.inbound.clone(),
        directory.clone(),
        bot.clone(),
    );
    let outbound = Arc::new(DiscordOutbound::new(rest.clone()));
    let history = Arc::new(DiscordHistory::new(rest.clone(), directory, bot));
    let pool = SessionPool::new(agent.max_sessions, agent.idle_ttl);
    w.tracker
        .spawn(pool.clone().run_reaper(REAP_EVERY, w.stop.clone()));
    w.health.register_pool("discord", pool.clone());
    let durable = Durable::new(w.store.clone(), w.health.store.clone(), "discord");
    let deps = thread_deps(w, agent, outbound, pool.clone(), discord, durable);
    let catch_up = CatchUpSource {
        history,
        inbound: w.inbound.clone(),
        window: w.config.broker.catch_up_window,
    };
    let mut bridge = Bridge::new(
        Platform::Discord,
        deps,
        discord.gating.clone(),
        w.metrics.clone(),
        catch_up,
        w.tracker.clone(),
        w.stop.clone(),
    );
    bridge.restore().await;
    platforms.spawn(verify_token(rest));
    platforms.spawn(supervise(
        gateway,
        conn.clone(),
        w.config.supervisor,
        w.stop.clone(),
    ));
    w.tracker.spawn(log_summaries(
        conn,
        w.config.supervisor.summary_interval,
        w.stop.clone(),
    ));
    Wired { bridge, pool }
}

/// What every thread actor of the platform shares.
fn thread_deps(
    w: &Wiring<'_>,
    agent: &AgentConfig,
    outbound: Arc<dyn ChatOutbound>,
    pool: Arc<SessionPool<AgentSession>>,
    discord: &DiscordConfig,
    durable: Durable,
) -> Arc<ThreadDeps> {
    let broker = &w.config.broker;
    Arc::new(ThreadDeps {
        outbound,
        pool,
        agent: AgentCommand {
            command: agent.command.clone(),
            args: agent.args.clone(),
            cwd: agent.cwd.clone(),
            env: agent.env.clone(),
        },
        session: SessionOptions {
            permission_policy: agent
                .permission_policy
                .parse::<PermissionPolicy>()
                .expect("validated policy name"),
            mcp_servers: agent.mcp_servers.clone(),
            turn_idle_timeout: agent.turn_idle_timeout,
            cancel_grace: agent.cancel_grace,
            ..SessionOptions::default()
        },
        reply: ReplyConfig {
            edit_interval: broker.edit_interval,
            tool_display: broker
                .tool_display
                .parse::<ToolDisplay>()
                .expect("validated tool display"),
            ..ReplyConfig::default()
        },
        reactions: discord.reactions.clone(),
        max_bot_turns: broker.max_bot_turns,
        shutdown_grace: broker.shutdown_grace,
        durable,
        fatal: w.fatal.clone(),
    })
}

/// Ask REST who we are: a 401 stops the process at once with the token fix;
/// any other failure is left for the gateway to report.
async fn verify_token(rest: DiscordRest) -> Result<(), FatalError> {
    {
        match tokio::time::timeout(TOKEN_CHECK_TIMEOUT, rest.current_user()).await {
            Ok(Ok(user)) => {
                tracing::info!(platform = "discord", bot = %user.name, bot_id = user.id, "token accepted by the REST API");
                Ok(())
            }
            Ok(Err(err)) if err.is_unauthorized() => {
                Err(fatal_error("discord", &DiscordCause::RestUnauthorized).expect("401 is fatal"))
            }
            Ok(Err(err)) => {
                tracing::warn!(platform = "discord", %err, "could not verify the token over REST; continuing");
                Ok(())
            }
            Err(_) => {
                tracing::warn!(
                    platform = "discord",
                    "token check over REST timed out; continuing"
                );
                Ok(())
            }
        }
    }
}
