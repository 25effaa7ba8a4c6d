//! The demo's Discord: discord-sim in-process, the `[discord]` section that
//! points switchboard at it, and what a typed line does there (a message,
//! a click on a button, a slash command), always through the simulator.

use std::time::Duration;

use async_trait::async_trait;
use discord_sim::{DiscordSim, InteractionHandle, SimConfig, SimUser};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::buttons::{self, Button};
use super::{ANSWER_WAIT, DemoError, DemoWorld, discord_view};

/// The id of the person typing in the demo.
pub(super) const DEMO_USER_ID: u64 = 1_100_000_000_000_000_100;

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

    fn you(&self) -> SimUser {
        self.sim.user(DEMO_USER_ID, "you")
    }

    /// The newest bot message with buttons, in any thread: (thread,
    /// message, its buttons).
    fn open_prompt(&self) -> Option<(u64, u64, Vec<Button>)> {
        let bot = self.sim.bot_user().id;
        self.sim
            .threads()
            .iter()
            .flat_map(|thread| self.sim.messages(thread.id))
            .filter(|m| m.author.id == bot)
            .filter_map(|m| {
                let buttons = buttons::discord_buttons(&m.components);
                (!buttons.is_empty()).then_some((m.channel_id, m.id, buttons))
            })
            .max_by_key(|(_, id, _)| *id)
    }

    /// What a command was answered with: the callback's content, or, when
    /// the answer was deferred, the content `@original` was edited to; and
    /// whether only the person sees it.
    async fn answer_of(&self, handle: &InteractionHandle) -> Option<(String, bool)> {
        let first = handle.wait_response(ANSWER_WAIT).await?;
        let private = first.ephemeral();
        if let Some(content) = first.content.filter(|c| !c.is_empty()) {
            return Some((content, private));
        }
        self.sim
            .wait_until(ANSWER_WAIT, |_| {
                handle.webhook_calls().into_iter().find_map(|call| {
                    let edited =
                        call.method == "PATCH" && call.target == "@original" && call.status < 300;
                    let content = call.body?["content"].as_str()?.to_owned();
                    edited.then_some((content, private))
                })
            })
            .await
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
            "A prompt with buttons lists numbered choices: type the number and Enter to click it."
                .to_owned(),
            "/mode lists or sets the agent's mode, /drop cuts the gateway connection (watch it resume), /quit stops."
                .to_owned(),
        ]
    }

    fn watch(&self, placeholder: String, shutdown: CancellationToken) {
        tokio::spawn(discord_view::watch(self.sim.clone(), placeholder, shutdown));
    }

    fn post(&self, text: &str) -> String {
        let you = self.you();
        let mention = format!("<@{}>", self.sim.bot_user().id);
        let channel = self.sim.channel_ids()[0];
        let id = self
            .sim
            .inject_message(channel, &you, &format!("{mention} {text}"));
        format!("(posted message {id} in #general)")
    }

    fn choose(&self, n: usize) -> Option<String> {
        let (thread, message, buttons) = self.open_prompt()?;
        let button = match buttons::clicked(n, &buttons) {
            Ok(button) => button,
            Err(said) => return Some(said),
        };
        Some(
            match self
                .sim
                .click_button(thread, message, &button.id, &self.you())
            {
                Ok(_) => format!("(you clicked [{n}] {})", button.label),
                Err(err) => format!("(could not click [{n}] {}: {err})", button.label),
            },
        )
    }

    async fn mode(&self, value: Option<&str>) -> Option<String> {
        // In the thread of the latest conversation, else in #general.
        let channel = self
            .sim
            .threads()
            .last()
            .map_or(self.sim.channel_ids()[0], |thread| thread.id);
        let options = value.map_or_else(|| json!({}), |mode| json!({ "mode": mode }));
        let handle = match self.sim.run_command(channel, &self.you(), "mode", options) {
            Ok(handle) => handle,
            Err(err) => return Some(format!("(could not run /mode: {err})")),
        };
        match self.answer_of(&handle).await {
            Some((answer, true)) => Some(super::private(&answer)),
            // Posted in the thread for everyone: the view shows it.
            Some((_, false)) => None,
            None => Some("(no answer to /mode yet; see the log)".to_owned()),
        }
    }

    fn drop_connections(&self) -> String {
        self.sim.drop_connections();
        "(gateway connection dropped without a close frame)".to_owned()
    }

    fn shutdown(&self) {
        self.sim.shutdown();
    }
}
