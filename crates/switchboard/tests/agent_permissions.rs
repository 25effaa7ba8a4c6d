//! The permission policy against the demo agent, which offers all four
//! option kinds under ids a client cannot guess: the choice must be by kind.

mod agent_support;

use agent_support::*;
use switchboard::agent::{AgentUpdate, PermissionPolicy, PromptPart, StopReason};

/// Ask for each tool kind in turn; return what the agent was told.
async fn outcomes(policy: PermissionPolicy, kinds: &[&str]) -> Vec<(String, String)> {
    let session = start_demo(&[], policy).await;
    let mut seen = Vec::new();
    for kind in kinds {
        let (result, updates) = turn(&session, &format!("[[permission:{kind}]]")).await;
        assert_eq!(result.unwrap(), StopReason::EndTurn);
        let decided = decisions(&updates);
        assert_eq!(decided.len(), 1, "{updates:?}");
        // What the agent received matches what the policy reported.
        let answer = text(&updates);
        assert!(
            answer.contains(&format!("permission: {}\n", decided[0])),
            "{answer}"
        );
        assert!(updates.contains(&AgentUpdate::PermissionDecided {
            tool_title: format!("A {kind} tool call"),
            option_kind: decided[0].clone(),
        }));
        seen.push(((*kind).to_owned(), decided[0].clone()));
    }
    session.shutdown().await;
    seen
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect()
}

#[tokio::test]
async fn allow_picks_allow_once() {
    assert_eq!(
        outcomes(PermissionPolicy::Allow, &["read", "edit", "execute"]).await,
        pairs(&[
            ("read", "allow_once"),
            ("edit", "allow_once"),
            ("execute", "allow_once")
        ])
    );
}

#[tokio::test]
async fn deny_picks_reject_once() {
    assert_eq!(
        outcomes(PermissionPolicy::Deny, &["read", "edit"]).await,
        pairs(&[("read", "reject_once"), ("edit", "reject_once")])
    );
}

#[tokio::test]
async fn allow_reads_allows_only_looking() {
    assert_eq!(
        outcomes(
            PermissionPolicy::AllowReads,
            &[
                "read", "search", "fetch", "think", "edit", "execute", "delete"
            ]
        )
        .await,
        pairs(&[
            ("read", "allow_once"),
            ("search", "allow_once"),
            ("fetch", "allow_once"),
            ("think", "allow_once"),
            ("edit", "reject_once"),
            ("execute", "reject_once"),
            ("delete", "reject_once"),
        ])
    );
}

#[tokio::test]
async fn cancel_answers_the_permission_request_cancelled() {
    let session = start_demo(&[], PermissionPolicy::Allow).await;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let canceller = session.canceller();
    // The agent waits for the cancel, then asks: its request crosses the
    // cancel on the wire and must be answered "cancelled", not by policy.
    let collector = tokio::spawn(async move {
        let mut updates = Vec::new();
        while let Some(update) = rx.recv().await {
            if matches!(&update, AgentUpdate::MessageChunk(t) if t.contains("waiting for cancel")) {
                canceller.cancel();
            }
            updates.push(update);
        }
        updates
    });
    let result = session
        .prompt(
            vec![PromptPart::Text(
                "[[wait-for-cancel]] [[permission:edit]]".into(),
            )],
            tx,
        )
        .await;
    assert_eq!(result.unwrap(), StopReason::Cancelled);
    let updates = collector.await.unwrap();
    assert_eq!(decisions(&updates), vec!["cancelled".to_owned()]);
    assert!(text(&updates).contains("permission: cancelled\n"));
    // The session still works, and the policy applies again.
    let (result, updates) = turn(&session, "[[permission:edit]]").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    assert_eq!(decisions(&updates), vec!["allow_once".to_owned()]);
    session.shutdown().await;
}

#[tokio::test]
async fn the_built_in_demo_answer_asks_once_and_reports() {
    let session = start_demo(&[], PermissionPolicy::Deny).await;
    let (result, updates) = turn(&session, "tidy up the README please").await;
    assert_eq!(result.unwrap(), StopReason::EndTurn);
    assert_eq!(decisions(&updates), vec!["reject_once".to_owned()]);
    assert!(
        text(&updates).contains("Permission denied"),
        "{}",
        text(&updates)
    );
    assert!(updates.iter().any(|u| matches!(u, AgentUpdate::Plan(_))));
    assert!(
        updates
            .iter()
            .any(|u| matches!(u, AgentUpdate::ToolCall { kind, .. } if kind == "edit"))
    );
    session.shutdown().await;
}
