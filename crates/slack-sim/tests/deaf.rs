//! Deaf but connected: muted event kinds (no envelope, no retry, pings still
//! answered, the Web API still listing the messages) and delayed event
//! kinds (late but in order), driven by a raw Socket Mode client.

mod common;

use std::time::Duration;

use common::{Client, Frame, WAIT, call, sim};
use serde_json::{Value, json};
use slack_sim::SlackSim;
use tokio::time::Instant;

/// Pings and asserts the very next frame is the pong (so no envelope was
/// queued ahead of it).
async fn next_is_pong(c: &mut Client) {
    c.ping().await;
    match c.next().await {
        Frame::Pong => {}
        other => panic!("expected the pong, got {other:?}"),
    }
}

fn ts_list(body: &Value) -> Vec<&str> {
    body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["ts"].as_str().unwrap())
        .collect()
}

fn mention(sim: &SlackSim, text: &str) -> String {
    format!("<@{}> {text}", sim.bot_user_id())
}

#[tokio::test]
async fn muted_kinds_are_not_delivered_while_pings_are_answered() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    sim.mute_events(&["message", "app_mention"]);

    let root = sim.post_user_message(&channel, "U1", &mention(&sim, "are you there?"), None);
    next_is_pong(&mut c).await;
    let muted = sim.muted_events();
    let kinds: Vec<_> = muted.iter().map(|m| m.event_type.as_deref()).collect();
    assert_eq!(kinds, [Some("app_mention"), Some("message")]);
    assert!(muted.iter().all(|m| m.event["ts"] == root));
    assert!(sim.unacked().is_empty(), "a muted event is not retried");

    // Other kinds still flow.
    sim.deliver_raw_event(json!({ "type": "reaction_added", "reaction": "eyes" }));
    let e = c.envelope_acked().await;
    assert_eq!(e["payload"]["event"]["type"], "reaction_added");

    // The Web API shows what was muted: history newest first.
    let older = sim.post_user_message(&channel, "U1", "earlier, muted", None);
    let newest = sim.post_user_message(&channel, "U1", "newest, muted", None);
    let history = call(
        &sim,
        "conversations.history",
        json!({ "channel": channel, "limit": 1 }),
    )
    .await;
    assert_eq!(ts_list(&history), [newest.as_str()]);
    assert_eq!(history["has_more"], true);
    assert_ne!(older, newest);

    // Replies with limit=1: the root (with latest_reply), then the oldest
    // reply (the sim never lets the root alone fill a page).
    let r1 = sim.post_user_message(&channel, "U2", "first reply", Some(&root));
    let r2 = sim.post_user_message(&channel, "U2", "second reply", Some(&root));
    let replies = call(
        &sim,
        "conversations.replies",
        json!({ "channel": channel, "ts": root, "limit": 1 }),
    )
    .await;
    assert_eq!(ts_list(&replies), [root.as_str(), r1.as_str()]);
    assert_eq!(replies["messages"][0]["latest_reply"], r2);
    assert_eq!(replies["has_more"], true);
    next_is_pong(&mut c).await;
    assert_eq!(sim.muted_events().len(), 2 + 4);

    // Unmuting restores later deliveries; what was muted stays lost.
    sim.unmute_events();
    let again = sim.post_user_message(&channel, "U1", "again", None);
    let e = c.envelope_acked().await;
    assert_eq!(e["payload"]["event"]["ts"], again);
    assert_eq!(sim.muted_events().len(), 6);
    assert_eq!(sim.muted_event_total(), 6);
}

#[tokio::test]
async fn a_new_connection_hears_unless_all_connections_are_muted() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let mut old = Client::connect(&sim).await;
    sim.mute_events(&["message", "app_mention"]);
    let mut fresh = Client::connect(&sim).await;

    let ts = sim.post_user_message(&channel, "U1", &mention(&sim, "hello"), None);
    let a = fresh.envelope_acked().await;
    let m = fresh.envelope_acked().await;
    assert_eq!(a["payload"]["event"]["type"], "app_mention");
    assert_eq!(
        (
            m["payload"]["event"]["type"].as_str(),
            m["payload"]["event"]["ts"].as_str()
        ),
        (Some("message"), Some(ts.as_str()))
    );
    next_is_pong(&mut old).await;
    assert!(
        sim.muted_events().is_empty(),
        "another connection took them"
    );

    // The variant a reconnect does not heal.
    sim.mute_events_all_connections(&["message"]);
    let mut third = Client::connect(&sim).await;
    sim.post_user_message(&channel, "U1", "anyone?", None);
    for c in [&mut old, &mut fresh, &mut third] {
        next_is_pong(c).await;
    }
    assert_eq!(sim.muted_events().len(), 1);

    sim.unmute_events();
    let back = sim.post_user_message(&channel, "U1", "back", None);
    let e = old.envelope_acked().await;
    assert_eq!(e["payload"]["event"]["ts"], back);
}

