//! `switchboard demo`: the real broker against a built-in simulated Discord,
//! with a terminal chat in front of it. No Discord account needed.
//!
//! Each typed line is posted in the simulator's #general as a user message
//! that @mentions the bot; `/drop` cuts the gateway connection without a
//! close frame (watch switchboard resume), `/quit` or end of input stops.
//! Everything between the simulator and the terminal is the production path.

use std::time::Duration;

use discord_sim::{DiscordSim, SimConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, EMBEDDED};
use crate::{RunError, run_reporting};

/// The id of the person typing in the demo.
const DEMO_USER_ID: u64 = 1_100_000_000_000_000_100;

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start the built-in Discord simulator: {0}")]
    Simulator(std::io::Error),
    #[error("the demo configuration is invalid: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// The embedded config: the simulator's URLs, its channel and token.
fn demo_config(sim: &DiscordSim, admin_listen: &str) -> Result<Config, ConfigError> {
    let text = format!(
        r#"
[discord]
token = "${{DEMO_TOKEN}}"
allowed_channels = ["{channel}"]
api_url = "{api}"
gateway_url = "{gateway}"

[admin]
listen = "{admin_listen}"
"#,
        channel = sim.channel_ids()[0],
        api = sim.http_url(),
        gateway = sim.gateway_url(),
    );
    let token = sim.token();
    Config::from_toml_str(&text, EMBEDDED, &|name| {
        (name == "DEMO_TOKEN").then(|| token.clone())
    })
}

/// Run the demo until end of input, `/quit` or `shutdown`.
pub async fn run_demo(
    heartbeat: Duration,
    admin_listen: &str,
    shutdown: CancellationToken,
) -> Result<(), DemoError> {
    let sim_config = SimConfig {
        heartbeat_interval: heartbeat,
        ..SimConfig::default()
    };
    let sim = DiscordSim::start(sim_config)
        .await
        .map_err(DemoError::Simulator)?;
    let config = demo_config(&sim, admin_listen)?;
    let (addr_tx, addr_rx) = oneshot::channel();
    let broker = tokio::spawn(run_reporting(config, shutdown.clone(), Some(addr_tx)));
    let Ok(admin) = addr_rx.await else {
        // The broker stopped before listening; its error says why.
        return broker
            .await
            .map_err(|e| RunError::Panicked(e.to_string()))?
            .map_err(Into::into);
    };
    println!(
        "switchboard demo: a simulated Discord gateway runs at {}",
        sim.gateway_url()
    );
    println!("admin: http://{admin}/status (also /readyz, /metrics)");
    println!(
        "Type a message and press Enter: it is posted in #general with an @mention of the bot."
    );
    println!("/drop cuts the gateway connection (watch it resume), /quit stops.");

    let you = sim.user(DEMO_USER_ID, "you");
    let channel = sim.channel_ids()[0];
    let mention = format!("<@{}>", sim.bot_user().id);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    loop {
        let line = tokio::select! {
            () = shutdown.cancelled() => break,
            line = lines.next_line() => match line {
                Ok(Some(line)) => line,
                _ => break,
            },
        };
        match line.trim() {
            "" => {}
            "/quit" => break,
            "/drop" => {
                sim.drop_connections();
                println!("(gateway connection dropped without a close frame)");
            }
            text => {
                let id = sim.inject_message(channel, &you, &format!("{mention} {text}"));
                println!("(posted message {id} in #general)");
            }
        }
    }
    shutdown.cancel();
    let result = broker
        .await
        .map_err(|e| RunError::Panicked(e.to_string()))?;
    sim.shutdown();
    result.map_err(Into::into)
}
