//! `run(config, shutdown)`: opens the store, wires the admin API, the broker
//! intake and each configured platform (`discord`, `slack`; their broker
//! side in `conversations`), then waits for shutdown or fatal ends, and
//! drains everything within a bounded time.
//!
//! A fatal end stops only its platform (its ERROR line, its connections
//! `fatally_closed`, /readyz 503 naming it) while others keep serving; the
//! process exits non-zero when no platform is left.

mod conversations;
mod discord;
mod discord_session_saver;
mod discord_shard;
mod heap;
mod holder_outbound;
mod housekeeping;
mod shard_share;
mod slack;
mod thread_waker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::{AdminBindError, AdminServer};
use crate::broker::intake::{beat, run_intake};
use crate::broker::store_watch::{self, StoreWatch};
use crate::broker::test_faults::TestFaults;
use crate::chat::{InboundSender, Platform, inbound_channel_counted};
use crate::config::{AgentConfig, Config, StoreConfig};
use crate::health::{ConnectionHealth, ConnectionState, HealthRegistry};
use crate::metrics::Metrics;
use crate::store::{PostgresOptions, Store, StoreError};
use crate::supervisor::summary::log_summaries;
use crate::supervisor::{Connection, FatalError, supervise};

/// How long the drain after shutdown may take, on top of the turns' own
/// `shutdown_grace`, before tasks are abandoned (with no turn running the
/// process exits within 2 s of SIGTERM).
pub const DRAIN_DEADLINE: Duration = Duration::from_millis(1_500);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Admin(#[from] AdminBindError),
    #[error(transparent)]
    Fatal(#[from] FatalError),
    #[error("a platform task panicked: {0}")]
    Panicked(String),
    /// The intake (every platform's broker side) ended before shutdown.
    #[error(
        "the intake stopped ({0}): no message would be handled; exiting so that a supervisor restarts switchboard"
    )]
    IntakeEnded(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What wiring a platform needs from `run`.
struct Wiring<'a> {
    config: &'a Config,
    agent: &'a AgentConfig,
    health: &'a HealthRegistry,
    metrics: &'a Metrics,
    store: &'a Store,
    inbound: &'a InboundSender,
    tracker: &'a TaskTracker,
    stop: &'a CancellationToken,
    faults: &'a TestFaults,
    /// This instance among several (a PostgreSQL store), or `None`.
    cluster: Option<&'a ClusterRun>,
    store_watch: &'a StoreWatch,
}

/// This process as one of several instances of the bot (issue 14).
pub(crate) struct ClusterRun {
    pub instance: String,
    pub timing: crate::cluster::LeaseTiming,
    /// Leases still held at shutdown: kept (renewed) while the running
    /// turns drain, so they finish here, then released for a standby.
    pub draining: std::sync::Arc<std::sync::Mutex<Vec<crate::cluster::HeldLease>>>,
    /// The threads this instance owns (Slack's, ADR 22).
    pub owners: crate::cluster::ThreadOwners,
}

impl Wiring<'_> {
    /// Keep `connection` alive under `platform_stop` (a platform task), with
    /// its periodic INFO summary line.
    fn supervise<C: Connection + 'static>(
        &self,
        connection: C,
        health: ConnectionHealth,
        platform_stop: &CancellationToken,
        platforms: &mut PlatformTasks,
    ) {
        platforms.spawn(supervise(
            connection,
            health.clone(),
            self.config.supervisor,
            platform_stop.clone(),
        ));
        self.tracker.spawn(log_summaries(
            health,
            self.config.supervisor.summary_interval,
            platform_stop.clone(),
        ));
    }
}

/// A platform task: ends `Ok` on shutdown (or when its job is done), `Err`
/// when the operator must act.
type PlatformTasks = JoinSet<Result<(), FatalError>>;

