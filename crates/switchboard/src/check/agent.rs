//! `switchboard check --agent`: start the configured agent once (through
//! [`crate::agent::probe`], the same start a conversation makes), and say
//! what it is and what it supports, or why it did not start.
//!
//! Modes are per session in ACP (announced by `session/new`, not by
//! `initialize`), so the probe creates one session, reports its modes and
//! config options, and stops the agent without prompting it.
//!
//! Owns: the wording of the agent lines. Must never: print the agent's
//! environment (`agent.env` may hold API keys).

use super::CheckLine;
use crate::agent::probe::probe;
use crate::agent::{AgentCommand, AgentInfo, SessionOptions};
use crate::config::AgentConfig;

/// Start the agent, read `initialize` and `session/new`, stop it.
pub(super) async fn start_once(agent: &AgentConfig) -> CheckLine {
    let command = AgentCommand::from_config(agent);
    match probe(&command, SessionOptions::from_config(agent)).await {
        Ok(report) => CheckLine::ok(
            "agent",
            format!(
                "initialize ok — {}; stopped ({})",
                describe(&report.info),
                report.ended
            ),
        ),
        Err(failure) => {
            let mut line = CheckLine::failed(
                "agent",
                format!(
                    "`{}` did not start (spawn, initialize, session/new): {}",
                    command_line(&command),
                    failure.error
                ),
            );
            if !failure.stderr.is_empty() {
                line.details.push("its last stderr lines:".to_owned());
                line.details
                    .extend(failure.stderr.iter().map(|l| format!("  {l}")));
            }
            line
        }
    }
}

/// The program and its arguments, quoted as a shell would need them.
fn command_line(command: &AgentCommand) -> String {
    shell_words::join(std::iter::once(&command.command).chain(&command.args))
}

/// `name version; loadSession yes, images no, modes: a (current), b;
/// config options: none`.
fn describe(info: &AgentInfo) -> String {
    let yes_no = |flag: bool| if flag { "yes" } else { "no" };
    let who = match (&info.agent_name, &info.agent_version) {
        (Some(name), Some(version)) => format!("{name} {version}"),
        (Some(name), None) => name.clone(),
        _ => "the agent sent no agentInfo".to_owned(),
    };
    let modes = if info.modes.is_empty() {
        "none".to_owned()
    } else {
        info.modes
            .iter()
            .map(|mode| match &info.current_mode {
                Some(current) if current == mode => format!("{mode} (current)"),
                _ => mode.clone(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let options = if info.config_options.is_empty() {
        "none".to_owned()
    } else {
        info.config_options.join(", ")
    };
    let mut text = format!(
        "{who}; loadSession {}, images {}, modes: {modes}; config options: {options}",
        yes_no(info.load_session),
        yes_no(info.image_prompts),
    );
    if !info.auth_methods.is_empty() {
        text.push_str(&format!(
            "; authentication: {}",
            info.auth_methods.join(", ")
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> AgentInfo {
        AgentInfo {
            session_id: "s1".into(),
            resumed: false,
            load_session: true,
            image_prompts: false,
            agent_name: Some("Claude Code".into()),
            agent_version: Some("0.7.1".into()),
            modes: vec!["default".into(), "plan".into()],
            current_mode: Some("default".into()),
            config_options: vec!["model".into()],
            auth_methods: vec!["claude-login".into()],
        }
    }

    #[test]
    fn the_description_names_the_agent_and_every_capability() {
        assert_eq!(
            describe(&info()),
            "Claude Code 0.7.1; loadSession yes, images no, modes: default (current), plan; \
             config options: model; authentication: claude-login"
        );
        let bare = AgentInfo {
            agent_name: None,
            agent_version: None,
            modes: vec![],
            current_mode: None,
            config_options: vec![],
            auth_methods: vec![],
            load_session: false,
            image_prompts: true,
            ..info()
        };
        assert_eq!(
            describe(&bare),
            "the agent sent no agentInfo; loadSession no, images yes, modes: none; config options: none"
        );
    }

    #[test]
    fn the_command_line_is_quoted() {
        let command = AgentCommand {
            command: "/usr/bin/npx".into(),
            args: vec!["-y".into(), "my agent".into()],
            cwd: "/".into(),
            env: Default::default(),
        };
        assert_eq!(command_line(&command), "/usr/bin/npx -y 'my agent'");
    }
}
