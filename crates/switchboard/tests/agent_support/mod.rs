//! Shared helpers for the agent_* integration tests: the demo agent as a
//! real child process (`switchboard demo-agent`), turn collection, and
//! process liveness checks through /proc.
#![allow(dead_code)]

pub mod npm;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use switchboard::agent::{
    AgentCommand, AgentError, AgentSession, AgentUpdate, PermissionPolicy, PromptPart,
    SessionOptions, StopReason,
};
use tokio::sync::mpsc;

/// Show the library's logs in failing tests' output.
pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "switchboard=debug".into()),
        )
        .with_test_writer()
        .try_init();
}

/// `switchboard demo-agent --chunk-delay-ms 0 <extra>`.
pub fn demo_agent(extra: &[&str]) -> AgentCommand {
    let mut args = vec![
        "demo-agent".to_owned(),
        "--chunk-delay-ms".into(),
        "0".into(),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    AgentCommand {
        command: env!("CARGO_BIN_EXE_switchboard").to_owned(),
        args,
        cwd: std::env::temp_dir(),
        env: BTreeMap::new(),
    }
}

/// A shell script as the agent: `sh -c SCRIPT <args...>` ($0, $1, ...).
pub fn shell_agent(script: &str, args: &[&str]) -> AgentCommand {
    let mut all = vec!["-c".to_owned(), script.to_owned()];
    all.extend(args.iter().map(|s| (*s).to_owned()));
    AgentCommand {
        command: "sh".into(),
        args: all,
        cwd: std::env::temp_dir(),
        env: BTreeMap::new(),
    }
}

/// Test options: generous timeouts unless a test shortens them.
pub fn options(policy: PermissionPolicy) -> SessionOptions {
    SessionOptions {
        permission_policy: policy,
        turn_idle_timeout: Duration::from_secs(30),
        cancel_grace: Duration::from_secs(3),
        start_timeout: Duration::from_secs(30),
        log_tag: "test-thread".into(),
        ..SessionOptions::default()
    }
}

/// Start a demo-agent session.
pub async fn start_demo(extra: &[&str], policy: PermissionPolicy) -> AgentSession {
    init_logs();
    AgentSession::start(&demo_agent(extra), options(policy), None)
        .await
        .expect("demo agent starts")
}

/// One turn with a text prompt: its result and every update.
pub async fn turn(
    session: &AgentSession,
    text: &str,
) -> (Result<StopReason, AgentError>, Vec<AgentUpdate>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let result = session
        .prompt(vec![PromptPart::Text(text.to_owned())], tx)
        .await;
    let mut updates = Vec::new();
    while let Ok(update) = rx.try_recv() {
        updates.push(update);
    }
    (result, updates)
}

/// The answer text of a turn's updates.
pub fn text(updates: &[AgentUpdate]) -> String {
    updates
        .iter()
        .filter_map(|u| match u {
            AgentUpdate::MessageChunk(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// The option kinds the policy chose during a turn.
pub fn decisions(updates: &[AgentUpdate]) -> Vec<String> {
    updates
        .iter()
        .filter_map(|u| match u {
            AgentUpdate::PermissionDecided { option_kind, .. } => Some(option_kind.clone()),
            _ => None,
        })
        .collect()
}

/// The demo agent's header: session id and turn number.
pub fn header(updates: &[AgentUpdate]) -> (String, u32) {
    let text = text(updates);
    let line = text.lines().next().unwrap_or_default();
    let rest = line.strip_prefix("session ").expect("header line");
    let (id, rest) = rest.split_once(" turn ").expect("turn in header");
    let number = rest.trim_end_matches(':').parse().expect("turn number");
    (id.to_owned(), number)
}

/// Whether a pid no longer runs (absent, or a zombie waiting for its
/// reaper, which runs nothing).
pub fn is_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            // The state follows the ")" that closes the command name.
            let state = stat.rsplit_once(')').map(|(_, rest)| rest.trim_start());
            matches!(state.and_then(|s| s.chars().next()), Some('Z' | 'X'))
        }
    }
}

/// Wait up to `within` for `pid` to be gone.
pub async fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if is_gone(pid) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Path of the npm example agent (tests/acp-agents), installed with
/// `npm ci` first if it is not there yet.
pub fn npm_example_agent() -> PathBuf {
    let script =
        npm::acp_agents_dir().join("node_modules/@agentclientprotocol/sdk/dist/examples/agent.js");
    npm::ensure_npm_agents(&script);
    script
}

/// The agent's pid (panics when it is not running).
pub fn pid(session: &AgentSession) -> u32 {
    match session.process_state() {
        switchboard::agent::process::ProcessState::Running { pid } => pid,
        other => panic!("agent not running: {other:?}"),
    }
}

/// Entry point of the Claude Code ACP adapter
/// (`@agentclientprotocol/claude-agent-acp`, pinned in tests/acp-agents),
/// installed with `npm ci` first if it is not there yet. Run it with node.
pub fn claude_agent_acp() -> PathBuf {
    let script = npm::acp_agents_dir()
        .join("node_modules/@agentclientprotocol/claude-agent-acp/dist/index.js");
    npm::ensure_npm_agents(&script);
    script
}