/// The store the config names: PostgreSQL with `store.url`, else the
/// SQLite file in `data_dir`.
async fn open_store(config: &StoreConfig) -> Result<Store, StoreError> {
    match &config.postgres {
        None => Store::open(&config.data_dir).await,
        Some(pg) => {
            let options = PostgresOptions {
                max_connections: pg.max_connections,
                statement_timeout: pg.statement_timeout,
                ..PostgresOptions::default()
            };
            Store::connect_postgres(pg.url.expose(), &options).await
        }
    }
}

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
    let store = open_store(&config.store).await?;
    health.store.set_location(&store.location());
    tracing::info!(location = %store.location(), "store open");
    let admin = AdminServer::bind(
        config.admin.listen,
        health.clone(),
        metrics.clone(),
        Some(store.clone()),
    )
    .await?;
    tracing::info!(addr = %admin.local_addr(), "admin API listening");
    if let Some(tx) = admin_addr {
        let _ = tx.send(admin.local_addr());
    }

    let stop = shutdown.child_token();
    let tracker = TaskTracker::new();
    let (inbound, inbound_rx) = inbound_channel_counted(health.pipeline.clone());
    let mut bridges = HashMap::new();
    let mut pools = Vec::new();
    let mut platforms = PlatformTasks::new();
    let mut live = LivePlatforms::new();
    let faults = TestFaults::from_env();
    let cluster = config.store.postgres.as_ref().map(|_| {
        let instance = config
            .cluster
            .instance_id
            .clone()
            .unwrap_or_else(crate::cluster::default_instance_id);
        let timing = crate::cluster::LeaseTiming {
            ttl: config.cluster.lease_ttl,
        };
        ClusterRun {
            owners: crate::cluster::ThreadOwners::new(store.clone(), instance.clone(), timing),
            instance,
            timing,
            draining: std::sync::Arc::default(),
        }
    });
    let heartbeat = cluster.as_ref().map(|cluster| {
        health.cluster.set_instance(&cluster.instance);
        let owners = cluster.owners.clone();
        health
            .cluster
            .count_threads_with(std::sync::Arc::new(move || owners.held_count()));
        tracing::info!(instance = %cluster.instance, lease_ttl_ms = cluster.timing.ttl.as_millis() as u64, "one of several instances sharing the PostgreSQL store");
        let pools = health.clone();
        crate::cluster::Heartbeat::start(
            store.clone(),
            cluster.instance.clone(),
            cluster.timing.renew_every(),
            std::sync::Arc::new(move || {
                pools.pools().iter().fold((0, 0), |(live, max), (_, f)| {
                    (live + f.busy + f.idle, max + f.max)
                })
            }),
        )
    });
    let store_watch = StoreWatch::new(health.pipeline.clone());
    // The platforms whose threads have owners, with their event's flag.
    let mut waiting = Vec::new();
    if let Some(agent) = &config.agent {
        let wiring = Wiring {
            config: &config,
            agent,
            health: &health,
            metrics: &metrics,
            store: &store,
            inbound: &inbound,
            tracker: &tracker,
            stop: &stop,
            faults: &faults,
            cluster: cluster.as_ref(),
            store_watch: &store_watch,
        };
        if let Some(discord) = &config.discord {
            let platform_stop = stop.child_token();
            let wired = discord::wire(&wiring, discord, &platform_stop, &mut platforms).await;
            live.insert(Platform::Discord.as_str(), platform_stop);
            waiting.extend(wired.waiting.map(|flag| (Platform::Discord, flag)));
            pools.push(wired.pool);
            bridges.insert(Platform::Discord, wired.bridge);
        }
        if let Some(slack) = &config.slack {
            let platform_stop = stop.child_token();
            let wired = slack::wire(&wiring, slack, &platform_stop, &mut platforms).await;
            live.insert(Platform::Slack.as_str(), platform_stop);
            waiting.extend(wired.waiting.map(|flag| (Platform::Slack, flag)));
            pools.push(wired.pool);
            bridges.insert(Platform::Slack, wired.bridge);
        }
    }
    // Threads' leases are renewed until the turns drained (then given up),
    // so the turns finishing at shutdown may still post.
    let owners_stop = CancellationToken::new();
    if let Some(cluster) = cluster.as_ref().filter(|_| !waiting.is_empty()) {
        tokio::spawn(cluster.owners.clone().run(owners_stop.clone()));
        tracker.spawn(thread_waker::wake_owners(
            store.clone(),
            cluster.owners.clone(),
            waiting,
            inbound.clone(),
            stop.clone(),
        ));
    }
    drop(inbound);
    tracker.spawn(admin.serve(stop.clone()));
    tracker.spawn(housekeeping::prune(
        store.clone(),
        config.store.prune_after,
        config.broker.catch_up_window,
        health.store.clone(),
        stop.clone(),
    ));
    tracker.spawn(beat(health.pipeline.clone(), stop.clone()));
    tracker.spawn(store_watch::probe(
        store.clone(),
        store_watch.clone(),
        faults.clone(),
        stop.clone(),
    ));
    tracker.spawn(health.clone().sample_pools(stop.clone()));
    // Watched, not just tracked: an intake that ends before shutdown (a
    // panic) ends the run non-zero, never a half-alive process.
    let mut intake = tracker.spawn(run_intake(
        inbound_rx,
        bridges,
        health.pipeline.clone(),
        store_watch,
        faults,
        stop.clone(),
    ));

    let outcome = wait_for_end(&mut platforms, &mut live, &health, &shutdown, &mut intake).await;
    stop.cancel();
    tracker.close();
    let drained = tokio::time::timeout(config.broker.shutdown_grace + DRAIN_DEADLINE, async {
        while platforms.join_next().await.is_some() {}
        tracker.wait().await;
        for pool in &pools {
            pool.close_idle().await;
        }
    })
    .await;
    if let Some(cluster) = &cluster {
        let draining =
            std::mem::take(&mut *cluster.draining.lock().unwrap_or_else(|e| e.into_inner()));
        for held in draining {
            held.release().await;
        }
        owners_stop.cancel();
        cluster.owners.release_all().await;
    }
    if let (Some(heartbeat), Some(cluster)) = (heartbeat, &cluster) {
        heartbeat.stop(&store, &cluster.instance).await;
    }
    store.close().await;
    if drained.is_err() {
        tracing::warn!(
            deadline_ms = DRAIN_DEADLINE.as_millis() as u64,
            "shutdown drain deadline passed; exiting anyway"
        );
    }
    outcome
}

