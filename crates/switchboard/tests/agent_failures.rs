//! Agents that crash, hang, fail to start, or leave children behind: every
//! case ends promptly with the right error and no process left over.

mod agent_support;

use std::time::{Duration, Instant};

use agent_support::*;
use switchboard::agent::{
    AgentError, AgentSession, AgentUpdate, PermissionPolicy, PromptPart, StopReason,
};

#[tokio::test]
async fn a_crash_mid_turn_is_reported_at_once_with_the_status() {
    let session = start_demo(&[], PermissionPolicy::Deny).await;
    let agent = pid(&session);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let first_chunk = tokio::spawn(async move {
        rx.recv().await;
        Instant::now()
    });
    let result = session
        .prompt(vec![PromptPart::Text("[[crash]]".into())], tx)
        .await;
    let ended = Instant::now();
    let chunk_at = first_chunk.await.unwrap();
    match result {
        Err(AgentError::Exited { status }) => assert_eq!(status, "exit status 3"),
        other => panic!("expected Exited, got {other:?}"),
    }
    let delay = ended.duration_since(chunk_at);
    eprintln!("crash noticed {delay:?} after the last chunk");
    assert!(delay < Duration::from_millis(1000), "{delay:?}");
    assert!(!session.is_alive());
    assert!(wait_gone(agent, Duration::from_secs(2)).await);
    // Later calls fail the same way instead of hanging.
    let (again, _) = turn(&session, "hello?").await;
    assert!(matches!(again, Err(AgentError::Exited { .. })), "{again:?}");
    session.shutdown().await;
}

#[tokio::test]
async fn a_hung_turn_times_out_is_cancelled_then_killed() {
    init_logs();
    let mut options = options(PermissionPolicy::Deny);
    options.turn_idle_timeout = Duration::from_millis(300);
    options.cancel_grace = Duration::from_millis(200);
    let session = AgentSession::start(&demo_agent(&[]), options, None)
        .await
        .unwrap();
    let agent = pid(&session);
    let started = Instant::now();
    let (result, updates) = turn(&session, "[[hang]]").await;
    let took = started.elapsed();
    match result {
        Err(AgentError::IdleTimeout { after }) => assert_eq!(after, Duration::from_millis(300)),
        other => panic!("expected IdleTimeout, got {other:?}"),
    }
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(!updates.is_empty(), "the agent streamed one chunk first");
    assert!(
        wait_gone(agent, Duration::from_secs(2)).await,
        "agent not killed"
    );
    session.shutdown().await;
}

#[tokio::test]
async fn a_cancel_the_agent_ignores_ends_in_a_kill() {
    init_logs();
    let mut options = options(PermissionPolicy::Deny);
    options.cancel_grace = Duration::from_millis(200);
    let session = AgentSession::start(&demo_agent(&[]), options, None)
        .await
        .unwrap();
    let agent = pid(&session);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let canceller = session.canceller();
    tokio::spawn(async move {
        if rx.recv().await.is_some() {
            canceller.cancel();
        }
        while rx.recv().await.is_some() {}
    });
    let result = session
        .prompt(vec![PromptPart::Text("[[hang]]".into())], tx)
        .await;
    assert!(
        matches!(result, Err(AgentError::CancelTimeout { .. })),
        "{result:?}"
    );
    assert!(wait_gone(agent, Duration::from_secs(2)).await);
    session.shutdown().await;
}

#[tokio::test]
async fn no_process_of_the_group_survives_shutdown_or_drop() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    for how in ["shutdown", "drop"] {
        let pidfile = dir.path().join(format!("{how}.pid"));
        // The agent leaves a grandchild that also holds its stdout open.
        let command = shell_agent(
            r#"sleep 1000 & echo $! > "$1"; exec "$0" demo-agent --chunk-delay-ms 0"#,
            &[env!("CARGO_BIN_EXE_switchboard"), pidfile.to_str().unwrap()],
        );
        let session = AgentSession::start(&command, options(PermissionPolicy::Deny), None)
            .await
            .unwrap();
        let (result, _) = turn(&session, "[[tool]]").await;
        assert_eq!(result.unwrap(), StopReason::EndTurn);
        let agent = pid(&session);
        let grandchild: u32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!is_gone(grandchild), "the grandchild should be running");
        if how == "shutdown" {
            session.shutdown().await;
            assert!(is_gone(agent), "{how}: agent still running");
        } else {
            drop(session);
        }
        assert!(
            wait_gone(agent, Duration::from_secs(2)).await,
            "{how}: agent"
        );
        assert!(
            wait_gone(grandchild, Duration::from_secs(2)).await,
            "{how}: grandchild"
        );
    }
}

