//! Wiring Discord: the supervised gateway shards (`discord.shards`, each
//! its own connection in health), REST (outbound and history), handed to
//! the broker side.

use std::sync::Arc;
use std::time::Duration;

use super::conversations::{PlatformSide, Wired, wire_conversations};
use super::discord_shard::{ShardGatewayFactory, ShardRunner, ShardSeat};
use super::shard_share::{ShardShare, shard_lease_name};
use super::{PlatformTasks, Wiring};
use crate::chat::Platform;
use crate::chat::discord::interaction_routes::{
    click_answer_from_route, command_answer_from_route,
};
use crate::chat::discord::rest::global_limit;
use crate::chat::discord::{
    BotUserId, ChannelDirectory, DiscordCause, DiscordGateway, DiscordHistory, DiscordOutbound,
    DiscordProbe, DiscordRest, ShardPlan, shard_connection_name,
};
use crate::config::DiscordConfig;
use crate::delivery::SessionRenewal;
use crate::delivery::active::CanaryPoster;
use crate::health::ConnectionHealth;
use crate::supervisor::{FatalError, fatal_error};

/// How long the start-up token check over REST may take.
const TOKEN_CHECK_TIMEOUT: Duration = Duration::from_secs(10);

/// Build and start everything Discord needs. Its connection stops with
/// `platform_stop` (cancelled when another of its tasks ends fatally).
pub(super) async fn wire(
    w: &Wiring<'_>,
    discord: &DiscordConfig,
    platform_stop: &tokio_util::sync::CancellationToken,
    platforms: &mut PlatformTasks,
) -> Wired {
    let directory = ChannelDirectory::default();
    let bot = BotUserId::default();
    let rest = DiscordRest::counting(
        &discord.token,
        &discord.api_url,
        global_limit(),
        w.metrics.discord_invalid_requests(),
    );
    // Health first (each shard is a connection /readyz waits for); "auto"
    // or N > 1 asks /gateway/bot here, once.
    let plan = ShardPlan::decide(discord.shards, &rest, platform_stop).await;
    let seats: Vec<ShardSeat> = plan
        .iter()
        .flatten()
        .flat_map(ShardPlan::ids)
        .map(|id| {
            let health = ConnectionHealth::new("discord", shard_connection_name(id));
            w.health.register(health.clone());
            ShardSeat { id, health }
        })
        .collect();
    // A miss found by the delivery check renews every shard for now (it
    // does not know which shard a channel is on).
    let renewal = SessionRenewal::default();
    let gateway = {
        let (discord, supervisor) = (discord.clone(), w.config.supervisor);
        let (inbound, directory, bot) = (w.inbound.clone(), directory.clone(), bot.clone());
        let (renewal, rest) = (renewal.clone(), rest.clone());
        move |seat: &ShardSeat, plan: &ShardPlan| {
            DiscordGateway::new(
                &discord,
                &supervisor,
                seat.health.clone(),
                inbound.clone(),
                directory.clone(),
                bot.clone(),
            )
            .with_shard(seat.id, plan.queue())
            .with_renewal(renewal.watch())
            .with_clicks(rest.clone())
        }
    };
    let probe = Arc::new(DiscordProbe::new(rest.clone()));
    // Several instances: the shard's holder hears, each thread's owner
    // answers (its actor's posts and journal writes ask the thread's
    // lease, conversations.rs); REST works from any instance.
    let side = PlatformSide {
        platform: Platform::Discord,
        store: w.store.clone(),
        outbound: Arc::new(DiscordOutbound::new(rest.clone())),
        history: Arc::new(DiscordHistory::new(rest.clone(), directory, bot.clone())),
        gating: discord.gating.clone(),
        reactions: discord.reactions.clone(),
        unauthorized: fatal_error("discord", &DiscordCause::RestUnauthorized)
            .expect("401 is fatal"),
        probe: Some(probe.clone()),
        renewal,
        check_calls_per_minute: w.config.canary.discord_calls_per_minute,
        canary: w
            .config
            .canary
            .discord_channel
            .clone()
            .map(|channel| (channel, probe as Arc<dyn CanaryPoster>)),
        heard_in_part: seats.len() > 1,
        answer_forwarded_click: Some({
            let rest = rest.clone();
            Arc::new(move |route| click_answer_from_route(&rest, route))
        }),
        answer_forwarded_command: Some({
            let rest = rest.clone();
            Arc::new(move |route| command_answer_from_route(&rest, route))
        }),
    };
    let wired = wire_conversations(w, side, platforms).await;
    platforms.spawn(verify_token(rest.clone(), bot.clone()));
    let plan = match plan {
        Ok(Some(plan)) => plan,
        Ok(None) => return wired,
        Err(fatal) => {
            platforms.spawn(async move { Err(fatal) });
            return wired;
        }
    };
    match w.cluster {
        None => {
            for seat in &seats {
                w.supervise(
                    gateway(seat, &plan),
                    seat.health.clone(),
                    platform_stop,
                    platforms,
                );
            }
        }
        Some(cluster) => {
            for seat in &seats {
                w.tracker.spawn(crate::supervisor::summary::log_summaries(
                    seat.health.clone(),
                    w.config.supervisor.summary_interval,
                    platform_stop.clone(),
                ));
            }
            // One shard: one lease, as ever. Several: spread, one lease
            // each, at most this instance's share, identifies paced
            // bot-wide (ADR 24).
            let share = (seats.len() > 1).then(|| {
                ShardShare::new(
                    w.store.clone(),
                    cluster.instance.clone(),
                    cluster.timing,
                    seats.len(),
                )
            });
            let plan = match &share {
                Some(share) => plan.gated(share.identify_gate()),
                None => plan,
            };
            let factory: ShardGatewayFactory = Arc::new(move |seat, publisher, resume| {
                gateway(seat, &plan).shared(publisher, resume)
            });
            let groups: Vec<Vec<ShardSeat>> = match share {
                Some(_) => seats.into_iter().map(|seat| vec![seat]).collect(),
                None => vec![seats],
            };
            for group in groups {
                let lease = shard_lease_name(group[0].id);
                let runner = ShardRunner {
                    store: w.store.clone(),
                    instance: cluster.instance.clone(),
                    timing: cluster.timing,
                    lease,
                    seats: group,
                    share: share.clone(),
                    cluster: w.health.cluster.clone(),
                    supervisor: w.config.supervisor,
                    inbound: w.inbound.clone(),
                    rest: rest.clone(),
                    bot: bot.clone(),
                    draining: cluster.draining.clone(),
                    gateway: factory.clone(),
                };
                platforms.spawn(runner.run(platform_stop.clone()));
            }
        }
    }
    wired
}

/// Ask REST who we are: a 401 stops the platform at once with the token
/// fix; any other failure is left for the gateway to report. The id is
/// kept (a resumed session never sees READY, which also tells it).
async fn verify_token(rest: DiscordRest, bot: BotUserId) -> Result<(), FatalError> {
    match tokio::time::timeout(TOKEN_CHECK_TIMEOUT, rest.current_user()).await {
        Ok(Ok(user)) => {
            let _ = bot.set(user.id);
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
