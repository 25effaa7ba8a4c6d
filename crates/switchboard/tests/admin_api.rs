//! The operator's view: /livez, /readyz, /status and /metrics tell the
//! truth about the connection, and the periodic summary line is written.

mod support;

use std::time::Duration;

use support::{Harness, Options};

const SECOND: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_metrics_describe_the_live_connection() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    // Wait for one heartbeat ACK so the ACK age is a real one.
    h.logs
        .wait_for(5 * SECOND, |v| {
            v["message"] == "connection state" && v["to"] == "active"
        })
        .await;
    let (status, livez) = h.get("/livez").await;
    assert_eq!((status, livez.trim()), (200, "ok"));

    let (status, body) = h.get_json("/status").await;
    assert_eq!(status, 200);
    assert_eq!(body["ready"], true, "{body}");
    let conn = &body["connections"][0];
    assert_eq!(conn["platform"], "discord");
    assert_eq!(conn["state"], "active");
    assert_eq!(conn["healthy"], true);
    assert_eq!(conn["heartbeat_interval_ms"], 500);
    assert!(conn["last_ack_age_ms"].as_u64().unwrap() < 2_000, "{conn}");
    assert!(conn["last_event_age_ms"].as_u64().is_some(), "{conn}");
    assert_eq!(conn["reconnects"], 0);
    assert_eq!(conn["last_disconnect_cause"], serde_json::Value::Null);

    let (_, metrics) = h.get("/metrics").await;
    for series in [
        "switchboard_gateway_reconnects_total{platform=\"discord\",connection=\"shard-0\"} 0",
        "switchboard_gateway_healthy{platform=\"discord\",connection=\"shard-0\"} 1",
        "switchboard_gateway_heartbeat_interval_seconds{platform=\"discord\",connection=\"shard-0\"} 0.5",
    ] {
        assert!(
            metrics.lines().any(|l| l == series),
            "missing {series} in\n{metrics}"
        );
    }
    assert!(
        metrics.lines().any(|l| l.starts_with("switchboard_gateway_last_ack_age_seconds{platform=\"discord\"")),
        "{metrics}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_explains_why_it_is_not_ready() {
    let sim = discord_sim::DiscordSim::start(discord_sim::SimConfig::default())
        .await
        .unwrap();
    sim.set_refuse_connections(true);
    let h = Harness::start_with_sim(sim, Options::default()).await;
    h.logs.wait_message(5 * SECOND, "reconnecting").await;
    let (status, body) = h.get_json("/readyz").await;
    assert_eq!(status, 503);
    assert_eq!(body["ready"], false);
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.starts_with("discord/shard-0: "), "{reason}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summary_line_is_logged_every_interval() {
    let h = Harness::start(Options {
        supervisor: "summary_interval = \"1s\"",
        ..Options::default()
    })
    .await;
    h.wait_ready().await;
    let summary = h.logs.wait_message(3 * SECOND, "connection summary").await;
    assert_eq!(summary["level"], "INFO");
    assert_eq!(summary["state"], "active");
    assert!(summary["last_ack_age_ms"].is_u64(), "{summary}");
    assert!(
        summary["events"].is_u64() && summary["reconnects"] == 0,
        "{summary}"
    );
    h.stop().await;
}
