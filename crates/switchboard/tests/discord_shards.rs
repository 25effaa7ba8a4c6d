//! `discord.shards` as real processes against a discord-sim with guilds
//! spread over the shards: every shard identifies once with its `[i, n]`,
//! paced by `/gateway/bot`'s max_concurrency (one identify per bucket per
//! 5 s), each guild's mention is answered once by the shard that owns it,
//! /status, /readyz and /metrics show every shard; on several instances
//! the holder runs every shard and a standby RESUMEs them all.

mod support;

use std::time::Duration;

use discord_sim::{ShardPair, SimConfig};
use serde_json::Value;
use support::chat::Chat;
use support::cluster::TTL;
use support::postgres::{TestDatabase, store_lines};
use support::{Options, bot_messages};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
/// Discord's identify window per bucket.
const IDENTIFY_WINDOW: Duration = Duration::from_secs(5);
/// An identify is sent right after its queue permit; the permits of one
/// bucket are 5 s apart, the sends may differ by this much.
const SEND_JITTER: Duration = Duration::from_millis(50);
/// The shard count `/gateway/bot` recommends in the "auto" test.
const SHARDS: u32 = 4;

/// The default guild plus one guild per shard of `count` (so that every
/// shard owns one at least), each with one channel; `/gateway/bot` says
/// `recommended` shards and `max_concurrency`.
fn spread_guilds(count: u32, recommended: u32, max_concurrency: u32) -> SimConfig {
    SimConfig {
        recommended_shards: recommended,
        max_concurrency,
        ..SimConfig::default()
    }
    .with_a_guild_per_shard(count)
}

fn options(sim: SimConfig, discord: &'static str) -> Options {
    Options {
        sim: Some(sim),
        discord,
        ..Options::default()
    }
}

/// One text channel of every guild the bot is in.
fn a_channel_per_guild(chat: &Chat) -> Vec<(u64, u64)> {
    let sim = &chat.h.sim;
    sim.guild_ids()
        .into_iter()
        .map(|guild| {
            let channel = if guild == sim.guild_id() {
                chat.channel
            } else {
                sim.channels_of(guild)[0]
            };
            (guild, channel)
        })
        .collect()
}

/// Mention the bot in `channel`.
fn ask_in(chat: &Chat, channel: u64, text: &str) -> u64 {
    chat.h
        .sim
        .inject_message(channel, &chat.alice, &format!("{} {text}", chat.mention))
}

/// The bot answered `asked` in exactly one thread, with exactly one reply
/// that carries the prompt.
fn answered_once(chat: &Chat, asked: u64, prompt: &str) {
    let threads = chat.h.sim.threads();
    let opened = threads.iter().filter(|t| t.id == asked).count();
    assert_eq!(opened, 1, "one thread for {asked}: {threads:?}");
    let replies: Vec<String> = bot_messages(&chat.h.sim, asked)
        .into_iter()
        .map(|m| m.content)
        .filter(|text| text.contains(prompt))
        .collect();
    assert_eq!(replies.len(), 1, "one answer to {prompt:?}: {replies:#?}");
}

