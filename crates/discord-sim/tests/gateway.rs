//! Gateway behaviour driven by a raw WebSocket client over real sockets.

mod common;

use std::time::Duration;

use common::{ALL, Client, Frame, GUILD_MESSAGES, GUILDS, MESSAGE_CONTENT, WAIT};
use discord_sim::{DiscordSim, ReadyKind, SimConfig};
use serde_json::json;

async fn sim() -> DiscordSim {
    DiscordSim::start(SimConfig::default()).await.unwrap()
}

#[tokio::test]
async fn hello_identify_ready_guild_create() {
    let sim = sim().await;
    let mut c = Client::connect_url(&sim.gateway_url()).await;
    let hello = c.json().await;
    assert_eq!(hello["op"], 10);
    assert_eq!(hello["d"]["heartbeat_interval"], 41_250);

    c.identify(&format!("Bot {}", sim.token()), ALL).await;
    let ready = c.dispatch("READY").await;
    assert_eq!(ready["s"], 1);
    let d = &ready["d"];
    assert_eq!(d["v"], 10);
    assert_eq!(d["resume_gateway_url"], sim.gateway_url());
    assert_eq!(d["user"]["id"], sim.bot_user().id.to_string());
    assert_eq!(d["guilds"][0]["unavailable"], true);
    assert_eq!(d["shard"], json!([0, 1]));
    let session_id = d["session_id"].as_str().unwrap().to_owned();
    let guild = c.dispatch("GUILD_CREATE").await;
    assert_eq!(guild["s"], 2);
    assert_eq!(guild["d"]["id"], sim.guild_id().to_string());
    assert_eq!(
        guild["d"]["channels"][0]["id"],
        sim.channel_ids()[0].to_string()
    );

    assert_eq!(sim.last_session_id().as_deref(), Some(session_id.as_str()));
    assert_eq!(sim.session_seq(&session_id), Some(2));
    let ids = sim.identifies();
    assert_eq!(ids.len(), 1);
    assert!(ids[0].token_ok);
    assert_eq!(ids[0].intents, ALL);
    let readies = sim.ready_sent();
    assert_eq!(readies[0].kind, ReadyKind::Ready);
    assert_eq!(sim.connections()[0].path, "/?v=10&encoding=json");
}

#[tokio::test]
async fn token_without_bot_prefix_is_accepted() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    c.identify(&sim.token(), ALL).await;
    c.dispatch("READY").await;
}

#[tokio::test]
async fn heartbeats_are_acked_and_recorded() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    c.ready(&sim, ALL).await;
    c.heartbeat(Some(2)).await;
    assert_eq!(c.json().await["op"], 11);
    let hb = sim.heartbeats();
    assert_eq!(hb.len(), 1);
    assert_eq!(hb[0].seq, Some(2));
    assert!(hb[0].acked);
    c.heartbeat(None).await;
    assert_eq!(c.json().await["op"], 11);
    assert_eq!(sim.heartbeats()[1].seq, None);
}

#[tokio::test]
async fn drop_then_resume_replays_missed_dispatches_in_order() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let channel = sim.channel_ids()[0];
    let mut c = Client::connect(&sim).await;
    let ready = c.ready(&sim, ALL).await;
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    let resume_url = ready["d"]["resume_gateway_url"]
        .as_str()
        .unwrap()
        .to_owned();

    sim.inject_message(channel, &alice, "one");
    let one = c.dispatch("MESSAGE_CREATE").await;
    assert_eq!(one["s"], 3);
    assert_eq!(one["d"]["content"], "one");
    assert_eq!(one["d"]["guild_id"], sim.guild_id().to_string());
    assert!(one["d"]["member"].is_object());

    sim.drop_connections();
    assert!(matches!(c.next().await, Frame::Gone));
    sim.wait_until(WAIT, |s| (s.live_connections() == 0).then_some(()))
        .await
        .expect("connection not closed");
    let two = sim.inject_message(channel, &alice, "two");
    let three = sim.inject_message(channel, &alice, "three");
    assert_eq!(sim.session_seq(&session), Some(5));

    let mut c2 = Client::connect_url(&resume_url).await;
    assert_eq!(c2.json().await["op"], 10);
    c2.resume(&sim.token(), &session, 3).await;
    let r2 = c2.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        (r2["s"].as_u64(), r2["d"]["id"].as_str()),
        (Some(4), Some(&*two.to_string()))
    );
    let r3 = c2.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        (r3["s"].as_u64(), r3["d"]["id"].as_str()),
        (Some(5), Some(&*three.to_string()))
    );
    let resumed = c2.dispatch("RESUMED").await;
    assert_eq!(resumed["s"], 6);

    // Sequence numbers continue across the resume.
    sim.inject_message(channel, &alice, "four");
    assert_eq!(c2.dispatch("MESSAGE_CREATE").await["s"], 7);

    let resumes = sim.resumes();
    assert_eq!(resumes.len(), 1);
    assert_eq!(resumes[0].session_id, session);
    assert_eq!(resumes[0].seq, 3);
    assert!(resumes[0].accepted);
    assert_eq!(resumes[0].path, "/?v=10&encoding=json");
    assert_eq!(sim.ready_sent()[1].kind, ReadyKind::Resumed);
    assert_eq!(sim.connections()[0].close_code_from_client, None);
}

