//! A real third-party ACP agent: the example agent shipped in the npm
//! package `@agentclientprotocol/sdk` 1.9.0 (no API key; about 5 s a turn).
//! The first test installs it with `npm ci` (agent_support/npm.rs); the
//! tests fail (never skip) without node and npm.

mod agent_support;

use std::collections::BTreeMap;
use std::time::Instant;

use agent_support::*;
use switchboard::agent::{
    AgentCommand, AgentSession, AgentUpdate, PermissionPolicy, PromptPart, StopReason,
};

fn npm_agent() -> AgentCommand {
    let script = npm_example_agent();
    AgentCommand {
        command: "node".into(),
        args: vec![script.to_string_lossy().into_owned()],
        cwd: std::env::temp_dir(),
        env: BTreeMap::new(),
    }
}

async fn start(policy: PermissionPolicy) -> AgentSession {
    init_logs();
    AgentSession::start(&npm_agent(), options(policy), None)
        .await
        .expect("the npm example agent starts (is node on PATH?)")
}

#[tokio::test]
async fn npm_example_agent_full_turn_with_allow() {
    let session = start(PermissionPolicy::Allow).await;
    assert!(!session.info().session_id.is_empty());
    let started = Instant::now();
    let (result, updates) = turn(&session, "Please improve the config").await;
    eprintln!("npm agent turn took {:?}", started.elapsed());
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    let answer = text(&updates);
    assert!(answer.contains("I'll help you with that"), "{answer}");
    assert!(answer.contains("successfully updated"), "{answer}");
    assert!(
        updates
            .iter()
            .any(|u| matches!(u, AgentUpdate::ToolCall { kind, .. } if kind == "read"))
    );
    assert_eq!(
        updates
            .iter()
            .filter(|u| matches!(u, AgentUpdate::PermissionDecided { .. }))
            .collect::<Vec<_>>(),
        vec![&AgentUpdate::PermissionDecided {
            tool_title: "Modifying critical configuration file".into(),
            option_kind: "allow_once".into(),
        }]
    );
    session.shutdown().await;
}

#[tokio::test]
async fn npm_example_agent_deny_and_cancel() {
    let session = start(PermissionPolicy::Deny).await;
    let (result, updates) = turn(&session, "Please improve the config").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    assert_eq!(decisions(&updates), vec!["reject_once".to_owned()]);
    assert!(text(&updates).contains("skip the configuration update"));

    // Cancel right after its first chunk: it answers stopReason cancelled.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let canceller = session.canceller();
    tokio::spawn(async move {
        if rx.recv().await.is_some() {
            canceller.cancel();
        }
        while rx.recv().await.is_some() {}
    });
    let started = Instant::now();
    let result = session
        .prompt(vec![PromptPart::Text("again".into())], tx)
        .await;
    assert_eq!(result.unwrap(), StopReason::Cancelled);
    assert!(started.elapsed().as_secs() < 4, "{:?}", started.elapsed());
    session.shutdown().await;
}
