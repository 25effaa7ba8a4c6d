//! AgentSession against the demo agent as a real child process: handshake,
//! turns, streaming, session reuse and session/load.

mod agent_support;

use std::time::Duration;

use agent_support::*;
use switchboard::agent::{AgentSession, AgentUpdate, PermissionPolicy, StopReason};

#[tokio::test]
async fn a_turn_streams_chunks_and_ends_the_turn() {
    let session = start_demo(&[], PermissionPolicy::Allow).await;
    let info = session.info().clone();
    assert!(info.session_id.starts_with("demo-"), "{info:?}");
    assert_eq!(info.agent_name.as_deref(), Some("switchboard demo agent"));
    assert!(!info.load_session);
    assert!(!info.resumed);
    assert!(info.image_prompts);

    let (result, updates) = turn(&session, "hello [[tool]] [[long:300]]").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    let chunks = updates
        .iter()
        .filter(|u| matches!(u, AgentUpdate::MessageChunk(_)))
        .count();
    assert!(chunks >= 4, "expected several chunks, got {chunks}");
    let answer = text(&updates);
    assert!(
        answer.contains("prompt: hello [[tool]] [[long:300]]\n"),
        "{answer}"
    );
    assert_eq!(header(&updates), (info.session_id.clone(), 1));
    assert!(updates.contains(&AgentUpdate::ToolCall {
        id: "tool-1".into(),
        title: "Reading notes.txt".into(),
        kind: "read".into(),
        status: "in_progress".into(),
    }));
    assert!(updates.contains(&AgentUpdate::ToolCallUpdate {
        id: "tool-1".into(),
        title: None,
        status: Some("completed".into()),
    }));
    session.shutdown().await;
}

#[tokio::test]
async fn the_second_prompt_goes_to_the_same_session() {
    let session = start_demo(&[], PermissionPolicy::Deny).await;
    let id = session.info().session_id.clone();
    let (first, updates1) = turn(&session, "first [[env]]").await;
    let (second, updates2) = turn(&session, "second [[env]]").await;
    assert_eq!(first.unwrap(), StopReason::EndTurn);
    assert_eq!(second.unwrap(), StopReason::EndTurn);
    assert_eq!(header(&updates1), (id.clone(), 1));
    assert_eq!(header(&updates2), (id, 2));
    assert!(text(&updates2).contains("prompt: second [[env]]"));
    assert!(!text(&updates2).contains("first"));
    session.shutdown().await;
}

#[tokio::test]
async fn long_answers_keep_every_multibyte_character() {
    let session = start_demo(&[], PermissionPolicy::Deny).await;
    let (result, updates) = turn(&session, "[[long:5000]]").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    let answer = text(&updates);
    let body = answer.split_once("prompt: [[long:5000]]\n").unwrap().1;
    assert_eq!(body.chars().count(), 5000);
    assert_eq!(body, switchboard::demo_agent::script::long_text(5000));
    assert!(body.contains("漢字") && body.contains("🚀") && body.contains("```rust"));
    session.shutdown().await;
}

#[tokio::test]
async fn echo_mode_answers_in_one_chunk() {
    let session = start_demo(&["--echo"], PermissionPolicy::Deny).await;
    let (result, updates) = turn(&session, "ping").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    assert_eq!(
        updates,
        vec![AgentUpdate::MessageChunk("echo: ping".into())]
    );
    session.shutdown().await;
}

#[tokio::test]
async fn a_malformed_line_from_the_agent_is_skipped() {
    let session = start_demo(&["--emit-junk"], PermissionPolicy::Deny).await;
    let (result, updates) = turn(&session, "still fine? [[tool]]").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    assert!(text(&updates).contains("prompt: still fine?"));
    assert!(session.is_alive());
    session.shutdown().await;
}

#[tokio::test]
async fn a_second_prompt_while_one_runs_is_refused() {
    let session = start_demo(&[], PermissionPolicy::Deny).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let first = session.prompt(
        vec![switchboard::agent::PromptPart::Text(
            "[[wait-for-cancel]]".into(),
        )],
        tx,
    );
    let canceller = session.canceller();
    let second = async {
        // Wait until the first turn is under way.
        while let Some(update) = rx.recv().await {
            if matches!(&update, AgentUpdate::MessageChunk(t) if t.contains("waiting for cancel")) {
                break;
            }
        }
        let (busy, _) = turn(&session, "me too").await;
        canceller.cancel();
        busy
    };
    let (first, busy) = tokio::join!(first, second);
    assert!(
        matches!(busy, Err(switchboard::agent::AgentError::Busy)),
        "{busy:?}"
    );
    assert_eq!(first.unwrap(), StopReason::Cancelled);
    session.shutdown().await;
}

