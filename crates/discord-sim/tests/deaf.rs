//! Deaf but connected: muted dispatch kinds (no frame, no sequence number,
//! heartbeats still ACKed, REST still showing the messages) and delayed
//! dispatch kinds (late but in order), driven by a raw WebSocket client.

mod common;

use std::time::Duration;

use common::{ALL, Client, Frame, WAIT, api, http};
use discord_sim::{DiscordSim, SimConfig};
use serde_json::{Value, json};
use tokio::time::Instant;

async fn sim() -> DiscordSim {
    DiscordSim::start(SimConfig::default()).await.unwrap()
}

/// Sends a heartbeat and asserts the very next frame is its ACK (so no
/// dispatch was queued ahead of it).
async fn next_is_ack(c: &mut Client, seq: u64) {
    c.heartbeat(Some(seq)).await;
    let v = c.json().await;
    assert_eq!(v["op"], 11, "expected the heartbeat ACK, got {v}");
}

async fn get_json(sim: &DiscordSim, path: &str) -> Value {
    let r = tokio::time::timeout(WAIT, http(sim).get(api(sim, path)).send())
        .await
        .expect("REST call timed out")
        .expect("REST call failed");
    assert_eq!(r.status(), 200, "GET {path}");
    r.json().await.unwrap()
}

async fn last_message_id(sim: &DiscordSim, channel: u64) -> String {
    get_json(sim, &format!("/channels/{channel}")).await["last_message_id"]
        .as_str()
        .expect("last_message_id")
        .to_owned()
}

#[tokio::test]
async fn muted_kind_is_not_delivered_while_heartbeats_are_acked() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let channel = sim.channel_ids()[0];
    let mut c = Client::connect(&sim).await;
    let ready = c.ready(&sim, ALL).await;
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let before = sim.inject_message(channel, &alice, "heard");
    assert_eq!(c.dispatch("MESSAGE_CREATE").await["s"], 3);

    sim.mute_dispatches(&["MESSAGE_CREATE"]);
    let muted = sim.inject_message(channel, &alice, "<@1> are you there?");
    next_is_ack(&mut c, 3).await;
    assert_eq!(sim.session_seq(&session), Some(3), "no number spent");
    let record = sim.muted_dispatches();
    assert_eq!(record.len(), 1);
    assert_eq!(record[0].event, "MESSAGE_CREATE");
    assert_eq!(record[0].session_id, session);
    assert_eq!(record[0].data["id"], muted.to_string());

    // Other kinds still flow, numbered right after the last delivered one.
    sim.dispatch_raw("TYPING_START", json!({ "channel_id": channel.to_string() }));
    assert_eq!(c.dispatch("TYPING_START").await["s"], 4);
    next_is_ack(&mut c, 4).await;

    // REST shows the muted message.
    assert_eq!(last_message_id(&sim, channel).await, muted.to_string());
    let after = get_json(
        &sim,
        &format!("/channels/{channel}/messages?after={before}"),
    )
    .await;
    assert_eq!(after[0]["id"], muted.to_string());

    // Unmuting restores later deliveries; the muted one stays undelivered.
    sim.unmute_dispatches();
    let later = sim.inject_message(channel, &alice, "again");
    let m = c.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        (m["s"].as_u64(), m["d"]["id"].as_str()),
        (Some(5), Some(&*later.to_string()))
    );
    assert_eq!(sim.muted_dispatches().len(), 1);
}