#[tokio::test]
async fn invalid_session_paths() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    // Unknown session -> op 9 false.
    c.resume(&sim.token(), "nope", 1).await;
    let nine = c.json().await;
    assert_eq!(
        (nine["op"].as_u64(), nine["d"].as_bool()),
        (Some(9), Some(false))
    );
    assert!(!sim.resumes()[0].accepted);

    // op 9 true keeps the session.
    let ready = c.ready(&sim, ALL).await;
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    sim.send_invalid_session(true);
    let nine = c.json().await;
    assert_eq!(
        (nine["op"].as_u64(), nine["d"].as_bool()),
        (Some(9), Some(true))
    );
    assert!(sim.session_resumable(&session));

    // op 9 false ends it: a later resume is refused.
    sim.send_invalid_session(false);
    assert_eq!(c.json().await["d"], false);
    assert!(!sim.session_resumable(&session));
    let mut c2 = Client::connect(&sim).await;
    c2.resume(&sim.token(), &session, 2).await;
    assert_eq!(c2.json().await["op"], 9);
}

#[tokio::test]
async fn bad_token_closes_4004() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    c.identify("Bot wrong", ALL).await;
    assert_eq!(c.close_code().await, Some(4004));
    assert!(!sim.identifies()[0].token_ok);

    sim.set_token_valid(false);
    let mut c = Client::connect(&sim).await;
    c.identify(&format!("Bot {}", sim.token()), ALL).await;
    assert_eq!(c.close_code().await, Some(4004));
    assert_eq!(sim.connections()[1].close_code_from_sim, Some(4004));
}

#[tokio::test]
async fn disallowed_message_content_intent_closes_4014() {
    let sim = sim().await;
    sim.set_message_content_intent_allowed(false);
    let mut c = Client::connect(&sim).await;
    c.identify(&sim.token(), ALL).await;
    assert_eq!(c.close_code().await, Some(4014));
    let mut c = Client::connect(&sim).await;
    c.ready(&sim, GUILDS | GUILD_MESSAGES).await;
}

#[tokio::test]
async fn withheld_acks_keep_dispatches_flowing() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let mut c = Client::connect(&sim).await;
    c.ready(&sim, ALL).await;
    sim.set_heartbeat_acks(false);
    c.heartbeat(Some(2)).await;
    sim.wait_until(WAIT, |s| (!s.heartbeats().is_empty()).then_some(()))
        .await
        .unwrap();
    assert!(!sim.heartbeats()[0].acked);
    sim.inject_message(sim.channel_ids()[0], &alice, "still here");
    // The next frame is the dispatch, not an ACK.
    c.dispatch("MESSAGE_CREATE").await;
    sim.set_heartbeat_acks(true);
    c.heartbeat(Some(3)).await;
    assert_eq!(c.json().await["op"], 11);
}

#[tokio::test]
async fn silence_sends_nothing_then_flushes() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let mut c = Client::connect(&sim).await;
    let ready = c.ready(&sim, ALL).await;
    let session = ready["d"]["session_id"].as_str().unwrap().to_owned();
    sim.set_silent(true);

    c.heartbeat(Some(2)).await;
    sim.wait_until(WAIT, |s| (!s.heartbeats().is_empty()).then_some(()))
        .await
        .unwrap();
    assert!(!sim.heartbeats()[0].acked);
    sim.inject_message(sim.channel_ids()[0], &alice, "buffered");
    assert_eq!(sim.session_seq(&session), Some(3));

    // A new connection gets no Hello while silent.
    let mut quiet = Client::connect_url(&sim.gateway_url()).await;
    sim.wait_until(WAIT, |s| (s.live_connections() == 2).then_some(()))
        .await
        .unwrap();

    sim.set_silent(false);
    let m = c.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        (m["s"].as_u64(), m["d"]["content"].as_str()),
        (Some(3), Some("buffered"))
    );
    assert_eq!(quiet.json().await["op"], 10);
}

