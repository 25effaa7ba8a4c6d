//! The real clients switchboard uses (twilight-http and twilight-gateway
//! 0.18) against the sim: REST round trips, 429 retry, and a gateway
//! session that survives a dropped connection by resuming.

mod common;

use std::time::Duration;

use discord_sim::{DiscordSim, RestFault, SimConfig};
use twilight_gateway::{ConfigBuilder, Event, EventTypeFlags, Intents, Shard, ShardId, StreamExt};
use twilight_http::Client;
use twilight_http::request::channel::reaction::RequestReactionType;
use twilight_model::id::Id;

const DEADLINE: Duration = Duration::from_secs(20);

/// twilight's rustls needs one process-wide crypto provider.
fn init_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn http(sim: &DiscordSim) -> Client {
    init_crypto();
    Client::builder()
        .token(sim.token())
        .proxy(sim.addr().to_string(), true)
        .build()
}

#[tokio::test]
async fn twilight_http_round_trips() {
    let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
    let client = http(&sim);
    let ch = Id::new(sim.channel_ids()[0]);

    let me = client.current_user().await.unwrap().model().await.unwrap();
    assert_eq!(me.id.get(), sim.bot_user().id);
    let info = client
        .gateway()
        .authed()
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(info.url, sim.gateway_url());

    let msg = client
        .create_message(ch)
        .content("hello")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    let edited = client
        .update_message(ch, msg.id)
        .content(Some("hello!"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(edited.content, "hello!");
    let thread = client
        .create_thread_from_message(ch, msg.id, "a thread")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(thread.id.get(), msg.id.get());
    client
        .create_reaction(ch, msg.id, &RequestReactionType::Unicode { name: "👀" })
        .await
        .unwrap();
    client
        .create_message(thread.id.cast())
        .content("in the thread")
        .await
        .unwrap();
    let listed = client
        .channel_messages(ch)
        .limit(10)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(sim.reactions(ch.get(), msg.id.get()), vec!["👀".to_owned()]);
    assert_eq!(sim.messages(thread.id.get()).len(), 1);
}

#[tokio::test]
async fn twilight_http_retries_a_429() {
    let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
    let client = http(&sim);
    let ch = Id::new(sim.channel_ids()[0]);
    sim.fail_rest(
        RestFault::TooManyRequests {
            retry_after: 0.2,
            global: false,
        },
        1,
        Some("/messages"),
    );
    tokio::time::timeout(DEADLINE, client.create_message(ch).content("after 429"))
        .await
        .expect("retry took too long")
        .unwrap();
    let statuses: Vec<u16> = sim
        .rest_calls()
        .iter()
        .filter(|c| c.path.ends_with("/messages"))
        .map(|c| c.status)
        .collect();
    assert_eq!(statuses, vec![429, 200]);
}

async fn next_event(shard: &mut Shard) -> Event {
    tokio::time::timeout(DEADLINE, shard.next_event(EventTypeFlags::all()))
        .await
        .expect("no event within the deadline")
        .expect("shard stream ended")
        .expect("receive error")
}

/// Waits for the first event matching `pick`, skipping others.
async fn until<T>(shard: &mut Shard, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    loop {
        let event = next_event(shard).await;
        if let Some(found) = pick(&event) {
            return found;
        }
    }
}

#[tokio::test]
async fn twilight_gateway_resumes_after_a_drop() {
    let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
    let alice = sim.user(7, "alice");
    let ch = sim.channel_ids()[0];
    let intents = Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::MESSAGE_CONTENT;
    init_crypto();
    let config = ConfigBuilder::new(sim.token(), intents)
        .proxy_url(sim.gateway_url())
        .build();
    let mut shard = Shard::with_config(ShardId::ONE, config);

    until(&mut shard, |e| matches!(e, Event::Ready(_)).then_some(())).await;
    until(&mut shard, |e| {
        matches!(e, Event::GuildCreate(_)).then_some(())
    })
    .await;
    sim.inject_message(ch, &alice, "first");
    let first = until(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.content.clone()),
        _ => None,
    })
    .await;
    assert_eq!(first, "first");

    sim.drop_connections();
    sim.wait_until(DEADLINE, |s| (s.live_connections() == 0).then_some(()))
        .await
        .unwrap();
    sim.inject_message(ch, &alice, "missed");
    let missed = until(&mut shard, |e| match e {
        Event::MessageCreate(m) => Some(m.content.clone()),
        _ => None,
    })
    .await;
    assert_eq!(missed, "missed");
    until(&mut shard, |e| matches!(e, Event::Resumed).then_some(())).await;

    let resumes = sim.resumes();
    assert_eq!(resumes.len(), 1);
    assert!(resumes[0].accepted);
    assert_eq!(resumes[0].path, "/?v=10&encoding=json");
    assert_eq!(sim.identifies().len(), 1);
}

#[tokio::test]
async fn twilight_gateway_stops_on_a_bad_token() {
    init_crypto();
    let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
    let config = ConfigBuilder::new("wrong".to_owned(), Intents::GUILDS)
        .proxy_url(sim.gateway_url())
        .build();
    let mut shard = Shard::with_config(ShardId::ONE, config);
    let mut close_code = None;
    // The stream ends (None) on a fatal close code.
    while let Some(item) = tokio::time::timeout(DEADLINE, shard.next_event(EventTypeFlags::all()))
        .await
        .expect("shard did not stop")
    {
        if let Ok(Event::GatewayClose(Some(frame))) = item {
            close_code = Some(frame.code);
        }
    }
    assert_eq!(close_code, Some(4004));
    assert!(!sim.identifies()[0].token_ok);
}
