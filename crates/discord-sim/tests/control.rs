//! The /_sim control API and the standalone `discord-sim` binary.

mod common;

use std::process::Stdio;

use common::{ALL, Client, WAIT};
use discord_sim::{DiscordSim, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn control_api_injects_faults_and_reports() {
    let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
    let mut gw = Client::connect(&sim).await;
    gw.ready(&sim, ALL).await;
    let http = reqwest::Client::new();
    let base = format!("{}/_sim", sim.http_url());

    let r: Value = http
        .post(format!("{base}/messages"))
        .json(&json!({ "author_id": "7", "author_name": "alice", "content": "hi" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let m = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(m["d"]["id"], r["id"]);
    assert_eq!(m["d"]["author"]["username"], "alice");

    let ok = http
        .post(format!("{base}/faults/acks?enabled=false"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    gw.heartbeat(Some(3)).await;
    sim.wait_until(WAIT, |s| s.heartbeats().first().map(|h| h.acked))
        .await
        .map(|acked| assert!(!acked))
        .unwrap();

    let bad = http
        .post(format!("{base}/faults/close?code=abc"))
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

    http.post(format!("{base}/faults/close?code=4000"))
        .send()
        .await
        .unwrap();
    assert_eq!(gw.close_code().await, Some(4000));

    let records: Value = http
        .get(format!("{base}/records"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(records["identifies"][0]["token_ok"], true);
    assert_eq!(records["heartbeats"][0]["acked"], false);
    assert_eq!(records["connections"][0]["close_code_from_sim"], 4000);
    assert_eq!(records["last_session_id"], json!(sim.last_session_id()));
}

#[tokio::test]
async fn binary_prints_urls_and_serves() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_discord-sim"))
        .args(["--heartbeat-ms", "5000", "--token", "t0k"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut printed = std::collections::HashMap::new();
    while printed.len() < 3 {
        let line = tokio::time::timeout(WAIT, lines.next_line())
            .await
            .expect("binary printed nothing")
            .unwrap()
            .expect("stdout closed");
        if let Some((k, v)) = line.split_once('=') {
            printed.insert(k.to_owned(), v.to_owned());
        }
    }
    assert_eq!(printed["token"], "t0k");
    let http_url = &printed["http_url"];
    let gw: Value = reqwest::Client::new()
        .get(format!("{http_url}/api/v10/gateway"))
        .header("Authorization", "Bot t0k")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gw["url"], printed["gateway_url"]);
    let mut c = Client::connect_url(&printed["gateway_url"]).await;
    assert_eq!(c.json().await["d"]["heartbeat_interval"], 5000);
    child.start_kill().unwrap();
    let _ = tokio::time::timeout(WAIT, child.wait()).await;
}
