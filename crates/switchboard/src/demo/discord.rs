//! The demo's Discord: discord-sim in-process, the `[discord]` section that
//! points switchboard at it, and what a typed line does there.

use std::time::Duration;

use async_trait::async_trait;
use discord_sim::{DiscordSim, SimConfig};
use tokio_util::sync::CancellationToken;

use super::{DemoError, DemoWorld, discord_view};

/// The id of the person typing in the demo.
const DEMO_USER_ID: u64 = 1_100_000_000_000_000_100;

pub(super) struct DiscordWorld {
    sim: DiscordSim,
}

impl DiscordWorld {
    pub(super) async fn start(heartbeat: Duration) -> Result<Self, DemoError> {
        let config = SimConfig {
            heartbeat_interval: heartbeat,
            ..SimConfig::default()
        };
        let sim = DiscordSim::start(config)
            .await
            .map_err(DemoError::Simulator)?;
        Ok(Self { sim })
    }
}

#[async_trait]
impl DemoWorld for DiscordWorld {
    fn config_section(&self) -> String {
        format!(
            r#"
[discord]
token = "${{DEMO_TOKEN}}"
allowed_channels = ["{channel}"]
allowed_users = ["{user}"]
api_url = "{api}"
gateway_url = "{gateway}"
"#,
            channel = self.sim.channel_ids()[0],
            user = DEMO_USER_ID,
            api = self.sim.http_url(),
            gateway = self.sim.gateway_url(),
        )
    }

    fn secret(&self, name: &str) -> Option<String> {
        (name == "DEMO_TOKEN").then(|| self.sim.token())
    }

    async fn wait_connected(&self) -> bool {
        self.sim
            .wait_until(Duration::from_secs(10), |s| {
                (!s.ready_sent().is_empty()).then_some(())
            })
            .await
            .is_some()
    }

    fn banner(&self) -> Vec<String> {
        vec![
            format!(
                "switchboard demo: a simulated Discord gateway runs at {}",
                self.sim.gateway_url()
            ),
            "Type a message and press Enter: it is posted in #general with an @mention of the bot."
                .to_owned(),
            "/drop cuts the gateway connection (watch it resume), /quit stops.".to_owned(),
        ]
    }

    fn watch(&self, placeholder: String, shutdown: CancellationToken) {
        tokio::spawn(discord_view::watch(self.sim.clone(), placeholder, shutdown));
    }

    fn post(&self, text: &str) -> String {
        let you = self.sim.user(DEMO_USER_ID, "you");
        let mention = format!("<@{}>", self.sim.bot_user().id);
        let channel = self.sim.channel_ids()[0];
        let id = self
            .sim
            .inject_message(channel, &you, &format!("{mention} {text}"));
        format!("(posted message {id} in #general)")
    }

    fn drop_connections(&self) -> String {
        self.sim.drop_connections();
        "(gateway connection dropped without a close frame)".to_owned()
    }

    fn shutdown(&self) {
        self.sim.shutdown();
    }
}
