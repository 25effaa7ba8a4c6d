//! The `fake-anthropic` binary: serve the fake Messages API on loopback
//! until Ctrl-C, logging each request. Prints `base_url=...` first.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use fake_anthropic::{FakeAnthropic, FakeConfig};
use tracing_subscriber::EnvFilter;

/// A fake Anthropic Messages API whose replies are scripted by the prompt.
#[derive(Parser, Debug)]
#[command(name = "fake-anthropic", version)]
struct Args {
    /// Address to listen on (keep it loopback).
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// Pause before each streamed event, in milliseconds.
    #[arg(long, default_value_t = 0)]
    event_delay_ms: u64,
    /// Write each /v1/messages request body to DIR/<n>.json.
    #[arg(long)]
    dump_dir: Option<std::path::PathBuf>,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = FakeConfig {
        event_delay: Duration::from_millis(args.event_delay_ms),
        dump_dir: args.dump_dir,
    };
    let fake = FakeAnthropic::start_on(args.listen, config).await?;
    println!("base_url={}", fake.base_url());
    tokio::signal::ctrl_c().await?;
    Ok(())
}
