//! `switchboard demo`: the real broker against a built-in simulated Discord,
//! with a terminal chat in front of it. No Discord account needed.
//!
//! Each typed line is posted in the simulator's #general as a user message
//! that @mentions the bot; `/drop` cuts the gateway connection without a
//! close frame (watch switchboard resume), `/quit` or end of input stops.
//! Everything between the simulator and the terminal is the production path.

mod view;

use std::time::Duration;

use discord_sim::{DiscordSim, SimConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::broker::reply::ReplyConfig;
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
    #[error("--agent: {0}")]
    Agent(String),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Which agent the demo runs.
pub enum DemoAgent {
    /// The built-in demo agent (this binary's `demo-agent`).
    BuiltIn,
    /// Any ACP agent command line, e.g. `npx @zed-industries/claude-code-acp`.
    Command(String),
}

/// The embedded config: the simulator's URLs, channel, token and user, and
/// the agent.
fn demo_config(
    sim: &DiscordSim,
    admin_listen: &str,
    agent: &DemoAgent,
    data_dir: &std::path::Path,
) -> Result<Config, DemoError> {
    let (command, args) = match agent {
        DemoAgent::BuiltIn => {
            let exe = std::env::current_exe().map_err(DemoError::Simulator)?;
            (exe.display().to_string(), vec!["demo-agent".to_owned()])
        }
        DemoAgent::Command(line) => {
            let mut words =
                shell_words::split(line).map_err(|e| DemoError::Agent(format!("{line:?}: {e}")))?;
            if words.is_empty() {
                return Err(DemoError::Agent("--agent needs a command".into()));
            }
            (words.remove(0), words)
        }
    };
    let args = args
        .iter()
        .map(|a| toml_string(a))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        r#"
[discord]
token = "${{DEMO_TOKEN}}"
allowed_channels = ["{channel}"]
allowed_users = ["{user}"]
api_url = "{api}"
gateway_url = "{gateway}"

[broker]
edit_interval = "700ms"

[agent]
command = {command}
args = [{args}]
permission_policy = "allow"

[admin]
listen = "{admin_listen}"

[store]
data_dir = {data_dir}
"#,
        channel = sim.channel_ids()[0],
        user = DEMO_USER_ID,
        api = sim.http_url(),
        gateway = sim.gateway_url(),
        command = toml_string(&command),
        data_dir = toml_string(&data_dir.display().to_string()),
    );
    let token = sim.token();
    Ok(Config::from_toml_str(&text, EMBEDDED, &|name| {
        (name == "DEMO_TOKEN").then(|| token.clone())
    })?)
}

/// A TOML basic string holding `text` exactly (`${` escaped too).
fn toml_string(text: &str) -> String {
    let quoted = toml::Value::String(text.to_owned()).to_string();
    quoted.replace("${", "$${")
}

/// Run the demo until end of input, `/quit` or `shutdown`.
pub async fn run_demo(
    agent: DemoAgent,
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
    // The demo keeps no state between runs: its store lives in a temporary
    // directory removed at exit.
    let data_dir = tempfile::tempdir().map_err(DemoError::Simulator)?;
    let config = demo_config(&sim, admin_listen, &agent, data_dir.path())?;
    let (addr_tx, addr_rx) = oneshot::channel();
    let broker = tokio::spawn(run_reporting(config, shutdown.clone(), Some(addr_tx)));
    let Ok(admin) = addr_rx.await else {
        // The broker stopped before listening; its error says why.
        return broker
            .await
            .map_err(|e| RunError::Panicked(e.to_string()))?
            .map_err(Into::into);
    };
    // Messages typed before the gateway session exists would only be found
    // by catch-up; wait until switchboard is connected.
    let connected = sim
        .wait_until(Duration::from_secs(10), |s| {
            (!s.ready_sent().is_empty()).then_some(())
        })
        .await;
    if connected.is_none() {
        println!("(switchboard has not connected to the simulator yet; see the log)");
    }
    println!(
        "switchboard demo: a simulated Discord gateway runs at {}",
        sim.gateway_url()
    );
    println!("admin: http://{admin}/status (also /readyz, /metrics)");
    println!(
        "Type a message and press Enter: it is posted in #general with an @mention of the bot."
    );
    println!("/drop cuts the gateway connection (watch it resume), /quit stops.");
    tokio::spawn(view::watch(
        sim.clone(),
        ReplyConfig::default().placeholder,
        shutdown.clone(),
    ));

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
