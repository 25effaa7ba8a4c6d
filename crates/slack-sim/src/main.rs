//! The `slack-sim` binary: serve a fake Slack on loopback until Ctrl-C.
//! Prints the API URL, tokens and ids, one `key=value` a line.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use slack_sim::{SlackSim, SlackSimConfig};
use tracing_subscriber::EnvFilter;

/// A protocol-faithful fake Slack (Web API + Socket Mode) with fault injection.
#[derive(Parser, Debug)]
#[command(name = "slack-sim", version)]
struct Args {
    /// Address to listen on (keep it loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Bot token (xoxb-...).
    #[arg(long, default_value = "xoxb-sim-bot")]
    bot_token: String,
    /// App-level token (xapp-...).
    #[arg(long, default_value = "xapp-sim-app")]
    app_token: String,
    /// How long an envelope may go unacknowledged before redelivery, in ms.
    #[arg(long, default_value_t = 3_000)]
    ack_timeout_ms: u64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = SlackSimConfig {
        bot_token: args.bot_token,
        app_token: args.app_token,
        ack_timeout: Duration::from_millis(args.ack_timeout_ms),
        ..SlackSimConfig::default()
    };
    let sim = SlackSim::start_on(args.listen, config).await?;
    println!("api_url={}", sim.api_url());
    println!("control_url={}/_sim", sim.http_url());
    println!("bot_token={}", sim.bot_token());
    println!("app_token={}", sim.app_token());
    println!("team_id={}", sim.team_id());
    for id in sim.channel_ids() {
        println!("channel_id={id}");
    }
    println!("bot_user_id={}", sim.bot_user_id());
    tokio::signal::ctrl_c().await?;
    sim.shutdown();
    Ok(())
}
