//! Socket Mode driven by a raw WebSocket client over real sockets: hello,
//! one-time tickets, envelopes and acks, redelivery, mentions, fan-out.

mod common;

use std::time::Duration;

use common::{Client, Frame, WAIT, call, fast_config, open_url, sim};
use serde_json::json;
use slack_sim::{ConnectionPick, SlackSim, SlackSimConfig};

#[tokio::test]
async fn open_then_hello() {
    let sim = sim().await;
    let url = open_url(&sim).await;
    assert!(
        url.starts_with(&format!("ws://{}/socket?ticket=", sim.addr())),
        "{url}"
    );
    let mut c = Client::connect_url(&url).await;
    let hello = c.json().await;
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["num_connections"], 1);
    assert_eq!(hello["connection_info"]["app_id"], sim.app_id());
    assert!(hello["debug_info"]["host"].is_string());

    let opens = sim.opens();
    assert_eq!(opens.len(), 1);
    assert!(opens[0].ok);
    let conns = sim.connections();
    assert_eq!(conns[0].ticket, opens[0].ticket.clone().unwrap());
    assert!(!conns[0].refused);

    let _c2 = Client::connect(&sim).await;
    assert_eq!(sim.live_connections().len(), 2);
}

#[tokio::test]
async fn a_ticket_is_good_for_one_connection() {
    let sim = sim().await;
    let url = open_url(&sim).await;
    let mut first = Client::connect_url(&url).await;
    assert_eq!(first.json().await["type"], "hello");
    let again = Client::try_connect_url(&url).await;
    assert!(again.is_err(), "a reused URL must be refused");
    let bogus = url.replace("ticket=", "ticket=x");
    assert!(Client::try_connect_url(&bogus).await.is_err());
    let refused: Vec<_> = sim
        .connections()
        .into_iter()
        .filter(|c| c.refused)
        .collect();
    assert_eq!(refused.len(), 2);
    assert_eq!(sim.live_connections().len(), 1);
}

#[tokio::test]
async fn envelope_and_ack() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let channel = &sim.channel_ids()[0];
    let ts = sim.post_user_message(channel, "U1", "hello there", None);

    let e = c.envelope().await;
    assert_eq!(e["accepts_response_payload"], false);
    assert_eq!(e["retry_attempt"], 0);
    assert_eq!(e["retry_reason"], "");
    let p = &e["payload"];
    assert_eq!(p["type"], "event_callback");
    assert_eq!(p["team_id"], sim.team_id());
    assert_eq!(p["api_app_id"], sim.app_id());
    assert!(p["event_id"].as_str().unwrap().starts_with("Ev"));
    assert!(p["event_time"].as_u64().unwrap() > 1_600_000_000);
    let ev = &p["event"];
    assert_eq!(ev["type"], "message");
    assert_eq!(ev["channel"], *channel);
    assert_eq!(ev["user"], "U1");
    assert_eq!(ev["text"], "hello there");
    assert_eq!(ev["ts"], ts);
    assert_eq!(ev["event_ts"], ts);
    assert_eq!(ev["channel_type"], "channel");
    assert!(ev.get("thread_ts").is_none());

    c.ack(&e).await;
    let acks = sim
        .wait_until(WAIT, |s| Some(s.acks()).filter(|a| !a.is_empty()))
        .await
        .expect("ack not recorded");
    assert_eq!(acks[0].envelope_id, e["envelope_id"].as_str().unwrap());
    assert!(acks[0].latency.is_some());
    assert!(sim.unacked().is_empty());
    // Acked: nothing comes back after the ack timeout.
    assert!(c.next_within(Duration::from_millis(400)).await.is_none());
    assert_eq!(sim.deliveries().len(), 1);
}

#[tokio::test]
async fn unacked_envelope_is_redelivered_then_abandoned() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    sim.post_user_message(&sim.channel_ids()[0], "U1", "anyone?", None);
    let first = c.envelope().await;
    let retry = c.envelope().await;
    assert_eq!(retry["envelope_id"], first["envelope_id"]);
    assert_eq!(retry["payload"]["event_id"], first["payload"]["event_id"]);
    assert_eq!(retry["retry_attempt"], 1);
    assert_eq!(retry["retry_reason"], "timeout");
    let d = sim.deliveries();
    let gap = d[1].at.duration_since(d[0].at);
    assert!(
        gap >= Duration::from_millis(200),
        "redelivered after {gap:?}"
    );

    // Retries 2 and 3, then the sim gives up.
    assert_eq!(c.envelope().await["retry_attempt"], 2);
    assert_eq!(c.envelope().await["retry_attempt"], 3);
    sim.wait_until(WAIT, |s| s.unacked().is_empty().then_some(()))
        .await
        .expect("envelope not abandoned");
    assert!(c.next_within(Duration::from_millis(400)).await.is_none());
}

#[tokio::test]
async fn a_late_ack_stops_redelivery() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    sim.post_user_message(&sim.channel_ids()[0], "U1", "hi", None);
    c.envelope().await;
    let retry = c.envelope().await;
    c.ack(&retry).await;
    sim.wait_until(WAIT, |s| s.unacked().is_empty().then_some(()))
        .await
        .unwrap();
    assert!(c.next_within(Duration::from_millis(400)).await.is_none());
}

