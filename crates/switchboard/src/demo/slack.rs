//! The demo's Slack: slack-sim in-process (Web API + Socket Mode), the
//! `[slack]` section that points switchboard at it, and what a typed line
//! does there (a message, a click on a button, `/switchboard mode`), always
//! through the simulator.

use std::time::Duration;

use async_trait::async_trait;
use slack_sim::{InteractionOutcome, SlackSim, SlackSimConfig};
use tokio_util::sync::CancellationToken;

use super::buttons::{self, Button};
use super::{ANSWER_WAIT, DemoError, DemoWorld, slack_view};

/// The id of the person typing in the demo.
pub(super) const DEMO_USER_ID: &str = "UDEMOUSER01";

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

    /// The newest bot message with buttons in #general's threads: (its
    /// ts, its buttons).
    fn open_prompt(&self) -> Option<(String, Vec<Button>)> {
        self.sim
            .messages(&self.channel())
            .into_iter()
            .filter(|m| m.bot_id.is_some() && m.thread_ts.is_some())
            .filter_map(|m| {
                let buttons = buttons::slack_buttons(&m.blocks);
                (!buttons.is_empty()).then_some((m.ts, buttons))
            })
            .max_by(|a, b| ts_order(&a.0, &b.0))
    }
}

/// Slack's ts ("seconds.micros") in time order.
fn ts_order(a: &str, b: &str) -> std::cmp::Ordering {
    let key = |ts: &str| {
        let (secs, micros) = ts.split_once('.').unwrap_or((ts, "0"));
        (
            secs.parse::<u64>().unwrap_or(0),
            micros.parse::<u64>().unwrap_or(0),
        )
    };
    key(a).cmp(&key(b))
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
            "A prompt with buttons lists numbered choices: type the number and Enter to click it."
                .to_owned(),
            "/mode runs /switchboard mode, /drop cuts the Socket Mode connections (watch them come back), /quit stops."
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

    fn choose(&self, n: usize) -> Option<String> {
        let (ts, buttons) = self.open_prompt()?;
        let button = match buttons::clicked(n, &buttons) {
            Ok(button) => button,
            Err(said) => return Some(said),
        };
        Some(
            match self
                .sim
                .click_button(&self.channel(), &ts, &button.id, DEMO_USER_ID)
            {
                Ok(handle) if handle.outcome == InteractionOutcome::NoConnection => {
                    "(no Socket Mode connection is open: the click went nowhere)".to_owned()
                }
                Ok(_) => format!("(you clicked [{n}] {})", button.label),
                Err(err) => format!("(could not click [{n}] {}: {err})", button.label),
            },
        )
    }

    async fn mode(&self, value: Option<&str>) -> Option<String> {
        // In the channel: switchboard takes it to the thread the person
        // last wrote in.
        let text = value.map_or_else(|| "mode".to_owned(), |mode| format!("mode {mode}"));
        let handle =
            match self
                .sim
                .run_slash_command(&self.channel(), DEMO_USER_ID, "/switchboard", &text)
            {
                Ok(handle) => handle,
                Err(err) => return Some(format!("(could not run /switchboard {text}: {err})")),
            };
        // The answer: the ack's payload, or a post to the response_url;
        // ephemeral unless `in_channel`.
        let envelope = handle.envelope_id.clone();
        let answer = self
            .sim
            .wait_until(ANSWER_WAIT, |sim| {
                let acked = sim.interaction(&envelope).and_then(|r| {
                    let payload = r.ack_payload?;
                    let text = payload["text"].as_str()?.to_owned();
                    Some((text, payload["response_type"] != "in_channel"))
                });
                acked.or_else(|| {
                    sim.response_url_uses().into_iter().find_map(|u| {
                        let ours = u.envelope_id == envelope && u.error.is_none();
                        let text = u.body["text"].as_str()?.to_owned();
                        ours.then_some((text, u.effect.as_deref() != Some("in_channel")))
                    })
                })
            })
            .await;
        Some(match answer {
            Some((answer, true)) => super::private(&answer),
            // A top-level message in #general (the view shows threads only).
            Some((answer, false)) => format!("[bot in #general] {answer}"),
            None => "(no answer to /switchboard mode yet; see the log)".to_owned(),
        })
    }

    fn drop_connections(&self) -> String {
        self.sim.drop_connections();
        "(Socket Mode connections dropped without a close frame)".to_owned()
    }

    fn shutdown(&self) {
        self.sim.shutdown();
    }
}