#[tokio::test]
async fn cancelling_a_stream_stops_it_and_the_session_goes_on() {
    let session = start_demo(&[], PermissionPolicy::Deny).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let canceller = session.canceller();
    let watcher = tokio::spawn(async move {
        let mut seen = 0;
        while let Some(update) = rx.recv().await {
            if let AgentUpdate::MessageChunk(_) = update {
                seen += 1;
                if seen == 3 {
                    canceller.cancel();
                }
            }
        }
        seen
    });
    let started = std::time::Instant::now();
    let result = session
        .prompt(
            vec![switchboard::agent::PromptPart::Text(
                "[[long:20000]] [[slow:50]]".into(),
            )],
            tx,
        )
        .await;
    assert_eq!(result.unwrap(), StopReason::Cancelled);
    assert!(started.elapsed() < Duration::from_secs(5));
    let seen = watcher.await.unwrap();
    assert!(seen < 20, "the stream went on after cancel: {seen} chunks");
    let (again, updates) = turn(&session, "after cancel [[env]]").await;
    assert_eq!(again.unwrap(), StopReason::EndTurn);
    assert_eq!(header(&updates).1, 2);
    session.shutdown().await;
}

#[tokio::test]
async fn session_load_restores_the_same_session_in_a_new_process() {
    init_logs();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("agent-state.json");
    let state = state.to_str().unwrap();
    let flags = ["--load-session", "--state-file", state];
    let first = AgentSession::start(&demo_agent(&flags), options(PermissionPolicy::Deny), None)
        .await
        .unwrap();
    assert!(first.info().load_session);
    let id = first.info().session_id.clone();
    let (result, _) = turn(&first, "remember the word kumquat [[env]]").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    first.shutdown().await;

    let second = AgentSession::start(
        &demo_agent(&flags),
        options(PermissionPolicy::Deny),
        Some(&id),
    )
    .await
    .unwrap();
    assert_eq!(second.info().session_id, id);
    assert!(second.info().resumed);
    // The replayed history was swallowed: this turn shows only itself.
    let (result, updates) = turn(&second, "what was the word? [[env]]").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    assert_eq!(header(&updates), (id, 2));
    assert!(!text(&updates).contains("kumquat"));
    second.shutdown().await;
}

#[tokio::test]
async fn resuming_falls_back_to_a_new_session() {
    init_logs();
    // The agent cannot load sessions at all.
    let plain = AgentSession::start(
        &demo_agent(&[]),
        options(PermissionPolicy::Deny),
        Some("old"),
    )
    .await
    .unwrap();
    assert!(!plain.info().resumed);
    assert_ne!(plain.info().session_id, "old");
    plain.shutdown().await;
    // It can, but does not know this session.
    let loading = AgentSession::start(
        &demo_agent(&["--load-session"]),
        options(PermissionPolicy::Deny),
        Some("demo-unknown"),
    )
    .await
    .unwrap();
    assert!(!loading.info().resumed);
    assert_ne!(loading.info().session_id, "demo-unknown");
    let (result, _) = turn(&loading, "works [[env]]").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    loading.shutdown().await;
}

#[tokio::test]
async fn dropping_a_prompt_mid_turn_cancels_it() {
    let session = start_demo(&[], PermissionPolicy::Deny).await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let abandoned = tokio::time::timeout(
        Duration::from_millis(200),
        session.prompt(
            vec![switchboard::agent::PromptPart::Text(
                "[[wait-for-cancel]]".into(),
            )],
            tx,
        ),
    )
    .await;
    assert!(abandoned.is_err(), "the turn waits for a cancel");
    // The abandoned turn was cancelled, so the session takes a new one.
    let mut result = turn(&session, "next [[env]]").await;
    for _ in 0..50 {
        if !matches!(result.0, Err(switchboard::agent::AgentError::Busy)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        result = turn(&session, "next [[env]]").await;
    }
    assert_eq!(result.0.unwrap(), StopReason::EndTurn);
    assert_eq!(header(&result.1).1, 2);
    session.shutdown().await;
}
