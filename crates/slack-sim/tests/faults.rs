//! Socket Mode faults over real sockets: each disconnect reason, dropped
//! flows, silence (half-open), refused and disabled connection opening.

mod common;

use std::time::Duration;

use common::{Client, Frame, WAIT, call_as, open_url, sim};
use serde_json::json;
use slack_sim::{ConnectionPick, DisconnectReason, SlackSim, SlackSimConfig};

/// Waits until connection `id` is recorded closed; returns its record.
async fn closed(sim: &SlackSim, id: u64) -> slack_sim::ConnectionRecord {
    sim.wait_until(WAIT, |s| {
        s.connections()
            .into_iter()
            .find(|c| c.id == id && c.closed_at.is_some())
    })
    .await
    .expect("connection not closed")
}

#[tokio::test]
async fn warning_then_close_after_the_delay() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let id = sim.live_connections()[0];
    sim.send_disconnect(DisconnectReason::Warning);
    let d = c.json().await;
    assert_eq!(d["type"], "disconnect");
    assert_eq!(d["reason"], "warning");
    assert!(d["debug_info"]["host"].is_string());
    // Still usable during the warning window.
    sim.post_user_message(&sim.channel_ids()[0], "U1", "late", None);
    assert_eq!(c.envelope_acked().await["payload"]["event"]["text"], "late");
    assert!(matches!(c.next().await, Frame::Close(Some(1000))));
    drop(c);
    let rec = closed(&sim, id).await;
    assert!(!rec.closed_by_client);
    assert_eq!(rec.disconnects_sent, vec![DisconnectReason::Warning]);
    let held = rec.closed_at.unwrap().duration_since(rec.opened_at);
    assert!(held >= Duration::from_millis(300), "closed after {held:?}");
    // Opening again works.
    Client::connect(&sim).await;
}

#[tokio::test]
async fn refresh_requested_closes_shortly_and_new_connections_take_over() {
    let sim = sim().await;
    sim.set_connection_pick(ConnectionPick::First);
    let mut old = Client::connect(&sim).await;
    sim.send_disconnect(DisconnectReason::RefreshRequested);
    assert_eq!(old.json().await["reason"], "refresh_requested");
    let mut new = Client::connect(&sim).await;
    // The warned connection is no longer preferred even under "first".
    sim.post_user_message(&sim.channel_ids()[0], "U1", "hi", None);
    assert_eq!(new.envelope_acked().await["payload"]["event"]["text"], "hi");
    assert!(matches!(old.next().await, Frame::Close(Some(1000))));
    drop(old);
    sim.wait_until(WAIT, |s| (s.live_connections().len() == 1).then_some(()))
        .await
        .expect("the refreshed connection is still open");
}

#[tokio::test]
async fn link_disabled_closes_and_refuses_new_links() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    sim.send_disconnect(DisconnectReason::LinkDisabled);
    assert_eq!(c.json().await["reason"], "link_disabled");
    assert!(matches!(c.next().await, Frame::Close(Some(1000))));
    drop(c);
    let a = call_as(
        &sim,
        Some(&sim.app_token()),
        "apps.connections.open",
        json!({}),
    )
    .await;
    assert_eq!(
        (a.status, &a.body),
        (200, &json!({ "ok": false, "error": "link_disabled" }))
    );
    sim.set_link_disabled(false);
    Client::connect(&sim).await;
}

#[tokio::test]
async fn drop_aborts_without_a_close_frame() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let id = sim.live_connections()[0];
    sim.drop_connections();
    assert!(matches!(c.next().await, Frame::Gone));
    let rec = closed(&sim, id).await;
    assert!(rec.aborted && !rec.closed_by_client);
}

#[tokio::test]
async fn silence_swallows_everything_and_answers_no_pings() {
    let sim = SlackSim::start(SlackSimConfig {
        ack_timeout: Duration::from_secs(1),
        pick: ConnectionPick::First,
        ..common::fast_config()
    })
    .await
    .unwrap();
    let mut c = Client::connect(&sim).await;
    sim.set_silent(true);
    c.ping().await;
    sim.post_user_message(&sim.channel_ids()[0], "U1", "lost", None);
    assert!(
        c.next_within(Duration::from_millis(300)).await.is_none(),
        "a silent sim must send nothing, not even a pong"
    );
    assert!(sim.deliveries()[0].dropped);
    assert_eq!(sim.live_connections().len(), 1, "sockets stay open");

    // A connection opened during silence gets no hello until it ends.
    let mut late = Client::connect_url(&open_url(&sim).await).await;
    assert!(late.next_within(Duration::from_millis(100)).await.is_none());
    sim.set_silent(false);
    assert_eq!(late.json().await["type"], "hello");
    // The pending pong goes out once reading resumes; the swallowed
    // envelope is retried when due.
    assert!(matches!(c.next().await, Frame::Pong));
    let retry = c.envelope_acked().await;
    assert_eq!(retry["payload"]["event"]["text"], "lost");
    assert!(retry["retry_attempt"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn silenced_connections_stay_half_open_while_new_ones_work() {
    let sim = sim().await;
    sim.set_connection_pick(ConnectionPick::Newest);
    let mut dead = Client::connect(&sim).await;
    sim.silence_current_connections();
    dead.ping().await;
    assert!(dead.next_within(Duration::from_millis(300)).await.is_none());
    // The client gives up on it and reconnects; the new one works and gets
    // the envelope the dead one swallowed, as a retry.
    sim.post_user_message(&sim.channel_ids()[0], "U1", "hello?", None);
    let mut fresh = Client::connect(&sim).await;
    let e = fresh.envelope_acked().await;
    assert_eq!(e["payload"]["event"]["text"], "hello?");
    assert!(e["retry_attempt"].as_u64().unwrap() >= 1);
    fresh.ping().await;
    assert!(matches!(fresh.next().await, Frame::Pong));
    assert_eq!(sim.live_connections().len(), 2);
}

#[tokio::test]
async fn refused_open_is_http_503_until_lifted() {
    let sim = sim().await;
    sim.set_refuse_open(true);
    let a = call_as(
        &sim,
        Some(&sim.app_token()),
        "apps.connections.open",
        json!({}),
    )
    .await;
    assert_eq!(a.status, 503);
    assert_eq!(
        a.body,
        json!({ "ok": false, "error": "service_unavailable" })
    );
    assert!(!sim.opens()[0].ok);
    sim.set_refuse_open(false);
    Client::connect(&sim).await;
}

#[tokio::test]
async fn server_pings_when_configured() {
    let sim = SlackSim::start(SlackSimConfig {
        server_ping_interval: Some(Duration::from_millis(100)),
        ..common::fast_config()
    })
    .await
    .unwrap();
    let url = open_url(&sim).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    let ping = tokio::time::timeout(WAIT, async {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Ping(_) = m {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ping, Ok(true));
}
