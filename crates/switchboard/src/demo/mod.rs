//! `switchboard demo`: the real broker against a built-in simulated chat
//! platform (Discord by default, Slack with `--platform slack`), with a
//! terminal chat in front of it. No account needed.
//!
//! Each typed line is posted in the simulator's #general as a user message
//! that @mentions the bot. The agent asks before its edit (policy `ask`):
//! the prompt shows numbered choices, and a lone `1`, `2`, ... clicks that
//! button as the person, through the simulator. `/mode [id]` runs the
//! platform's slash command and shows its answer; `/drop` cuts the
//! platform connection without a close frame (watch switchboard
//! reconnect), `/status` prints the admin API's view, `/help` the
//! commands, `/quit` or end of input stops.
//! Everything between the simulator and the terminal is the production path.
//! The terminal is a clean chat: every log line goes to a file in the
//! demo's folder (printed at start), never between the lines of a reply.
//!
//! - `discord`, `slack`: one simulated platform each ([`DemoWorld`])
//! - `discord_view`, `slack_view`: the terminal view of the bot's replies
//!   and of switchboard's connections as the platform sees them
//! - `buttons`: a message's buttons as numbered choices, and the key that
//!   picks one
//! - `folder`: the demo's log file and store; `status_text`: `/status`;
//!   `terminal`: the one writer of the chat

mod buttons;
mod discord;
mod discord_view;
mod folder;
mod slack;
mod slack_view;
mod status_text;
mod terminal;

pub use folder::DemoFolder;

use std::time::Duration;

use async_trait::async_trait;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use crate::broker::reply::ReplyConfig;
use crate::config::{Config, ConfigError, EMBEDDED};
use crate::{RunError, run_reporting};

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot start the built-in simulator: {0}")]
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
    /// Any ACP agent command line, e.g. `npx @agentclientprotocol/claude-agent-acp`.
    Command(String),
}

/// Which simulated platform the demo runs on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoPlatform {
    #[default]
    Discord,
    Slack,
}

/// One simulated platform: how switchboard is pointed at it and what the
/// person at the terminal can do there.
#[async_trait]
trait DemoWorld: Send + Sync {
    /// The platform's config section (secrets as `${VAR}`).
    fn config_section(&self) -> String;
    /// The values of the section's `${VAR}`s.
    fn secret(&self, name: &str) -> Option<String>;
    /// Wait (bounded) until switchboard is connected; `false` if it is not.
    async fn wait_connected(&self) -> bool;
    /// Lines printed once the demo is up.
    fn banner(&self) -> Vec<String>;
    /// Start printing the bot's replies until `shutdown`.
    fn watch(&self, placeholder: String, shutdown: CancellationToken);
    /// Post `text` as the person, mentioning the bot; says what was posted.
    fn post(&self, text: &str) -> String;
    /// Click button `n` (1-based) of the newest open prompt as the person;
    /// says what was done, or `None` when no prompt is open.
    fn choose(&self, n: usize) -> Option<String>;
    /// Run the slash command `/mode [value]` as the person; the line to
    /// print: its answer (see [`private`]) or why there is none. `None`
    /// when the answer went into the thread, where the view shows it.
    async fn mode(&self, value: Option<&str>) -> Option<String>;
    /// Cut switchboard's connections; says what was done.
    fn drop_connections(&self) -> String;
    fn shutdown(&self);
}