/// The platforms still serving, each with the token that stops its
/// connections.
type LivePlatforms = HashMap<&'static str, CancellationToken>;

/// Wait for shutdown, or until no platform is left serving. A fatal end
/// stops its platform with one ERROR line; the last one ends the run with
/// its error.
async fn wait_for_end(
    platforms: &mut PlatformTasks,
    live: &mut LivePlatforms,
    health: &HealthRegistry,
    shutdown: &CancellationToken,
    intake: &mut tokio::task::JoinHandle<()>,
) -> Result<(), RunError> {
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return Ok(()),
            ended = &mut *intake => {
                let why = match ended {
                    Ok(()) => "it returned".to_owned(),
                    Err(join) => join.to_string(),
                };
                return Err(RunError::IntakeEnded(why));
            }
            joined = platforms.join_next(), if !platforms.is_empty() => match joined {
                Some(Ok(Ok(()))) | None => {}
                Some(Ok(Err(fatal))) => {
                    let Some(platform_stop) = live.remove(fatal.platform) else {
                        // The platform already ended fatally: logged once.
                        continue;
                    };
                    // The one ERROR line of this platform: cause and fix.
                    tracing::error!(platform = fatal.platform, cause = %fatal.cause, fix = %fatal.fix, "{fatal}");
                    for connection in health.connections_of(fatal.platform) {
                        connection.transition(ConnectionState::FatallyClosed {
                            cause: fatal.cause.clone(),
                        });
                    }
                    platform_stop.cancel();
                    if live.is_empty() {
                        return Err(fatal.into());
                    }
                    let serving: Vec<&str> = live.keys().copied().collect();
                    tracing::warn!(platform = fatal.platform, still_serving = ?serving, "platform stopped; the others keep serving");
                }
                Some(Err(join)) => return Err(RunError::Panicked(join.to_string())),
            },
        }
    }
}
