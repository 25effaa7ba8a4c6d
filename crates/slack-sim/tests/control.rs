//! The /_sim control API and the standalone `slack-sim` binary.

mod common;

use std::collections::HashMap;
use std::process::Stdio;

use common::{Client, Frame, WAIT};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn control_api_posts_faults_and_reports() {
    // Acks here may be slow on a loaded machine; a redelivery would shift
    // the frames this test reads one by one.
    let config = slack_sim::SlackSimConfig {
        ack_timeout: std::time::Duration::from_secs(30),
        ..common::fast_config()
    };
    let sim = slack_sim::SlackSim::start(config).await.unwrap();
    let mut c = Client::connect(&sim).await;
    let http = reqwest::Client::new();
    let base = format!("{}/_sim", sim.http_url());

    let r: Value = http
        .post(format!("{base}/messages"))
        .json(&json!({ "user": "U1", "text": "<@U0BOT> hi" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["channel"], "C0GENERAL");
    let mention = c.envelope_acked().await;
    assert_eq!(mention["payload"]["event"]["type"], "app_mention");
    assert_eq!(mention["payload"]["event"]["ts"], r["ts"]);
    c.envelope_acked().await;

    let e: Value = http
        .post(format!("{base}/events"))
        .json(&json!({ "type": "member_joined_channel", "user": "U2" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(c.envelope_acked().await["envelope_id"], e["envelope_id"]);
    // The ack just sent must be read by the sim before the disconnect
    // below closes the socket (else it may be lost with it: seen in CI).
    let acked = sim
        .wait_until(WAIT, |s| {
            let r = s.records_json();
            (r["acks"].as_array().map_or(0, Vec::len) >= 3).then_some(())
        })
        .await;
    assert!(acked.is_some(), "three acks recorded");

    let bad = http
        .post(format!("{base}/faults/disconnect?reason=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let unknown = http
        .post(format!("{base}/faults/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let ok = http
        .post(format!("{base}/faults/disconnect?reason=link_disabled"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(c.json().await["reason"], "link_disabled");
    assert!(matches!(c.next().await, Frame::Close(_)));
    drop(c);

    let records = sim
        .wait_until(WAIT, |s| {
            let r = s.records_json();
            r["connections"][0]["closed_at_ms"].is_u64().then_some(())
        })
        .await;
    assert!(records.is_some());
    let records: Value = http
        .get(format!("{base}/records"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(records["opens"][0]["ok"], true);
    assert_eq!(
        records["connections"][0]["disconnects_sent"],
        json!(["link_disabled"])
    );
    assert_eq!(records["acks"].as_array().unwrap().len(), 3);
    assert_eq!(records["deliveries"][0]["event_type"], "app_mention");
}

#[tokio::test]
async fn binary_prints_settings_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_slack-sim"))
        .args(["--bot-token", "xoxb-t", "--app-token", "xapp-t"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = HashMap::new();
    while !printed.contains_key("bot_user_id") {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("binary printed nothing")
            .unwrap()
            .expect("stdout closed");
        if let Some((k, v)) = line.split_once('=') {
            printed.insert(k.to_owned(), v.to_owned());
        }
    }
    assert_eq!(printed["bot_token"], "xoxb-t");
    assert_eq!(printed["channel_id"], "C0GENERAL");
    assert_eq!(printed["bot_user_id"], "U0BOT");
    let api_url = &printed["api_url"];
    assert!(api_url.starts_with("http://127.0.0.1:") && api_url.ends_with("/api"));
    let open: Value = reqwest::Client::new()
        .post(format!("{api_url}/apps.connections.open"))
        .bearer_auth(&printed["app_token"])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut c = Client::connect_url(open["url"].as_str().unwrap()).await;
    assert_eq!(c.json().await["type"], "hello");
    child.start_kill().unwrap();
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
}
