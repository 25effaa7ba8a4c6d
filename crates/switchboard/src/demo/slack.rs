//! The demo's Slack: slack-sim in-process (Web API + Socket Mode), the
//! `[slack]` section that points switchboard at it, and what a typed line
//! does there.

use std::time::Duration;

use async_trait::async_trait;
use slack_sim::{SlackSim, SlackSimConfig};
use tokio_util::sync::CancellationToken;

use super::{DemoError, DemoWorld, slack_view};

/// The id of the person typing in the demo.
const DEMO_USER_ID: &str = "UDEMOUSER01";

pub(super) struct SlackWorld {
    sim: SlackSim,
}

impl SlackWorld {
    pub(super) async fn start() -> Result<Self, DemoError> {
        let sim = SlackSim::start(SlackSimConfig::default())
            .await
            .map_err(DemoError::Simulator)?;
        sim.user(DEMO_USER_ID, "you");
        Ok(Self { sim })
    }

    fn channel(&self) -> String {
        self.sim.channel_ids()[0].clone()
    }
}

#[async_trait]
impl DemoWorld for SlackWorld {
    fn config_section(&self) -> String {
        format!(
            r#"
[slack]
bot_token = "${{DEMO_BOT_TOKEN}}"
app_token = "${{DEMO_APP_TOKEN}}"
allowed_channels = ["{channel}"]
allowed_users = ["{DEMO_USER_ID}"]
api_url = "{api}"
"#,
            channel = self.channel(),
            api = self.sim.api_url(),
        )
    }

    fn secret(&self, name: &str) -> Option<String> {
        match name {
            "DEMO_BOT_TOKEN" => Some(self.sim.bot_token()),
            "DEMO_APP_TOKEN" => Some(self.sim.app_token()),
            _ => None,
        }
    }

    async fn wait_connected(&self) -> bool {
        self.sim
            .wait_until(Duration::from_secs(10), |s| {
                (!s.live_connections().is_empty()).then_some(())
            })
            .await
            .is_some()
    }

    fn banner(&self) -> Vec<String> {
        vec![
            format!(
                "switchboard demo: a simulated Slack (Web API and Socket Mode) runs at {}",
                self.sim.api_url()
            ),
            "Type a message and press Enter: it is posted in #general with an @mention of the bot;\nthe answer streams into the message's thread."
                .to_owned(),
            "/drop cuts the Socket Mode connections (watch them come back), /quit stops."
                .to_owned(),
        ]
    }

    fn watch(&self, placeholder: String, shutdown: CancellationToken) {
        tokio::spawn(slack_view::watch(
            self.sim.clone(),
            self.channel(),
            placeholder,
            shutdown,
        ));
    }

    fn post(&self, text: &str) -> String {
        let mention = format!("<@{}>", self.sim.bot_user_id());
        let ts = self.sim.post_user_message(
            &self.channel(),
            DEMO_USER_ID,
            &format!("{mention} {text}"),
            None,
        );
        format!("(posted message {ts} in #general)")
    }

    fn drop_connections(&self) -> String {
        self.sim.drop_connections();
        "(Socket Mode connections dropped without a close frame)".to_owned()
    }

    fn shutdown(&self) {
        self.sim.shutdown();
    }
}