#[tokio::test]
async fn a_resumed_session_stays_muted_and_replays_nothing() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let channel = sim.channel_ids()[0];
    let mut c = Client::connect(&sim).await;
    let ready = c.ready(&sim, ALL).await;
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    sim.mute_dispatches(&["MESSAGE_CREATE"]);
    sim.inject_message(channel, &alice, "lost one");

    sim.drop_connections();
    assert!(matches!(c.next().await, Frame::Gone));
    sim.wait_until(WAIT, |s| (s.live_connections() == 0).then_some(()))
        .await
        .expect("connection not closed");
    sim.inject_message(channel, &alice, "lost while away");

    let mut c2 = Client::connect(&sim).await;
    c2.resume(&sim.token(), &session, 2).await;
    let resumed = c2.json().await;
    assert_eq!(
        resumed["t"], "RESUMED",
        "nothing replayed before it: {resumed}"
    );
    assert_eq!(resumed["s"], 3);
    sim.inject_message(channel, &alice, "lost after resume");
    next_is_ack(&mut c2, 3).await;
    assert_eq!(sim.muted_dispatches().len(), 3);
}

#[tokio::test]
async fn a_new_session_is_not_muted_unless_all_sessions_are() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let channel = sim.channel_ids()[0];
    let mut old = Client::connect(&sim).await;
    old.ready(&sim, ALL).await;
    sim.mute_dispatches(&["MESSAGE_CREATE"]);

    let mut fresh = Client::connect(&sim).await;
    fresh.ready(&sim, ALL).await;
    let id = sim.inject_message(channel, &alice, "hello");
    assert_eq!(
        fresh.dispatch("MESSAGE_CREATE").await["d"]["id"],
        id.to_string()
    );
    next_is_ack(&mut old, 2).await;

    // The variant that a reconnect does not heal.
    sim.mute_dispatches_all_sessions(&["MESSAGE_CREATE"]);
    let mut third = Client::connect(&sim).await;
    third.ready(&sim, ALL).await;
    sim.inject_message(channel, &alice, "anyone?");
    for c in [&mut old, &mut fresh, &mut third] {
        next_is_ack(c, 3).await;
    }
    assert_eq!(sim.muted_dispatches().len(), 1 + 3);
    assert_eq!(sim.muted_dispatch_total(), 4);

    sim.unmute_dispatches();
    let id = sim.inject_message(channel, &alice, "back");
    for c in [&mut old, &mut fresh, &mut third] {
        assert_eq!(
            c.dispatch("MESSAGE_CREATE").await["d"]["id"],
            id.to_string()
        );
    }
    let mut fourth = Client::connect(&sim).await;
    fourth.ready(&sim, ALL).await;
    sim.inject_message(channel, &alice, "and for new ones");
    fourth.dispatch("MESSAGE_CREATE").await;
}

