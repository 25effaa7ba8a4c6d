//! How many gateway shards this process runs and how their identifies are
//! paced. `discord.shards = 1` (the default) is today's single shard with
//! twilight's default queue and no REST call. Anything else asks
//! `GET /gateway/bot` once at start: "auto" takes its `shards`, and one
//! `InMemoryQueue` built from its `session_start_limit` is shared by every
//! shard (at most `max_concurrency` identifies per 5 s, bucket = shard id
//! % max_concurrency, and the daily budget counted).
//!
//! Owns the decision, its one INFO line, and each shard's names (health
//! connection, saved-session key). It must never connect a shard, and
//! never decide which instance runs the shards (the app's shard runners
//! do, each within its instance's share: ADR 24).

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use twilight_gateway::ShardId;
use twilight_gateway::queue::InMemoryQueue;

use super::cause::DiscordCause;
use super::identify_queue::IdentifyQueue;
use super::rest::{DiscordRest, RestError};
use super::route::{Route, RouteKind};
use crate::config::{DiscordShards, MAX_DISCORD_SHARDS};
use crate::supervisor::{FatalError, fatal_error};

/// Tries of `GET /gateway/bot` at start, each within [`TRY_DEADLINE`],
/// with [`RETRY_PAUSE`] between them: the decision takes 34 s at most
/// (the admin API starts after the wiring it is part of).
const TRIES: u32 = 3;
const TRY_DEADLINE: Duration = Duration::from_secs(10);
const RETRY_PAUSE: Duration = Duration::from_secs(2);

/// The shards to run and the identify queue they share.
#[derive(Clone, Debug)]
pub struct ShardPlan {
    count: u32,
    queue: IdentifyQueue,
}

/// `GET /gateway/bot`'s answer (the fields read).
#[derive(Debug, Deserialize)]
pub struct GatewayBot {
    /// The shard count Discord recommends.
    pub shards: u32,
    pub session_start_limit: SessionStartLimit,
}

#[derive(Debug, Deserialize)]
pub struct SessionStartLimit {
    /// Identifies allowed per period (1000 a day for most bots).
    pub total: u32,
    pub remaining: u32,
    /// Milliseconds until `remaining` is reset to `total`.
    pub reset_after: u64,
    /// Identifies allowed per 5 s (one per bucket `shard % max_concurrency`).
    pub max_concurrency: u16,
}

/// One `GET /gateway/bot` (also `switchboard check --online`).
pub async fn gateway_bot(rest: &DiscordRest) -> Result<GatewayBot, RestError> {
    let url = rest.url(&["gateway", "bot"], &[])?;
    rest.call(Method::GET, Route::global(RouteKind::GatewayBot), url, None)
        .await
}

impl ShardPlan {
    /// One shard, twilight's default queue (1 identify per 5 s, 1000 a
    /// day): exactly what ran before `discord.shards`.
    pub fn single() -> ShardPlan {
        ShardPlan {
            count: 1,
            queue: IdentifyQueue::default(),
        }
    }

    /// Decide from the config, asking `/gateway/bot` when it says more
    /// than one shard or "auto". Fatal: a 401, or "auto" without an
    /// answer (there is no count to run); a fixed count without an answer
    /// runs paced at 1 identify per 5 s. `Ok(None)` on `stop`.
    pub async fn decide(
        wanted: DiscordShards,
        rest: &DiscordRest,
        stop: &CancellationToken,
    ) -> Result<Option<ShardPlan>, FatalError> {
        if !wanted.needs_gateway_bot() {
            return Ok(Some(ShardPlan::single()));
        }
        let answer = tokio::select! {
            () = stop.cancelled() => return Ok(None),
            answer = ask_gateway_bot(rest) => answer,
        };
        let plan = match (wanted, answer) {
            (_, Err(Asked::Unauthorized)) => {
                return Err(
                    fatal_error("discord", &DiscordCause::RestUnauthorized).expect("401 is fatal")
                );
            }
            (DiscordShards::Auto, Err(Asked::Failed(err))) => {
                return Err(FatalError {
                    platform: "discord",
                    cause: format!(
                        "discord.shards = \"auto\" but GET /gateway/bot did not answer: {err}"
                    ),
                    fix: "check that Discord's API is reachable from here, or set discord.shards \
                          to a number"
                        .to_owned(),
                });
            }
            (DiscordShards::Auto, Ok(bot)) if bot.shards > MAX_DISCORD_SHARDS => {
                return Err(FatalError {
                    platform: "discord",
                    cause: format!(
                        "Discord recommends {} shards, more than the {MAX_DISCORD_SHARDS} one \
                         instance runs",
                        bot.shards
                    ),
                    fix: "this bot is too large for one switchboard instance today".to_owned(),
                });
            }
            (DiscordShards::Count(count), Err(Asked::Failed(err))) => {
                tracing::warn!(platform = "discord", %err, shards = count, "GET /gateway/bot did not answer: identifies paced at 1 per 5 s");
                ShardPlan {
                    count,
                    queue: IdentifyQueue::default(),
                }
            }
            (wanted, Ok(bot)) => {
                let count = match wanted {
                    DiscordShards::Count(count) => count,
                    DiscordShards::Auto => bot.shards.max(1),
                };
                let limit = &bot.session_start_limit;
                let why = match wanted {
                    DiscordShards::Count(_) => "discord.shards",
                    DiscordShards::Auto => "discord.shards = \"auto\": Discord's recommendation",
                };
                tracing::info!(
                    platform = "discord",
                    shards = count,
                    why,
                    recommended = bot.shards,
                    max_concurrency = limit.max_concurrency,
                    identifies_remaining = limit.remaining,
                    "running {count} gateway shards"
                );
                ShardPlan {
                    count,
                    queue: IdentifyQueue::new(
                        InMemoryQueue::new(
                            limit.max_concurrency.max(1),
                            limit.remaining.min(limit.total),
                            Duration::from_millis(limit.reset_after),
                            limit.total,
                        ),
                        u32::from(limit.max_concurrency.max(1)),
                    ),
                }
            }
        };
        Ok(Some(plan))
    }