#[tokio::test]
async fn refused_connections_fail_but_rest_works() {
    let sim = sim().await;
    sim.set_refuse_connections(true);
    let url = format!("{}/?v=10&encoding=json", sim.gateway_url());
    let err = tokio_tungstenite::connect_async(&url).await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert!(sim.connections()[0].refused);
    let r = common::http(&sim)
        .get(common::api(&sim, "/gateway"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    sim.set_refuse_connections(false);
    Client::connect(&sim).await;

    sim.refuse_connections_for(Duration::from_millis(300));
    assert!(tokio_tungstenite::connect_async(&url).await.is_err());
    tokio::time::sleep(Duration::from_millis(300)).await;
    Client::connect(&sim).await;
}

#[tokio::test]
async fn malformed_json_closes_4002_and_unknown_ops_are_ignored() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    c.send(json!({ "op": 3, "d": { "status": "online" } }))
        .await;
    c.heartbeat(None).await;
    assert_eq!(c.json().await["op"], 11);
    c.send_text("{not json".to_owned()).await;
    assert_eq!(c.close_code().await, Some(4002));
}

#[tokio::test]
async fn sim_closes_and_session_lifetime() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let s1 = c.ready(&sim, ALL).await["d"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    sim.close_connections(4000);
    assert_eq!(c.close_code().await, Some(4000));
    assert!(sim.session_resumable(&s1));

    let mut c = Client::connect(&sim).await;
    c.resume(&sim.token(), &s1, 2).await;
    c.dispatch("RESUMED").await;
    sim.close_connections(4009);
    assert_eq!(c.close_code().await, Some(4009));
    assert!(!sim.session_resumable(&s1));

    // A client close with 1000 ends the session; 4000 keeps it.
    let mut c = Client::connect(&sim).await;
    let s2 = c.ready(&sim, ALL).await["d"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    c.close(4000).await;
    sim.wait_until(WAIT, |s| (s.live_connections() == 0).then_some(()))
        .await
        .unwrap();
    assert!(sim.session_resumable(&s2));
    let last = sim.connections().last().unwrap().clone();
    assert_eq!(last.close_code_from_client, Some(4000));
    assert!(last.closed_at.is_some());

    let mut c = Client::connect(&sim).await;
    c.resume(&sim.token(), &s2, 2).await;
    c.dispatch("RESUMED").await;
    c.close(1000).await;
    sim.wait_until(WAIT, |s| (!s.session_resumable(&s2)).then_some(()))
        .await
        .expect("1000 must end the session");
}

#[tokio::test]
async fn newest_connection_of_a_session_gets_its_dispatches() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let mut old = Client::connect(&sim).await;
    let session = old.ready(&sim, ALL).await["d"]["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut new = Client::connect(&sim).await;
    new.resume(&sim.token(), &session, 2).await;
    new.dispatch("RESUMED").await;
    sim.inject_message(sim.channel_ids()[0], &alice, "hi");
    assert_eq!(new.dispatch("MESSAGE_CREATE").await["s"], 4);
    // The old, still-open connection got nothing: its next frame is an ACK.
    old.heartbeat(Some(2)).await;
    assert_eq!(old.json().await["op"], 11);
}

#[tokio::test]
async fn server_heartbeat_request_reconnect_and_raw_dispatch() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    c.ready(&sim, ALL).await;
    sim.request_heartbeat();
    assert_eq!(c.json().await["op"], 1);
    sim.send_reconnect();
    assert_eq!(c.json().await["op"], 7);
    sim.dispatch_raw("SOMETHING_NEW", json!({ "x": 1 }));
    let raw = c.dispatch("SOMETHING_NEW").await;
    assert_eq!(raw["d"]["x"], 1);
}

#[tokio::test]
async fn intents_filter_and_strip_messages() {
    let sim = sim().await;
    let alice = sim.user(7, "alice");
    let ch = sim.channel_ids()[0];
    let bot = sim.bot_user().id;
    let mut no_content = Client::connect(&sim).await;
    no_content.ready(&sim, GUILDS | GUILD_MESSAGES).await;
    let mut no_messages = Client::connect(&sim).await;
    no_messages.ready(&sim, GUILDS).await;

    sim.inject_message(ch, &alice, "secret");
    sim.inject_message(ch, &alice, &format!("<@{bot}> visible"));
    assert_eq!(
        no_content.dispatch("MESSAGE_CREATE").await["d"]["content"],
        ""
    );
    let mentioned = no_content.dispatch("MESSAGE_CREATE").await;
    assert_eq!(mentioned["d"]["content"], format!("<@{bot}> visible"));
    assert_eq!(mentioned["d"]["mentions"][0]["id"], bot.to_string());

    no_messages.heartbeat(None).await;
    assert_eq!(no_messages.json().await["op"], 11);
    let _ = MESSAGE_CONTENT;
}

#[tokio::test]
async fn shutdown_stops_listener_and_connections() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    c.ready(&sim, ALL).await;
    let url = format!("{}/?v=10&encoding=json", sim.gateway_url());
    sim.shutdown();
    assert!(matches!(c.next().await, Frame::Gone));
    sim.wait_until(WAIT, |s| (s.live_connections() == 0).then_some(()))
        .await
        .unwrap();
    let refused = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(&url))
        .await
        .expect("connect attempt hung");
    assert!(refused.is_err());
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_sim() {
    let sim = sim().await;
    let url = format!("{}/?v=10&encoding=json", sim.gateway_url());
    let mut c = Client::connect(&sim).await;
    let clone = sim.clone();
    drop(sim);
    c.heartbeat(None).await;
    assert_eq!(c.json().await["op"], 11, "a clone keeps it alive");
    drop(clone);
    assert!(matches!(c.next().await, Frame::Gone));
    let refused = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(&url))
        .await
        .expect("connect attempt hung");
    assert!(refused.is_err());
}