#[tokio::test]
async fn delayed_kind_arrives_after_the_delay_in_order_while_pongs_do_not_wait() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    // Longer than the 200 ms ack timeout, and long enough that a busy
    // machine still pings within it.
    let delay = Duration::from_secs(1);
    sim.delay_events(&["message"], delay);

    let sent_at = Instant::now();
    let ts = sim.post_user_message(&channel, "U1", "slow", None);
    sim.deliver_raw_event(json!({ "type": "reaction_added", "reaction": "eyes" }));
    next_is_pong(&mut c).await;

    let m = c.envelope_acked().await;
    let arrived = sent_at.elapsed();
    assert!(
        arrived >= delay,
        "delivered after {arrived:?}, before the {delay:?} delay"
    );
    assert_eq!(m["payload"]["event"]["ts"], ts);
    assert_eq!(
        m["retry_attempt"], 0,
        "the ack timeout starts when it goes out"
    );
    let r = c.envelope_acked().await;
    assert_eq!(
        r["payload"]["event"]["type"], "reaction_added",
        "order kept"
    );
    let id = m["envelope_id"].as_str().unwrap().to_owned();
    let acked = sim
        .wait_until(WAIT, |s| s.unacked().is_empty().then_some(()))
        .await;
    assert!(acked.is_some(), "still unacked: {:?}", sim.unacked());
    let sends = sim
        .deliveries()
        .iter()
        .filter(|d| d.envelope_id == id)
        .count();
    assert_eq!(sends, 1, "no redelivery while held");

    sim.delay_events(&["message"], Duration::ZERO);
    let sent_at = Instant::now();
    sim.post_user_message(&channel, "U1", "fast again", None);
    c.envelope_acked().await;
    assert!(
        sent_at.elapsed() < delay,
        "still delayed after the delay ended"
    );
    assert!(sim.muted_events().is_empty());
}

#[tokio::test]
async fn control_api_mutes_unmutes_and_delays() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    let control = reqwest::Client::new();
    let fault = |q: &str| {
        control
            .post(format!("{}/_sim/faults/{q}", sim.http_url()))
            .send()
    };

    assert_eq!(
        fault("mute?events=message,app_mention")
            .await
            .unwrap()
            .status(),
        200
    );
    let ts = sim.post_user_message(&channel, "U1", "unheard", None);
    next_is_pong(&mut c).await;
    let records: Value = control
        .get(format!("{}/_sim/records", sim.http_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let muted = &records["muted_events"];
    assert_eq!(
        (muted[0]["event_type"].as_str(), muted[0]["ts"].as_str()),
        (Some("message"), Some(ts.as_str()))
    );

    assert_eq!(fault("unmute").await.unwrap().status(), 200);
    assert_eq!(
        fault("delay?events=message&ms=300").await.unwrap().status(),
        200
    );
    let sent_at = Instant::now();
    sim.post_user_message(&channel, "U1", "late", None);
    c.envelope_acked().await;
    assert!(sent_at.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        fault("delay?events=message&ms=0").await.unwrap().status(),
        200
    );

    assert_eq!(
        fault("mute").await.unwrap().status(),
        400,
        "events is required"
    );
    assert_eq!(
        fault("delay?events=message&ms=soon")
            .await
            .unwrap()
            .status(),
        400
    );
    assert_eq!(
        fault("mute?events=message&all_connections=true")
            .await
            .unwrap()
            .status(),
        200
    );
    let mut fresh = Client::connect(&sim).await;
    sim.post_user_message(&channel, "U1", "nobody hears", None);
    next_is_pong(&mut fresh).await;
    assert_eq!(sim.muted_events().len(), 2);
}