#[tokio::test]
async fn last_message_id_follows_every_message_in_channels_and_threads() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let channel = sim.channel_ids()[0];
    let mut c = Client::connect(&sim).await;
    c.ready(&sim, ALL).await;
    sim.mute_dispatches(&["MESSAGE_CREATE"]);
    let empty = get_json(&sim, &format!("/channels/{channel}")).await;
    assert_eq!(empty["last_message_id"], Value::Null);

    let rest = http(&sim);
    let post = |ch: u64, content: &str| {
        rest.post(api(&sim, &format!("/channels/{ch}/messages")))
            .json(&json!({ "content": content }))
            .send()
    };
    let own: Value = post(channel, "the bot's own post")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let own_id = own["id"].as_str().unwrap().to_owned();
    assert_eq!(last_message_id(&sim, channel).await, own_id);

    let thread: Value = rest
        .post(api(
            &sim,
            &format!("/channels/{channel}/messages/{own_id}/threads"),
        ))
        .json(&json!({ "name": "talk" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let thread_id: u64 = thread["id"].as_str().unwrap().parse().unwrap();
    let in_thread = sim.inject_message(thread_id, &alice, "muted, in the thread");
    let t = get_json(&sim, &format!("/channels/{thread_id}")).await;
    assert_eq!(t["type"], 11);
    assert_eq!(t["last_message_id"], in_thread.to_string());
    let bot_reply: Value = post(thread_id, "reply")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        last_message_id(&sim, thread_id).await,
        bot_reply["id"].as_str().unwrap()
    );
    // The channel's own last message is unchanged by thread traffic.
    assert_eq!(last_message_id(&sim, channel).await, own_id);
    // The thread's creation still reached the gateway; no message did.
    c.dispatch("THREAD_CREATE").await;
    next_is_ack(&mut c, 3).await;
}

#[tokio::test]
async fn delayed_kind_arrives_after_the_delay_in_order_while_acks_do_not_wait() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let channel = sim.channel_ids()[0];
    let mut c = Client::connect(&sim).await;
    c.ready(&sim, ALL).await;
    // Long enough that a busy machine still sends the heartbeat within it.
    let delay = Duration::from_secs(1);
    sim.delay_dispatches(&["MESSAGE_CREATE"], delay);

    let sent_at = Instant::now();
    let id = sim.inject_message(channel, &alice, "slow");
    sim.dispatch_raw("TYPING_START", json!({ "channel_id": channel.to_string() }));
    // The ACK overtakes the held dispatch.
    next_is_ack(&mut c, 2).await;

    let m = c.dispatch("MESSAGE_CREATE").await;
    let arrived = sent_at.elapsed();
    assert!(
        arrived >= delay,
        "delivered after {arrived:?}, before the {delay:?} delay"
    );
    assert_eq!(
        (m["s"].as_u64(), m["d"]["id"].as_str()),
        (Some(3), Some(&*id.to_string()))
    );
    // The undelayed kind dispatched after it came after it, not before.
    assert_eq!(c.dispatch("TYPING_START").await["s"], 4);

    sim.delay_dispatches(&["MESSAGE_CREATE"], Duration::ZERO);
    let sent_at = Instant::now();
    sim.inject_message(channel, &alice, "fast again");
    c.dispatch("MESSAGE_CREATE").await;
    assert!(
        sent_at.elapsed() < delay,
        "still delayed after the delay ended"
    );
    assert!(sim.muted_dispatches().is_empty());
}

#[tokio::test]
async fn control_api_mutes_unmutes_and_delays() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let channel = sim.channel_ids()[0];
    let mut c = Client::connect(&sim).await;
    c.ready(&sim, ALL).await;
    let control = reqwest::Client::new();
    let fault = |q: &str| {
        control
            .post(format!("{}/_sim/faults/{q}", sim.http_url()))
            .send()
    };

    assert_eq!(
        fault("mute?events=MESSAGE_CREATE").await.unwrap().status(),
        200
    );
    let id = sim.inject_message(channel, &alice, "unheard");
    next_is_ack(&mut c, 2).await;
    let records: Value = control
        .get(format!("{}/_sim/records", sim.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let muted = &records["muted_dispatches"];
    assert_eq!(muted[0]["event"], "MESSAGE_CREATE");
    assert_eq!(muted[0]["id"], id.to_string());

    assert_eq!(fault("unmute").await.unwrap().status(), 200);
    assert_eq!(
        fault("delay?events=MESSAGE_CREATE&ms=300")
            .await
            .unwrap()
            .status(),
        200
    );
    let sent_at = Instant::now();
    sim.inject_message(channel, &alice, "late");
    c.dispatch("MESSAGE_CREATE").await;
    assert!(sent_at.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        fault("delay?events=MESSAGE_CREATE&ms=0")
            .await
            .unwrap()
            .status(),
        200
    );

    assert_eq!(
        fault("mute").await.unwrap().status(),
        400,
        "events is required"
    );
    assert_eq!(fault("delay?events=X&ms=soon").await.unwrap().status(), 400);
    assert_eq!(
        fault("mute?events=MESSAGE_CREATE&all_sessions=true")
            .await
            .unwrap()
            .status(),
        200
    );
    let mut fresh = Client::connect(&sim).await;
    fresh.ready(&sim, ALL).await;
    sim.inject_message(channel, &alice, "nobody hears");
    next_is_ack(&mut fresh, 2).await;
}