/// The embedded config: the platform's section, the agent, the admin API
/// and a store in `data_dir`.
fn demo_config(
    world: &dyn DemoWorld,
    admin_listen: &str,
    agent: &DemoAgent,
    data_dir: &std::path::Path,
) -> Result<Config, DemoError> {
    let (command, args) = match agent {
        DemoAgent::BuiltIn => {
            let exe = std::env::current_exe().map_err(DemoError::Simulator)?;
            let args = ["demo-agent", "--modes", DEMO_MODES];
            (exe.display().to_string(), args.map(str::to_owned).to_vec())
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
        r#"{platform}
[broker]
edit_interval = "700ms"

[agent]
command = {command}
args = [{args}]
# The agent asks before it edits: the prompt is posted with buttons and
# the demo user (the requester) decides.
permission_policy = "ask"

[admin]
listen = "{admin_listen}"

[store]
data_dir = {data_dir}
# The demo's store holds only this terminal's own prompts and is removed at
# exit, so it may sit inside the agent's folder (e.g. a demo run from /tmp).
allow_inside_agent_cwd = true
"#,
        platform = world.config_section(),
        command = toml_string(&command),
        data_dir = toml_string(&data_dir.display().to_string()),
    );
    Ok(Config::from_toml_str(&text, EMBEDDED, &|name| {
        world.secret(name)
    })?)
}

/// The session modes the built-in agent announces (`/mode` switches them).
const DEMO_MODES: &str = "default,acceptEdits,plan";

/// How long `/mode` waits for the platform to show the command's answer.
const ANSWER_WAIT: Duration = Duration::from_secs(10);

/// An answer only the person sees (an ephemeral message), as one block.
fn private(text: &str) -> String {
    format!("(only you) {text}")
}

/// `/mode` alone (`Some(None)`) or with a value (`Some(Some(id))`).
fn mode_command(line: &str) -> Option<Option<&str>> {
    let rest = line.strip_prefix("/mode")?;
    if rest.is_empty() {
        return Some(None);
    }
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let value = rest.trim();
    Some((!value.is_empty()).then_some(value))
}

/// A TOML basic string holding `text` exactly (`${` escaped too).
fn toml_string(text: &str) -> String {
    let quoted = toml::Value::String(text.to_owned()).to_string();
    quoted.replace("${", "$${")
}

/// What `/help` prints.
const HELP: &str = "Type a message and press Enter to post it with an @mention of the bot.\n\
1, 2, 3  alone on a line: click that choice of the open permission prompt\n\
/mode    list the agent's modes; /mode <id> switches (e.g. /mode plan)\n\
/status  what switchboard reports (connections, agent sessions, store)\n\
/drop    cut switchboard's platform connection without a close frame\n\
/help    this list\n\
/quit    stop (so does Ctrl-D)";

/// Run the demo until end of input, `/quit` or `shutdown`. `heartbeat` is
/// the simulated Discord gateway's interval; the store lives in `folder`.
pub async fn run_demo(
    platform: DemoPlatform,
    agent: DemoAgent,
    heartbeat: Duration,
    admin_listen: &str,
    folder: &DemoFolder,
    shutdown: CancellationToken,
) -> Result<(), DemoError> {
    let world: Box<dyn DemoWorld> = match platform {
        DemoPlatform::Discord => Box::new(discord::DiscordWorld::start(heartbeat).await?),
        DemoPlatform::Slack => Box::new(slack::SlackWorld::start().await?),
    };
    // The demo keeps no state between runs: its store is removed at exit.
    let result = chat(world.as_ref(), &agent, admin_listen, folder, shutdown).await;
    world.shutdown();
    folder.remove_data();
    result
}

/// The demo after its simulator is up: start the broker, then the
/// terminal chat until `/quit`, end of input or `shutdown`.
async fn chat(
    world: &dyn DemoWorld,
    agent: &DemoAgent,
    admin_listen: &str,
    folder: &DemoFolder,
    shutdown: CancellationToken,
) -> Result<(), DemoError> {
    let config = demo_config(world, admin_listen, agent, &folder.data_dir())?;
    let (addr_tx, addr_rx) = oneshot::channel();
    let broker = tokio::spawn(run_reporting(config, shutdown.clone(), Some(addr_tx)));
    let Ok(admin) = addr_rx.await else {
        // The broker stopped before listening; its error says why.
        return broker
            .await
            .map_err(|e| RunError::Panicked(e.to_string()))?
            .map_err(Into::into);
    };
    // Messages typed before switchboard is connected would only be found
    // by catch-up; wait until it is.
    if !world.wait_connected().await {
        terminal::line(&format!(
            "(switchboard has not connected to the simulator yet; see the log: {})",
            folder.log_path().display()
        ));
    }
    let mut banner = world.banner().into_iter();
    if let Some(first) = banner.next() {
        terminal::line(&first);
    }
    terminal::line(&format!(
        "admin: http://{admin}/status (also /readyz, /metrics)"
    ));
    terminal::line(&format!("log: {}", folder.log_path().display()));
    for line in banner {
        terminal::line(&line);
    }
    terminal::line("/help lists the commands.");
    world.watch(ReplyConfig::default().placeholder, shutdown.clone());

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
            "/drop" => terminal::line(&world.drop_connections()),
            "/status" => terminal::line(&status_text::fetch(admin).await),
            "/help" => terminal::line(HELP),
            text => {
                if let Some(value) = mode_command(text) {
                    if let Some(said) = world.mode(value).await {
                        terminal::line(&said);
                    }
                    continue;
                }
                // A digit with no prompt open is an ordinary message.
                let clicked = buttons::choice_key(text).and_then(|n| world.choose(n));
                match clicked {
                    Some(said) => terminal::line(&said),
                    None => terminal::line(&world.post(text)),
                }
            }
        }
    }
    shutdown.cancel();
    let result = broker
        .await
        .map_err(|e| RunError::Panicked(e.to_string()))?;
    terminal::line(&format!(
        "(stopped; the log is kept at {})",
        folder.log_path().display()
    ));
    result.map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_lines_are_recognised() {
        assert_eq!(mode_command("/mode"), Some(None));
        assert_eq!(mode_command("/mode   "), Some(None));
        assert_eq!(mode_command("/mode plan"), Some(Some("plan")));
        assert_eq!(
            mode_command("/mode  acceptEdits "),
            Some(Some("acceptEdits"))
        );
        assert_eq!(mode_command("/modes"), None);
        assert_eq!(mode_command("mode plan"), None);
        assert_eq!(
            private("Mode set to `plan`."),
            "(only you) Mode set to `plan`."
        );
    }
}
