//! The command line: `switchboard [run|check|demo] [--config FILE]`, and
//! `switchboard check [--config FILE] [--agent] [--online]`.
//!
//! Owns argument parsing only (clap derive). It never loads the config or
//! prints: `main` does that with what this returns.

use std::path::PathBuf;

use crate::demo::DemoPlatform;
use clap::{Parser, Subcommand};

/// Where the config is looked for when `--config` is not given.
pub const DEFAULT_CONFIG: &str = "switchboard.toml";

/// A broker between chat platforms (Discord) and ACP coding agents.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about)]
pub struct Cli {
    /// What to do; without one, `run` with ./switchboard.toml.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// A subcommand.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Connect to the configured platforms and serve until SIGINT/SIGTERM.
    Run {
        /// The config file.
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
    },
    /// Validate the config file and that the agent command resolves (on the
    /// agent's PATH or as a path) and its cwd exists; exit 1 if anything
    /// asked for fails.
    Check {
        /// The config file.
        #[arg(long, short, default_value = DEFAULT_CONFIG)]
        config: PathBuf,
        /// Also start the agent once as `run` would (same command, cleared
        /// environment, own process group): it must complete ACP
        /// `initialize` and `session/new` within 30 s. Prints its name,
        /// version, loadSession, images, and the modes and config options
        /// of that one session (modes are per session in ACP, so one is
        /// created; no prompt is sent), then kills and reaps it.
        #[arg(long)]
        agent: bool,
        /// Also verify the tokens with the platforms, without connecting a
        /// gateway: Discord GET /users/@me (discord.token), Slack auth.test
        /// (slack.bot_token) and apps.connections.open (slack.app_token;
        /// the returned WebSocket URL is not opened).
        #[arg(long)]
        online: bool,
    },
    /// Run against a built-in simulated Discord (or Slack) with a terminal
    /// chat; no account or config needed.
    Demo {
        /// Which simulated platform to run on.
        #[arg(long, value_enum, default_value_t = DemoPlatform::Discord)]
        platform: DemoPlatform,
        /// Run this ACP agent command instead of the built-in demo agent,
        /// e.g. --agent "npx @agentclientprotocol/claude-agent-acp".
        #[arg(long)]
        agent: Option<String>,
        /// Admin API address (default: a free port on 127.0.0.1, printed at
        /// start, so two demos never collide).
        #[arg(long, default_value = "127.0.0.1:0")]
        admin: String,
        /// The simulated gateway's heartbeat interval in milliseconds.
        #[arg(long, default_value_t = 41_250, hide = true)]
        heartbeat_ms: u64,
    },
    /// Run the built-in demo/test ACP agent on stdin/stdout.
    #[command(hide = true, name = "demo-agent")]
    DemoAgent {
        /// Advertise loadSession and replay history on session/load.
        #[arg(long)]
        load_session: bool,
        /// Also keep sessions in this JSON file (survives a restart).
        #[arg(long)]
        state_file: Option<PathBuf>,
        /// Pause between streamed chunks, in milliseconds.
        #[arg(long, default_value_t = 150)]
        chunk_delay_ms: u64,
        /// Answer prompts without directives with "echo: <prompt>" at once.
        #[arg(long)]
        echo: bool,
        /// Write one junk line to stdout first (tests the client's parser).
        #[arg(long)]
        emit_junk: bool,
        /// Wait this many milliseconds before an echo answer.
        #[arg(long, default_value_t = 0)]
        echo_delay_ms: u64,
        /// Append prompt-read and first-chunk times (CLOCK_MONOTONIC ns) here.
        #[arg(long)]
        timestamps_file: Option<PathBuf>,
        /// Wait this many milliseconds before answering `initialize` (a
        /// slow agent start).
        #[arg(long, default_value_t = 0)]
        start_delay_ms: u64,
        /// Announce these session modes on session/new (comma-separated
        /// ids; the first is the current one).
        #[arg(long, value_delimiter = ',')]
        modes: Vec<String>,
    },
}

impl Cli {
    /// The chosen command; `switchboard` alone is `run` with the default file.
    pub fn command_or_default(self) -> Command {
        self.command.unwrap_or_else(|| Command::Run {
            config: PathBuf::from(DEFAULT_CONFIG),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(args).map(Cli::command_or_default)
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_invocation_runs_with_the_default_file() {
        let run = Command::Run {
            config: PathBuf::from("switchboard.toml"),
        };
        assert_eq!(parse(&["switchboard"]).unwrap(), run);
        assert_eq!(parse(&["switchboard", "run"]).unwrap(), run);
    }

    #[test]
    fn config_flag_long_and_short() {
        assert_eq!(
            parse(&["switchboard", "check", "--config", "a.toml"]).unwrap(),
            Command::Check {
                config: PathBuf::from("a.toml"),
                agent: false,
                online: false,
            }
        );
        assert_eq!(
            parse(&["switchboard", "run", "-c", "b.toml"]).unwrap(),
            Command::Run {
                config: PathBuf::from("b.toml")
            }
        );
    }

    #[test]
    fn check_takes_agent_and_online_in_any_order() {
        let check = |agent, online| Command::Check {
            config: PathBuf::from("switchboard.toml"),
            agent,
            online,
        };
        assert_eq!(
            parse(&["switchboard", "check"]).unwrap(),
            check(false, false)
        );
        assert_eq!(
            parse(&["switchboard", "check", "--agent"]).unwrap(),
            check(true, false)
        );
        assert_eq!(
            parse(&["switchboard", "check", "--online"]).unwrap(),
            check(false, true)
        );
        assert_eq!(
            parse(&[
                "switchboard",
                "check",
                "--online",
                "-c",
                "x.toml",
                "--agent"
            ])
            .unwrap(),
            Command::Check {
                config: PathBuf::from("x.toml"),
                agent: true,
                online: true,
            }
        );
        let err = parse(&["switchboard", "run", "--agent"]).unwrap_err();
        assert!(err.to_string().contains("--agent"), "{err}");
    }

    #[test]
    fn check_help_states_the_probe_deadline() {
        let mut cli = Cli::command();
        let help = cli
            .find_subcommand_mut("check")
            .expect("check subcommand")
            .render_long_help()
            .to_string();
        let deadline = crate::agent::probe::PROBE_DEADLINE.as_secs();
        assert!(help.contains(&format!("within {deadline} s")), "{help}");
    }

    #[test]
    fn unknown_subcommand_is_an_error() {
        let err = parse(&["switchboard", "serve"]).unwrap_err();
        assert!(
            err.to_string().contains("unrecognized subcommand 'serve'"),
            "{err}"
        );
    }
}