    /// How many shards.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// Every shard, `[0, n)` of `n`.
    pub fn ids(&self) -> impl Iterator<Item = ShardId> + use<> {
        let count = self.count;
        (0..count).map(move |number| ShardId::new(number, count))
    }

    /// The identify queue every shard of this process shares.
    pub fn queue(&self) -> IdentifyQueue {
        self.queue.clone()
    }

    /// Every identify also waits for `gate` (shards spread over several
    /// instances: the pacing holds bot-wide).
    pub fn gated(mut self, gate: super::identify_queue::IdentifyGate) -> ShardPlan {
        self.queue = self.queue.with_gate(gate);
        self
    }
}

/// The health connection's name of a shard (`shard-0` as before).
pub fn shard_connection_name(id: ShardId) -> String {
    format!("shard-{}", id.number())
}

/// The key a shard's session is saved under for a standby: `discord:0`
/// for the single shard (as before), `discord:{i}/{n}` with more, so that
/// a session is never resumed with another shard count.
pub fn shard_session_key(id: ShardId) -> String {
    if id.total() == 1 {
        "discord:0".to_owned()
    } else {
        format!("discord:{}/{}", id.number(), id.total())
    }
}

enum Asked {
    Unauthorized,
    Failed(String),
}

async fn ask_gateway_bot(rest: &DiscordRest) -> Result<GatewayBot, Asked> {
    let mut last = String::new();
    for attempt in 1..=TRIES {
        match tokio::time::timeout(TRY_DEADLINE, gateway_bot(rest)).await {
            Ok(Ok(bot)) => return Ok(bot),
            Ok(Err(err)) if err.is_unauthorized() => return Err(Asked::Unauthorized),
            Ok(Err(err)) => last = err.to_string(),
            Err(_) => last = format!("no answer within {} s", TRY_DEADLINE.as_secs()),
        }
        if attempt < TRIES {
            tokio::time::sleep(RETRY_PAUSE).await;
        }
    }
    Err(Asked::Failed(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shard_keeps_the_old_names() {
        let id = ShardId::ONE;
        assert_eq!(shard_session_key(id), "discord:0");
        assert_eq!(shard_connection_name(id), "shard-0");
    }

    #[test]
    fn several_shards_key_their_sessions_by_the_count() {
        assert_eq!(shard_session_key(ShardId::new(1, 3)), "discord:1/3");
        assert_ne!(
            shard_session_key(ShardId::new(0, 2)),
            shard_session_key(ShardId::new(0, 3)),
            "a session is never resumed with another count"
        );
        assert_eq!(shard_connection_name(ShardId::new(2, 3)), "shard-2");
    }

    #[tokio::test]
    async fn the_default_is_one_shard_without_a_rest_call() {
        // An unreachable API: a call would fail, the default makes none.
        let rest = DiscordRest::new(
            &crate::config::Secret::new("t".into()),
            "http://127.0.0.1:9",
        );
        let plan = ShardPlan::decide(DiscordShards::Count(1), &rest, &CancellationToken::new())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(plan.count(), 1);
        assert_eq!(plan.ids().collect::<Vec<_>>(), vec![ShardId::ONE]);
    }
}
