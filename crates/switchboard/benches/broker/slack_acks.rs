//! Slack's envelope ack latency, now that a message is acked only once the
//! broker has journaled it: slack-sim's delivery of an `events_api`
//! envelope -> its ack arriving back (slack-sim records both). Slack's
//! budget is 3 s; the journal write takes milliseconds.
//!
//! The real binary on Slack (2 Socket Mode connections) with echo agents;
//! every message is a new mention (a new thread), so each is journaled and
//! answered. Each mention arrives twice (`app_mention` and `message`): both
//! envelopes are measured.

use std::process::Stdio;
use std::time::Duration;

use slack_sim::{SlackSim, SlackSimConfig};
use tokio::process::Command;

use super::Options;
use super::broker::binary;
use super::stats::{Row, Summary};

/// Least time between two mentions (each costs a few Web API calls).
const SPACING: Duration = Duration::from_millis(50);

pub async fn run(options: &Options) -> Vec<Row> {
    let messages = if options.smoke { 5 } else { 300 };
    let sim = SlackSim::start(SlackSimConfig::default())
        .await
        .expect("slack-sim starts");
    let dir = tempfile::tempdir().unwrap();
    let agent_args = r#"["demo-agent", "--echo", "--chunk-delay-ms", "0"]"#;
    let config = format!(
        "[slack]\nbot_token = \"${{SLACK_BOT_TOKEN}}\"\napp_token = \"${{SLACK_APP_TOKEN}}\"\n\
         allowed_channels = [\"{}\"]\nallow_all_users = true\napi_url = \"{}\"\n\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n\n[log]\nlevel = \"warn\"\n\n\
         [agent]\ncommand = {:?}\nargs = {agent_args}\nmax_sessions = 64\n\n\
         [store]\ndata_dir = {:?}\n\
         # The echo agent reads no files: its folder may hold the store.\n\
         allow_inside_agent_cwd = true\n",
        sim.channel_ids()[0],
        sim.api_url(),
        binary(),
        dir.path().join("data").display().to_string(),
    );
    let config_path = dir.path().join("switchboard.toml");
    std::fs::write(&config_path, config).unwrap();
    let mut child = Command::new(binary())
        .args(["run", "--config"])
        .arg(&config_path)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SLACK_BOT_TOKEN", sim.bot_token())
        .env("SLACK_APP_TOKEN", sim.app_token())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("switchboard starts");
    let live = sim
        .wait_until(Duration::from_secs(30), |s| {
            (s.live_connections().len() >= 2).then_some(())
        })
        .await;
    assert!(
        live.is_some(),
        "switchboard did not connect to slack-sim; its stderr:\n{}",
        std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
    );

    let channel = sim.channel_ids()[0].clone();
    sim.user("U0BENCH", "bench-user");
    let mention = format!("<@{}>", sim.bot_user_id());
    for i in 0..messages {
        let next = tokio::time::Instant::now() + SPACING;
        sim.post_user_message(&channel, "U0BENCH", &format!("{mention} ack-{i}"), None);
        tokio::time::sleep_until(next).await;
    }
    // Every envelope acked (two per mention), and every mention answered.
    let answered = sim
        .wait_until(Duration::from_secs(60), |s| {
            let acked = s.acks().iter().filter(|a| a.latency.is_some()).count();
            let replies = s
                .messages(&channel)
                .iter()
                .filter(|m| m.bot_id.is_some() && m.text.contains("echo: ack-"))
                .count();
            (acked >= 2 * messages && replies >= messages).then_some(())
        })
        .await;
    assert!(answered.is_some(), "not every envelope was acked in time");
    let latencies: Vec<f64> = sim
        .acks()
        .iter()
        .filter_map(|a| a.latency)
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    let _ = child.kill().await;
    sim.shutdown();
    let summary = Summary::of(&latencies).expect("acks measured");
    let met = summary.p99 < 3_000.0;
    vec![
        Row::new(
            format!("slack: envelope delivered -> acked after the journal ({messages} mentions)"),
            "ms",
            summary,
        )
        .budget("p99 < 3000 ms (Slack's ack deadline)", met),
    ]
}