#[tokio::test]
async fn mention_gives_app_mention_and_message_with_one_ts() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let channel = sim.channel_ids()[0].clone();
    let text = format!("<@{}> fix the build", sim.bot_user_id());
    let ts = sim.post_user_message(&channel, "U1", &text, None);
    let a = c.envelope_acked().await;
    let b = c.envelope_acked().await;
    let (ea, eb) = (&a["payload"]["event"], &b["payload"]["event"]);
    assert_eq!(ea["type"], "app_mention");
    assert_eq!(eb["type"], "message");
    assert_eq!(eb["channel_type"], "channel");
    assert_eq!((&ea["ts"], &eb["ts"]), (&json!(ts), &json!(ts)));
    assert_eq!(ea["text"], text);
    assert_ne!(a["envelope_id"], b["envelope_id"]);
    assert_ne!(a["payload"]["event_id"], b["payload"]["event_id"]);

    // A reply in the thread carries thread_ts and is not a mention.
    let reply = sim.post_user_message(&channel, "U1", "more detail", Some(&ts));
    let r = c.envelope_acked().await;
    assert_eq!(r["payload"]["event"]["type"], "message");
    assert_eq!(r["payload"]["event"]["thread_ts"], ts);
    assert_eq!(r["payload"]["event"]["ts"], reply);
    assert_eq!(sim.thread(&channel, &reply).len(), 2);
}

#[tokio::test]
async fn post_message_delivers_the_bots_own_message_event() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let channel = sim.channel_ids()[0].clone();
    let r = call(
        &sim,
        "chat.postMessage",
        json!({ "channel": channel, "text": "on it" }),
    )
    .await;
    let e = c.envelope_acked().await;
    let ev = &e["payload"]["event"];
    assert_eq!(ev["type"], "message");
    assert!(ev.get("subtype").is_none());
    assert_eq!(ev["bot_id"], "B0BOT");
    assert_eq!(ev["user"], sim.bot_user_id());
    assert_eq!(ev["ts"], r["ts"]);
    assert_eq!(ev["text"], "on it");
}

#[tokio::test]
async fn events_wait_for_a_connection() {
    let sim = sim().await;
    let ts = sim.post_user_message(&sim.channel_ids()[0], "U1", "early", None);
    assert_eq!(sim.unacked().len(), 1);
    assert!(sim.deliveries().is_empty());
    let mut c = Client::connect(&sim).await;
    let e = c.envelope_acked().await;
    assert_eq!(e["payload"]["event"]["ts"], ts);
    assert_eq!(e["retry_attempt"], 0);
}

#[tokio::test]
async fn each_event_goes_to_one_connection() {
    let sim = sim().await;
    sim.set_connection_pick(ConnectionPick::RoundRobin);
    let mut a = Client::connect(&sim).await;
    let mut b = Client::connect(&sim).await;
    let channel = sim.channel_ids()[0].clone();
    sim.post_user_message(&channel, "U1", "one", None);
    sim.post_user_message(&channel, "U1", "two", None);
    let ea = a.envelope_acked().await;
    let eb = b.envelope_acked().await;
    assert_eq!(ea["payload"]["event"]["text"], "one");
    assert_eq!(eb["payload"]["event"]["text"], "two");
    assert!(a.next_within(Duration::from_millis(300)).await.is_none());
    assert!(b.next_within(Duration::from_millis(50)).await.is_none());
    let conns: Vec<u64> = sim.deliveries().iter().map(|d| d.connection_id).collect();
    assert_eq!(conns, sim.live_connections());
}

#[tokio::test]
async fn redelivery_may_use_another_connection() {
    let sim = SlackSim::start(SlackSimConfig {
        pick: ConnectionPick::RoundRobin,
        ..fast_config()
    })
    .await
    .unwrap();
    let mut a = Client::connect(&sim).await;
    let mut b = Client::connect(&sim).await;
    sim.post_user_message(&sim.channel_ids()[0], "U1", "hi", None);
    let first = a.envelope().await; // a never acks
    let retry = b.envelope_acked().await;
    assert_eq!(retry["envelope_id"], first["envelope_id"]);
    assert_eq!(retry["retry_attempt"], 1);
    let acks = sim.wait_until(WAIT, |s| s.acks().pop()).await.unwrap();
    assert_eq!(acks.connection_id, sim.live_connections()[1]);
}

#[tokio::test]
async fn raw_events_and_redeliver_last() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let id = sim.deliver_raw_event(json!({ "type": "reaction_added", "reaction": "eyes" }));
    let e = c.envelope_acked().await;
    assert_eq!(e["envelope_id"], id);
    assert_eq!(e["payload"]["event"]["reaction"], "eyes");
    assert_eq!(sim.redeliver_last().as_deref(), Some(id.as_str()));
    let again = c.envelope_acked().await;
    assert_eq!(again["envelope_id"], id);
    assert_eq!(again["retry_attempt"], 1);
    assert_eq!(again["retry_reason"], "timeout");
}

#[tokio::test]
async fn pings_are_answered_and_client_close_is_recorded() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    c.ping().await;
    assert!(matches!(c.next().await, Frame::Pong));
    c.close().await;
    let rec = sim
        .wait_until(WAIT, |s| {
            s.connections().pop().filter(|r| r.closed_at.is_some())
        })
        .await
        .expect("close not recorded");
    assert!(rec.closed_by_client);
    assert_eq!(rec.client_close_code, Some(1000));
}

#[tokio::test]
async fn the_eleventh_connection_is_told_too_many_websockets() {
    let sim = SlackSim::start(SlackSimConfig {
        max_connections: 1,
        ..fast_config()
    })
    .await
    .unwrap();
    let _first = Client::connect(&sim).await;
    let mut second = Client::connect_url(&open_url(&sim).await).await;
    let d = second.json().await;
    assert_eq!(d["type"], "disconnect");
    assert_eq!(d["reason"], "too_many_websockets");
    assert!(matches!(second.next().await, Frame::Close(Some(1000))));
    drop(second);
    sim.wait_until(WAIT, |s| (s.live_connections().len() == 1).then_some(()))
        .await
        .expect("the extra connection is still open");
}
