//! The `discord-sim` binary: serve a fake Discord on loopback until Ctrl-C.
//! Prints the HTTP and gateway URLs, the token, the first guild and every
//! guild's channels, one `key=value` a line.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use discord_sim::{DiscordSim, SimConfig};
use tracing_subscriber::EnvFilter;

/// A protocol-faithful fake Discord (gateway + REST) with fault injection.
#[derive(Parser, Debug)]
#[command(name = "discord-sim", version)]
struct Args {
    /// Address to listen on (keep it loopback).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Heartbeat interval announced in Hello, in milliseconds.
    #[arg(long, default_value_t = 41_250)]
    heartbeat_ms: u64,
    /// Bot token (without "Bot ").
    #[arg(long, default_value = "sim-token")]
    token: String,
    /// The shard count GET /gateway/bot recommends; above 1 the sim also
    /// gets one more guild per shard (one channel each).
    #[arg(long, default_value_t = 1)]
    shards: u32,
    /// GET /gateway/bot's session_start_limit.max_concurrency.
    #[arg(long, default_value_t = 1)]
    max_concurrency: u32,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let shards = args.shards.max(1);
    let mut config = SimConfig {
        heartbeat_interval: Duration::from_millis(args.heartbeat_ms),
        token: args.token,
        recommended_shards: shards,
        max_concurrency: args.max_concurrency.max(1),
        ..SimConfig::default()
    };
    if shards > 1 {
        config = config.with_a_guild_per_shard(shards);
    }
    let sim = DiscordSim::start_on(args.listen, config).await?;
    println!("http_url={}", sim.http_url());
    println!("gateway_url={}", sim.gateway_url());
    println!("token={}", sim.token());
    println!("guild_id={}", sim.guild_id());
    for guild in sim.guild_ids() {
        for id in sim.channels_of(guild) {
            println!("channel_id={id}");
        }
    }
    println!("bot_user_id={}", sim.bot_user().id);
    tokio::signal::ctrl_c().await?;
    sim.shutdown();
    Ok(())
}
