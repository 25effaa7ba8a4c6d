//! `switchboard check`: catch before `run` what would only fail later.
//!
//! Always: the config loads and validates (`config`), and the agent's
//! command resolves and its working directory exists (`resolve`). With
//! `--agent`: the agent is started once exactly as a conversation starts
//! it, must complete ACP `initialize` and `session/new`, and is stopped
//! (`agent`). With `--online`: each platform's tokens are verified against
//! the platform without opening a gateway or a socket (`online`), and a
//! PostgreSQL store (`store.url`) is connected to once and its schema
//! reported, nothing applied (`store`).
//!
//! Owns: which checks run, their order, and the report (one summary line,
//! then one line per check; passing lines on stdout, failing ones on
//! stderr). Must never: print a token, send a prompt to the agent, open a
//! Discord gateway or a Slack Socket Mode WebSocket, or leave an agent
//! process behind.

mod agent;
mod online;
mod resolve;
mod store;

use std::io::Write;
use std::path::PathBuf;

use crate::config::Config;

/// What `switchboard check` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOptions {
    /// The config file.
    pub config: PathBuf,
    /// Start the agent once (`--agent`).
    pub agent: bool,
    /// Verify the tokens with the platforms (`--online`).
    pub online: bool,
}

/// One check's line: `{name}: {text}` when it passed, `{name}: FAILED:
/// {text}` (then `details`, indented) when it did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    /// What was checked: `agent`, `discord`, `slack`...
    pub name: &'static str,
    /// What was found, or what is wrong and how to fix it.
    pub text: String,
    /// Extra lines under a failure (e.g. the agent's last stderr lines).
    pub details: Vec<String>,
    passed: bool,
}

impl CheckLine {
    pub(crate) fn ok(name: &'static str, text: impl Into<String>) -> Self {
        Self {
            name,
            text: text.into(),
            details: Vec::new(),
            passed: true,
        }
    }

    pub(crate) fn failed(name: &'static str, text: impl Into<String>) -> Self {
        Self {
            name,
            text: text.into(),
            details: Vec::new(),
            passed: false,
        }
    }

    /// Whether this check passed.
    pub fn passed(&self) -> bool {
        self.passed
    }
}

/// Everything `check` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The config summary (`ok: FILE: platforms, admin on ADDR`), or the
    /// reason the config cannot be used.
    pub config: Result<String, String>,
    /// One line per further check, in the order they ran.
    pub lines: Vec<CheckLine>,
}

impl Report {
    /// Whether every check asked for passed.
    pub fn passed(&self) -> bool {
        self.config.is_ok() && self.lines.iter().all(CheckLine::passed)
    }

    /// Print the summary and passing lines to `out`, failures to `err`.
    pub fn write(&self, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<()> {
        match &self.config {
            Ok(summary) => writeln!(out, "{summary}")?,
            Err(reason) => writeln!(err, "switchboard: {reason}")?,
        }
        for line in &self.lines {
            if line.passed {
                writeln!(out, "{}: {}", line.name, line.text)?;
            } else {
                writeln!(err, "{}: FAILED: {}", line.name, line.text)?;
                for detail in &line.details {
                    writeln!(err, "  {detail}")?;
                }
            }
        }
        out.flush()?;
        err.flush()
    }
}

/// Run the checks `options` asks for.
pub fn run(options: &CheckOptions) -> Report {
    let config = match Config::load(&options.config) {
        Ok(config) => config,
        Err(err) => {
            return Report {
                config: Err(err.to_string()),
                lines: Vec::new(),
            };
        }
    };
    let mut lines = Vec::new();
    let mut command_found = false;
    match &config.agent {
        Some(agent) => {
            let line = resolve::agent_command(agent, std::env::var_os("PATH"));
            command_found = line.passed();
            lines.push(line);
        }
        None if options.agent => lines.push(CheckLine::failed(
            "agent",
            "--agent was given but the config has no [agent] section; add one with \
             command = \"...\" (the ACP agent to run)",
        )),
        None => {}
    }
    if options.agent || options.online {
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                let work = async {
                    let mut lines = Vec::new();
                    if let (true, true, Some(agent)) = (options.agent, command_found, &config.agent)
                    {
                        lines.push(agent::start_once(agent).await);
                    }
                    if options.online {
                        lines.extend(online::verify(&config).await);
                    }
                    lines
                };
                lines.extend(runtime.block_on(async {
                    // Dropping `work` at a signal drops a starting agent's
                    // session, whose Drop kills the agent's process group
                    // (in a group of its own, the terminal's Ctrl-C does
                    // not reach it).
                    tokio::select! {
                        // First: the handlers are in place before an agent
                        // is spawned.
                        biased;
                        signal = interrupted() => vec![CheckLine::failed(
                            "check",
                            format!("interrupted by {signal}; any agent started was killed"),
                        )],
                        lines = work => lines,
                    }
                }));
            }
            Err(err) => lines.push(CheckLine::failed(
                "check",
                format!("cannot start the async runtime: {err}"),
            )),
        }
    }
    Report {
        config: Ok(config.summary()),
        lines,
    }
}

/// The name of the first SIGINT or SIGTERM; pending forever when the
/// handlers cannot be installed (the default action then applies).
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_go_to_stderr_with_their_details_and_fail_the_report() {
        let mut failed = CheckLine::failed("agent", "it died");
        failed.details.push("stderr: no API key".into());
        let report = Report {
            config: Ok("ok: a.toml: discord (1 allowed channel), admin on 127.0.0.1:9464".into()),
            lines: vec![CheckLine::ok("discord", "ok (bot sb, id 1)"), failed],
        };
        assert!(!report.passed());
        let (mut out, mut err) = (Vec::new(), Vec::new());
        report.write(&mut out, &mut err).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ok: a.toml: discord (1 allowed channel), admin on 127.0.0.1:9464\n\
             discord: ok (bot sb, id 1)\n"
        );
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "agent: FAILED: it died\n  stderr: no API key\n"
        );
        let passing = Report {
            config: Ok("ok".into()),
            lines: vec![CheckLine::ok("agent", "ok")],
        };
        assert!(passing.passed());
        let unusable = Report {
            config: Err("a.toml: config file not found".into()),
            lines: Vec::new(),
        };
        assert!(!unusable.passed());
    }
}
