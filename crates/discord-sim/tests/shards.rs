//! Sharding in the sim: IDENTIFY's `shard` checked, each guild's events
//! only on the session of the shard that owns it, a RESUME keeps its
//! shard, `/gateway/bot` reports the configured shards, every identify
//! recorded with its shard.

mod common;

use common::{ALL, Client, api, http};
use discord_sim::{DiscordSim, ShardPair, SimChannel, SimConfig, SimGuild, shard_of};
use serde_json::{Value, json};

/// The default guild plus one more guild that lands on the other of 2
/// shards, each with one channel.
fn two_guilds() -> SimConfig {
    let first = SimConfig::default();
    let other_shard = 1 - shard_of(first.guild_id, 2);
    let id = (1_200u64..)
        .map(|n| n << 22)
        .find(|id| shard_of(*id, 2) == other_shard)
        .unwrap();
    SimConfig {
        more_guilds: vec![SimGuild {
            id,
            channels: vec![SimChannel {
                id: id + 1,
                name: "second".to_owned(),
            }],
        }],
        recommended_shards: 2,
        max_concurrency: 4,
        ..first
    }
}

async fn identify_as(c: &mut Client, sim: &DiscordSim, shard: Value) {
    c.send(json!({
        "op": 2,
        "d": {
            "token": format!("Bot {}", sim.token()),
            "intents": ALL,
            "properties": { "os": "linux", "browser": "test", "device": "test" },
            "shard": shard,
        }
    }))
    .await;
}

#[tokio::test]
async fn each_shard_gets_only_its_own_guilds() {
    let sim = DiscordSim::start(two_guilds()).await.unwrap();
    let guilds = sim.guild_ids();
    assert_eq!(guilds.len(), 2);
    let mut clients = Vec::new();
    for index in 0..2u32 {
        let mut c = Client::connect(&sim).await;
        identify_as(&mut c, &sim, json!([index, 2])).await;
        let ready = c.dispatch("READY").await;
        assert_eq!(ready["d"]["shard"], json!([index, 2]));
        let owned: Vec<u64> = guilds
            .iter()
            .copied()
            .filter(|g| shard_of(*g, 2) == index)
            .collect();
        assert_eq!(owned.len(), 1, "one guild per shard");
        assert_eq!(ready["d"]["guilds"][0]["id"], owned[0].to_string());
        let created = c.dispatch("GUILD_CREATE").await;
        assert_eq!(created["d"]["id"], owned[0].to_string());
        clients.push((c, owned[0]));
    }
    let user = sim.user(42, "someone");
    for (c, guild) in &mut clients {
        let channel = if *guild == sim.guild_id() {
            sim.channel_ids()[0]
        } else {
            *guild + 1
        };
        let id = sim.inject_message(channel, &user, "hello");
        let created = c.dispatch("MESSAGE_CREATE").await;
        assert_eq!(
            created["d"]["id"],
            id.to_string(),
            "its own guild's message first"
        );
        assert_eq!(created["d"]["guild_id"], guild.to_string());
    }
    let records = sim.identifies();
    let shards: Vec<Option<ShardPair>> = records.iter().map(|r| r.shard).collect();
    assert_eq!(
        shards,
        vec![
            Some(ShardPair { index: 0, count: 2 }),
            Some(ShardPair { index: 1, count: 2 })
        ]
    );
    // Events without a guild (as DMs) go to shard 0 only: shard 1's next
    // frame is its own guild's next message, not the typing event.
    sim.dispatch_raw(
        "TYPING_START",
        json!({ "channel_id": "1", "user_id": "42" }),
    );
    clients[0].0.dispatch("TYPING_START").await;
    let shard_1_guild = clients[1].1;
    let channel = if shard_1_guild == sim.guild_id() {
        sim.channel_ids()[0]
    } else {
        shard_1_guild + 1
    };
    let id = sim.inject_message(channel, &user, "after the typing");
    let next = clients[1].0.dispatch("MESSAGE_CREATE").await;
    assert_eq!(next["d"]["id"], id.to_string());
}

#[tokio::test]
async fn an_invalid_shard_is_closed_with_4010_and_recorded() {
    let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
    for bad in [json!([1, 1]), json!([0, 0]), json!("x")] {
        let mut c = Client::connect(&sim).await;
        identify_as(&mut c, &sim, bad).await;
        assert_eq!(c.close_code().await, Some(4010));
    }
    assert!(sim.identifies().iter().all(|r| r.shard.is_none()));
}

#[tokio::test]
async fn a_resume_keeps_the_sessions_shard() {
    let sim = DiscordSim::start(two_guilds()).await.unwrap();
    let shard_1_guild = *sim
        .guild_ids()
        .iter()
        .find(|g| shard_of(**g, 2) == 1)
        .unwrap();
    let channel = if shard_1_guild == sim.guild_id() {
        sim.channel_ids()[0]
    } else {
        shard_1_guild + 1
    };
    let mut c = Client::connect(&sim).await;
    identify_as(&mut c, &sim, json!([1, 2])).await;
    let ready = c.dispatch("READY").await;
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    c.dispatch("GUILD_CREATE").await;
    c.close(4000).await;
    let user = sim.user(42, "someone");
    let missed = sim.inject_message(channel, &user, "while away");
    let mut again = Client::connect(&sim).await;
    again
        .resume(&format!("Bot {}", sim.token()), &session, 2)
        .await;
    let replayed = again.dispatch("MESSAGE_CREATE").await;
    assert_eq!(replayed["d"]["id"], missed.to_string());
    again.dispatch("RESUMED").await;
    let live = sim.inject_message(channel, &user, "after");
    let created = again.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["id"], live.to_string());
}

#[tokio::test]
async fn gateway_bot_reports_the_configured_shards() {
    let sim = DiscordSim::start(two_guilds()).await.unwrap();
    let body: Value = http(&sim)
        .get(api(&sim, "/gateway/bot"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["shards"], 2);
    assert_eq!(body["session_start_limit"]["max_concurrency"], 4);
}
