//! `run(config, shutdown)`: wires the admin API, the broker intake and one
//! supervised connection per configured platform, then waits for shutdown
//! or a fatal end, and drains everything within a bounded time.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::{AdminBindError, AdminServer};
use crate::agent::{AgentCommand, PermissionPolicy, SessionOptions};
use crate::broker::bridge::Bridge;
use crate::broker::intake::run_intake;
use crate::broker::pool::SessionPool;
use crate::broker::reply::{ReplyConfig, ToolDisplay};
use crate::broker::thread::ThreadDeps;
use crate::chat::discord::{
    ChannelDirectory, DiscordCause, DiscordGateway, DiscordOutbound, DiscordRest,
};
use crate::chat::{ChatOutbound, OutboundError, Platform, inbound_channel};
use crate::config::{AgentConfig, Config, DiscordConfig, Reactions};
use crate::health::{ConnectionHealth, HealthRegistry};
use crate::metrics::Metrics;
use crate::supervisor::{FatalError, fatal_error, summary::log_summaries, supervise};

/// How long the whole drain after shutdown may take before tasks are
/// abandoned (the process must exit within 2 s of SIGTERM).
const DRAIN_DEADLINE: Duration = Duration::from_millis(1_500);

/// How often idle agent sessions are checked against their TTL.
const REAP_EVERY: Duration = Duration::from_secs(60);

/// How long the start-up token check over REST may take.
const TOKEN_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Admin(#[from] AdminBindError),
    #[error(transparent)]
    Fatal(#[from] FatalError),
    #[error("a platform task panicked: {0}")]
    Panicked(String),
}

/// A platform task: ends `Ok` on shutdown (or when its job is done), `Err`
/// when the operator must act.
type PlatformTasks = JoinSet<Result<(), FatalError>>;

/// Run switchboard until `shutdown` is cancelled (`Ok`) or a platform
/// connection ends fatally (`Err`, after the same cleanup).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    run_reporting(config, shutdown, None).await
}

/// [`run`], sending the admin API's bound address to `admin_addr` once it
/// listens (useful with `listen = "127.0.0.1:0"`).
pub async fn run_reporting(
    config: Config,
    shutdown: CancellationToken,
    admin_addr: Option<oneshot::Sender<SocketAddr>>,
) -> Result<(), RunError> {
    crate::install_crypto_provider();
    let health = HealthRegistry::default();
    let metrics = Metrics::new(health.clone());
    let admin = AdminServer::bind(config.admin.listen, health.clone(), metrics.clone()).await?;
    tracing::info!(addr = %admin.local_addr(), "admin API listening");
    if let Some(tx) = admin_addr {
        let _ = tx.send(admin.local_addr());
    }

    let stop = shutdown.child_token();
    let tracker = TaskTracker::new();
    tracker.spawn(admin.serve(stop.clone()));
    let (inbound, inbound_rx) = inbound_channel();
    let (fatal_tx, mut fatal_rx) = mpsc::unbounded_channel();
    let mut bridges = HashMap::new();
    let mut pools = Vec::new();

    let mut platforms = PlatformTasks::new();
    if let Some(discord) = &config.discord {
        let agent = config
            .agent
            .as_ref()
            .expect("validated: a platform has an agent");
        let conn = ConnectionHealth::new("discord", "shard-0");
        health.register(conn.clone());
        let directory = ChannelDirectory::default();
        let gateway = DiscordGateway::new(
            discord,
            &config.supervisor,
            conn.clone(),
            inbound.clone(),
            directory,
        );
        let outbound = Arc::new(DiscordOutbound::new(DiscordRest::new(
            &discord.token,
            &discord.api_url,
        )));
        let pool = SessionPool::new(agent.max_sessions, agent.idle_ttl);
        tracker.spawn(pool.clone().run_reaper(REAP_EVERY, stop.clone()));
        pools.push(pool.clone());
        health.register_pool("discord", pool.clone());
        let deps = thread_deps(
            &config,
            agent,
            outbound,
            pool,
            &discord.reactions,
            fatal_tx.clone(),
        );
        bridges.insert(
            Platform::Discord,
            Bridge::new(deps, discord.gating.clone(), tracker.clone(), stop.clone()),
        );
        platforms.spawn(verify_discord_token(discord));
        platforms.spawn(supervise(
            gateway,
            conn.clone(),
            config.supervisor,
            stop.clone(),
        ));
        tracker.spawn(log_summaries(
            conn,
            config.supervisor.summary_interval,
            stop.clone(),
        ));
    }
    drop(inbound);
    tracker.spawn(run_intake(
        inbound_rx,
        metrics.clone(),
        bridges,
        stop.clone(),
    ));
    // A 401 on any platform's REST is the same fatal cause as at start-up.
    platforms.spawn(async move {
        match fatal_rx.recv().await {
            Some(_) => {
                Err(fatal_error("discord", &DiscordCause::RestUnauthorized).expect("401 is fatal"))
            }
            None => Ok(()),
        }
    });
    drop(fatal_tx);

    let outcome = wait_for_end(&mut platforms, &shutdown).await;
    stop.cancel();
    tracker.close();
    let drained = tokio::time::timeout(DRAIN_DEADLINE, async {
        while platforms.join_next().await.is_some() {}
        tracker.wait().await;
        for pool in &pools {
            pool.close_idle().await;
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            deadline_ms = DRAIN_DEADLINE.as_millis() as u64,
            "shutdown drain deadline passed; exiting anyway"
        );
    }
    outcome
}

/// Wait for shutdown, or for the first platform task that fails.
async fn wait_for_end(
    platforms: &mut PlatformTasks,
    shutdown: &CancellationToken,
) -> Result<(), RunError> {
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            joined = platforms.join_next(), if !platforms.is_empty() => match joined {
                Some(Ok(Ok(()))) | None => {}
                Some(Ok(Err(fatal))) => {
                    // The one ERROR line: cause and fix. Later fatal ends
                    // during the drain are not logged again.
                    tracing::error!(platform = fatal.platform, cause = %fatal.cause, fix = %fatal.fix, "{fatal}");
                    return Err(fatal.into());
                }
                Some(Err(join)) => return Err(RunError::Panicked(join.to_string())),
            },
        }
    }
}

/// Ask REST who we are: a 401 stops the process at once with the token fix;
/// any other failure is left for the gateway to report.
fn verify_discord_token(
    discord: &DiscordConfig,
) -> impl Future<Output = Result<(), FatalError>> + use<> {
    let rest = DiscordRest::new(&discord.token, &discord.api_url);
    async move {
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

/// What every thread actor of one platform shares.
fn thread_deps(
    config: &Config,
    agent: &AgentConfig,
    outbound: Arc<dyn ChatOutbound>,
    pool: Arc<SessionPool<crate::agent::AgentSession>>,
    reactions: &Reactions,
    fatal: mpsc::UnboundedSender<OutboundError>,
) -> Arc<ThreadDeps> {
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
            edit_interval: config.broker.edit_interval,
            tool_display: config
                .broker
                .tool_display
                .parse::<ToolDisplay>()
                .expect("validated tool display"),
            ..ReplyConfig::default()
        },
        reactions: reactions.clone(),
        max_bot_turns: config.broker.max_bot_turns,
        fatal,
    })
}