/// GET `path` on an admin listener.
async fn admin_json(admin: &str, path: &str) -> (u16, Value) {
    switchboard::install_crypto_provider();
    let response = reqwest::get(format!("{admin}{path}"))
        .await
        .expect("admin answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

/// The Discord connections /status lists: (name, state).
fn discord_connections(status: &Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = status["connections"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["platform"] == "discord")
        .map(|c| {
            let state = &c["state"];
            let state = state
                .as_str()
                .or_else(|| state["state"].as_str())
                .unwrap_or_default();
            (
                c["connection"].as_str().unwrap_or_default().to_owned(),
                state.to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

/// Wait until /status shows `count` Discord shards, every one `state`.
async fn wait_shards(admin: &str, count: u32, state: &str, within: Duration) {
    let want: Vec<(String, String)> = (0..count)
        .map(|i| (format!("shard-{i}"), state.to_owned()))
        .collect();
    let deadline = Instant::now() + within;
    loop {
        let (_, status) = admin_json(admin, "/status").await;
        let seen = discord_connections(&status);
        if seen == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not every shard {state} within {within:?}: {seen:?}\n{status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The shards the sim saw identify, in order, and when.
fn identified(chat: &Chat) -> Vec<(Instant, ShardPair)> {
    chat.h
        .sim
        .identifies()
        .into_iter()
        .map(|r| (r.at, r.shard.expect("a valid shard")))
        .collect()
}

fn at_of(identifies: &[(Instant, ShardPair)], index: u32) -> Instant {
    identifies
        .iter()
        .find(|(_, shard)| shard.index == index)
        .map(|(at, _)| *at)
        .unwrap_or_else(|| panic!("shard {index} never identified: {identifies:?}"))
}

/// Every guild's mention is answered once, each by its own shard.
async fn every_guild_answered_once(chat: &Chat, tag: &str) {
    let asked: Vec<(u64, String)> = a_channel_per_guild(chat)
        .into_iter()
        .map(|(guild, channel)| {
            let prompt = format!("{tag} in guild {guild}");
            (ask_in(chat, channel, &prompt), prompt)
        })
        .collect();
    let channels = a_channel_per_guild(chat);
    for ((asked, prompt), (_, channel)) in asked.iter().zip(channels) {
        chat.done(channel, *asked).await;
        answered_once(chat, *asked, prompt);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_runs_the_recommended_shards_each_guild_answered_once_identifies_paced_by_bucket() {
    // 4 shards, max_concurrency 2: buckets 0 {0, 2} and 1 {1, 3}.
    let chat = Chat::start(options(
        spread_guilds(SHARDS, SHARDS, 2),
        "allow_all_users = true\nshards = \"auto\"",
    ))
    .await;
    let decided = chat
        .h
        .logs
        .wait_message(5 * SECOND, "running 4 gateway shards")
        .await;
    assert_eq!(decided["max_concurrency"], 2, "{decided}");
    wait_shards(&chat.h.admin, SHARDS, "active", 20 * SECOND).await;

    let identifies = identified(&chat);
    let mut shards: Vec<ShardPair> = identifies.iter().map(|(_, s)| *s).collect();
    shards.sort();
    let want: Vec<ShardPair> = (0..SHARDS)
        .map(|index| ShardPair {
            index,
            count: SHARDS,
        })
        .collect();
    assert_eq!(shards, want, "one identify per shard with its [i, n]");
    // twilight's queue lets each bucket through once per 5 s tick. The
    // first tick comes with the first ask, so it may carry one shard or
    // two; the next finds both buckets waiting and lets two through at
    // once. So: two of different buckets within a second of each other,
    // the two of a bucket at least 5 s apart, never three in one window.
    let at: Vec<Instant> = (0..SHARDS).map(|i| at_of(&identifies, i)).collect();
    let apart = |a: Instant, b: Instant| a.max(b) - a.min(b);
    let together = [(0, 1), (0, 3), (2, 1), (2, 3)]
        .iter()
        .map(|(a, b)| apart(at[*a], at[*b]))
        .min()
        .unwrap();
    let same_bucket = [apart(at[0], at[2]), apart(at[1], at[3])];
    eprintln!(
        "identifies: the closest of two buckets {together:?} apart; each bucket's two {same_bucket:?} apart"
    );
    assert!(
        together < SECOND,
        "two buckets identify together: {together:?}"
    );
    for apart in same_bucket {
        assert!(
            apart >= IDENTIFY_WINDOW - SEND_JITTER,
            "one bucket identifies once per 5 s: {apart:?}"
        );
    }
    for first in &at {
        let in_window = at
            .iter()
            .filter(|t| **t >= *first && **t - *first < IDENTIFY_WINDOW - SEND_JITTER)
            .count();
        assert!(in_window <= 2, "max_concurrency 2 per 5 s: {at:?}");
    }

    every_guild_answered_once(&chat, "hello").await;
    let (ready, body) = chat.h.get_json("/readyz").await;
    assert_eq!(ready, 200, "{body}");
    let metrics = chat.h.get("/metrics").await.1;
    for index in 0..SHARDS {
        let series = format!(
            "switchboard_gateway_healthy{{platform=\"discord\",connection=\"shard-{index}\"}} 1"
        );
        assert!(metrics.contains(&series), "{series} in\n{metrics}");
    }
    assert_eq!(
        chat.h.sim.identifies().len(),
        SHARDS as usize,
        "nothing identified anew"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_count_with_max_concurrency_1_identifies_5_s_apart() {
    // /gateway/bot recommends 1: a number in the config wins. A handshake
    // deadline shorter than shard 1's wait for its turn: waiting in the
    // identify queue must not count as a handshake that hangs.
    let chat = Chat::start(Options {
        supervisor: "handshake_timeout = \"3s\"",
        ..options(spread_guilds(2, 1, 1), "allow_all_users = true\nshards = 2")
    })
    .await;
    wait_shards(&chat.h.admin, 2, "active", 15 * SECOND).await;
    let (_, status) = chat.h.get_json("/status").await;
    for connection in status["connections"].as_array().unwrap() {
        assert_eq!(connection["reconnects"], 0, "{status}");
    }
    let identifies = identified(&chat);
    assert_eq!(identifies.len(), 2, "{identifies:?}");
    let (zero, one) = (at_of(&identifies, 0), at_of(&identifies, 1));
    let apart = zero.max(one) - zero.min(one);
    eprintln!("identifies with max_concurrency 1: {apart:?} apart");
    assert!(
        apart >= IDENTIFY_WINDOW - SEND_JITTER,
        "one identify per 5 s: {apart:?}"
    );
    every_guild_answered_once(&chat, "fixed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shard_is_the_default_and_asks_no_gateway_bot() {
    let chat = Chat::start(Options::default()).await;
    wait_shards(&chat.h.admin, 1, "active", 10 * SECOND).await;
    let identifies = identified(&chat);
    assert_eq!(identifies.len(), 1);
    assert_eq!(identifies[0].1, ShardPair::ONLY);
    let asked_gateway_bot = chat
        .h
        .sim
        .rest_calls()
        .iter()
        .any(|call| call.path.contains("/gateway/bot"));
    assert!(!asked_gateway_bot, "no /gateway/bot for one shard");
}

/// Wait until `admin`'s instance shows exactly `active` of its shards
/// active (the others standing by); the active ones' names.
async fn wait_active(admin: &str, active: usize, within: Duration) -> Vec<String> {
    let deadline = Instant::now() + within;
    loop {
        let (_, status) = admin_json(admin, "/status").await;
        let seen = discord_connections(&status);
        let running: Vec<String> = seen
            .iter()
            .filter(|(_, state)| state == "active")
            .map(|(name, _)| name.clone())
            .collect();
        let standing_by = seen.iter().filter(|(_, state)| state == "standby").count();
        if running.len() == active && running.len() + standing_by == seen.len() {
            return running;
        }
        assert!(
            Instant::now() < deadline,
            "not {active} shards active within {within:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shards_spread_over_the_instances_and_a_dead_ones_are_resumed_by_the_other() {
    let db = TestDatabase::create().await;
    let url = db.url.clone();
    let mut chat = Chat::start(Options {
        store: store_lines(&url),
        cluster: "lease_ttl = \"2s\"",
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"300ms\"",
        ..options(spread_guilds(2, 2, 2), "allow_all_users = true\nshards = 2")
    })
    .await;
    // Alone, the first instance's share is every shard.
    wait_shards(&chat.h.admin, 2, "active", 15 * SECOND).await;
    assert_eq!(chat.h.sim.identifies().len(), 2);
    // A second instance: ceil(2 / 2) = 1 each. The first gives one back,
    // closed resumably with its session saved, and the second RESUMEs it.
    let peer = chat.h.spawn_peer().await;
    chat.h
        .logs
        .wait_message(
            10 * SECOND,
            "giving a Discord shard back: this instance holds more than its share",
        )
        .await;
    let on_peer = wait_active(&peer.admin, 1, 10 * SECOND).await;
    let on_first = wait_active(&chat.h.admin, 1, 5 * SECOND).await;
    assert_ne!(on_peer, on_first, "each runs its own shard");
    assert_eq!(
        chat.h.sim.identifies().len(),
        2,
        "a shard given back is RESUMEd, never identified anew"
    );
    every_guild_answered_once(&chat, "spread").await;

    // The first instance dies: the other takes its shard once its lease
    // expires, by RESUME.
    let identifies_before = chat.h.sim.identifies().len();
    let resumed_before = chat.h.sim.resumes().iter().filter(|r| r.accepted).count();
    chat.h.kill9().await;
    let killed = Instant::now();
    let gap: Vec<(u64, u64, String)> = a_channel_per_guild(&chat)
        .into_iter()
        .map(|(guild, channel)| {
            let prompt = format!("in the gap in guild {guild}");
            (channel, ask_in(&chat, channel, &prompt), prompt)
        })
        .collect();
    wait_shards(&peer.admin, 2, "active", TTL + 8 * SECOND).await;
    let took = killed.elapsed();
    eprintln!("spread shards: the dead instance's shard resumed by the other after {took:?}");
    assert!(took < TTL + 2 * SECOND, "taken over after {took:?}");
    assert_eq!(chat.h.sim.identifies().len(), identifies_before);
    let resumed = chat.h.sim.resumes().iter().filter(|r| r.accepted).count();
    assert_eq!(resumed, resumed_before + 1, "the dead one's shard resumed");
    for (channel, asked, prompt) in &gap {
        chat.done(*channel, *asked).await;
        answered_once(&chat, *asked, prompt);
    }
    peer.stop(5 * SECOND).await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identifies_stay_paced_when_two_instances_identify_at_once() {
    // One identify per 5 s for the whole bot (max_concurrency 1). The
    // first instance identifies both shards and dies; its saved sessions
    // are gone, so the two instances that take its shards (one each: their
    // share) must both identify: a window apart, though in two processes
    // (each waits for the bucket's lease in the store).
    let db = TestDatabase::create().await;
    let url = db.url.clone();
    let mut chat = Chat::start(Options {
        store: store_lines(&url),
        cluster: "lease_ttl = \"2s\"",
        supervisor: "handshake_timeout = \"3s\"",
        ..options(spread_guilds(2, 2, 1), "allow_all_users = true\nshards = 2")
    })
    .await;
    wait_shards(&chat.h.admin, 2, "active", 15 * SECOND).await;
    chat.h.kill9().await;
    let mut conn = db.connect().await;
    sqlx::query("DELETE FROM gateway_sessions")
        .execute(&mut conn)
        .await
        .unwrap();
    let before = identified(&chat).len();
    let peers = [chat.h.spawn_peer().await, chat.h.spawn_peer().await];
    let on_first = wait_active(&peers[0].admin, 1, 20 * SECOND).await;
    let on_second = wait_active(&peers[1].admin, 1, 20 * SECOND).await;
    assert_ne!(on_first, on_second, "one shard each");
    let identifies = identified(&chat);
    assert_eq!(identifies.len(), before + 2, "{identifies:?}");
    let (a, b) = (identifies[before].0, identifies[before + 1].0);
    let apart = b - a;
    eprintln!("two instances identifying at once, max_concurrency 1: {apart:?} apart");
    assert!(
        apart >= IDENTIFY_WINDOW - SEND_JITTER,
        "one identify per 5 s bot-wide: {apart:?}"
    );
    for peer in &peers {
        assert_eq!(peer.logs.count_message("gateway READY (new session)"), 1);
    }
    every_guild_answered_once(&chat, "paced").await;
    for peer in peers {
        peer.stop(5 * SECOND).await;
    }
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_without_an_answer_from_gateway_bot_stops_with_one_error_naming_the_fix() {
    let sim = discord_sim::DiscordSim::start(SimConfig {
        heartbeat_interval: Options::default().heartbeat,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.fail_rest(
        discord_sim::RestFault::ServerError(503),
        100,
        Some("/gateway/bot"),
    );
    let mut h = support::Harness::start_with_sim(
        sim,
        Options {
            discord: "allow_all_users = true\nshards = \"auto\"",
            ..Options::default()
        },
    )
    .await;
    let status = h.wait_exit(20 * SECOND).await;
    assert!(
        !status.success(),
        "no shard count to run: the platform stops"
    );
    let asked = h
        .sim
        .rest_calls()
        .iter()
        .filter(|c| c.path == "/api/v10/gateway/bot")
        .count();
    assert_eq!(asked, 3, "three tries, then the operator is told");
    let errors: Vec<Value> = h
        .logs
        .json()
        .into_iter()
        .filter(|v| v["level"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "one ERROR line: {errors:?}");
    let text = errors[0].to_string();
    assert!(
        text.contains("GET /gateway/bot did not answer")
            && text.contains("set discord.shards to a number"),
        "{text}"
    );
    assert!(h.sim.identifies().is_empty(), "no shard was started");
}