#[tokio::test]
async fn a_crash_is_seen_even_while_a_grandchild_holds_stdout() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("g.pid");
    let command = shell_agent(
        r#"sleep 1000 & echo $! > "$1"; exec "$0" demo-agent --chunk-delay-ms 0"#,
        &[env!("CARGO_BIN_EXE_switchboard"), pidfile.to_str().unwrap()],
    );
    let session = AgentSession::start(&command, options(PermissionPolicy::Deny), None)
        .await
        .unwrap();
    let started = Instant::now();
    let (result, _) = turn(&session, "[[crash]]").await;
    assert!(
        matches!(result, Err(AgentError::Exited { .. })),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(2));
    let grandchild: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        wait_gone(grandchild, Duration::from_secs(2)).await,
        "grandchild survived the crash"
    );
    session.shutdown().await;
}

#[tokio::test]
async fn a_missing_program_says_what_to_fix() {
    init_logs();
    let mut command = demo_agent(&[]);
    command.command = "/nonexistent/agent-binary".into();
    let err = AgentSession::start(&command, options(PermissionPolicy::Deny), None)
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::Spawn { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("/nonexistent/agent-binary"), "{message}");
    assert!(message.contains("PATH"), "{message}");
}

#[tokio::test]
async fn an_agent_that_exits_at_start_reports_its_status() {
    init_logs();
    let err = AgentSession::start(
        &shell_agent("exit 7", &[]),
        options(PermissionPolicy::Deny),
        None,
    )
    .await
    .unwrap_err();
    match err {
        AgentError::Exited { status } => assert_eq!(status, "exit status 7"),
        other => panic!("expected Exited, got {other:?}"),
    }
}

#[tokio::test]
async fn an_agent_that_never_answers_initialize_is_killed_at_the_start_deadline() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("silent.pid");
    let mut options = options(PermissionPolicy::Deny);
    options.start_timeout = Duration::from_millis(300);
    let command = shell_agent(
        r#"echo $$ > "$0"; exec sleep 1000"#,
        &[pidfile.to_str().unwrap()],
    );
    let started = Instant::now();
    let err = AgentSession::start(&command, options, None)
        .await
        .unwrap_err();
    assert!(matches!(err, AgentError::StartTimeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
    let silent: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(wait_gone(silent, Duration::from_secs(2)).await);
}

#[tokio::test]
async fn unsupported_agent_requests_get_method_not_found() {
    // The demo agent itself never asks for fs/*; a shell agent does, then
    // reports what it was answered as its message.
    init_logs();
    let script = r#"
read init
echo '{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":1}}'
read new
echo '{"jsonrpc":"2.0","id":2,"result":{"sessionId":"s1"}}'
read prompt
echo '{"jsonrpc":"2.0","id":"fs-1","method":"fs/read_text_file","params":{"sessionId":"s1","path":"/etc/passwd"}}'
read answer
echo '{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s1","update":{"sessionUpdate":"brand_new_kind","x":1}}}'
printf '{"jsonrpc":"2.0","method":"session/update","params":{"sessionId":"s1","update":{"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"%s"}}}}\n' "$(echo "$answer" | sed 's/"/\\"/g')"
echo '{"jsonrpc":"2.0","id":3,"result":{"stopReason":"end_turn"}}'
read never
"#;
    let session = AgentSession::start(
        &shell_agent(script, &[]),
        options(PermissionPolicy::Deny),
        None,
    )
    .await
    .unwrap();
    let (result, updates) = turn(&session, "go").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    let [AgentUpdate::MessageChunk(answer)] = updates.as_slice() else {
        panic!("{updates:?}");
    };
    let answer: serde_json::Value = serde_json::from_str(answer).unwrap();
    assert_eq!(answer["id"], "fs-1");
    assert_eq!(answer["error"]["code"], -32601);
    session.shutdown().await;
}
