//! Policy `ask` against the demo agent (a real child process): a permission
//! request is put to the turn as a `PermissionAsk` (allow options first,
//! with a preview), and what the holder of its reply chooses is what the
//! agent is told; a reply dropped unanswered, an option the agent never
//! offered, or a cancelled turn answer `cancelled`; waiting on people does
//! not count as the agent being idle. (The buttons in the thread that use
//! this come with the rest of issue 13.)

mod agent_support;

use std::time::Duration;

use agent_support::*;
use switchboard::agent::ask::PermissionAsk;
use switchboard::agent::{AgentSession, AgentUpdate, PermissionPolicy, PromptPart, StopReason};
use tokio::sync::mpsc;

const ASK_DEADLINE: Duration = Duration::from_secs(20);

/// Run one turn of `prompt`; hand the first ask to `decide`, collect the rest.
async fn turn_with_ask(
    session: &AgentSession,
    prompt: &str,
    decide: impl FnOnce(PermissionAsk),
) -> (StopReason, String, Vec<String>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let parts = vec![PromptPart::Text(prompt.to_owned())];
    let collect = async {
        let mut decide = Some(decide);
        let mut text = String::new();
        let mut decided = Vec::new();
        while let Some(update) = rx.recv().await {
            match update {
                AgentUpdate::PermissionAsked(asked) => {
                    let decide = decide.take().expect("one ask per turn");
                    decide(*asked);
                }
                AgentUpdate::MessageChunk(chunk) => text.push_str(&chunk),
                AgentUpdate::PermissionDecided { option_kind, .. } => decided.push(option_kind),
                _ => {}
            }
        }
        (text, decided)
    };
    let (result, (text, decided)) = tokio::time::timeout(ASK_DEADLINE, async {
        tokio::join!(session.prompt(parts, tx), collect)
    })
    .await
    .expect("the turn ends");
    (result.expect("the turn ran"), text, decided)
}

#[tokio::test]
async fn the_chosen_option_is_what_the_agent_is_told_and_allow_comes_first() {
    let session = start_demo(&[], PermissionPolicy::Ask).await;
    let mut shown = Vec::new();
    let (stop, text, decided) = turn_with_ask(&session, "[[permission:execute]]", |asked| {
        assert_eq!(asked.tool_title, "A execute tool call");
        assert_eq!(asked.tool_kind, "execute");
        shown = asked
            .options
            .iter()
            .map(|o| (o.name.clone(), o.kind))
            .collect();
        let always = asked
            .options
            .iter()
            .find(|o| o.kind == "allow_always")
            .unwrap()
            .option_id
            .clone();
        asked.reply.select(&always);
    })
    .await;
    assert_eq!(stop, StopReason::EndTurn);
    assert_eq!(
        shown,
        [
            ("Allow once".to_owned(), "allow_once"),
            ("Always allow".to_owned(), "allow_always"),
            ("Always reject".to_owned(), "reject_always"),
            ("Reject once".to_owned(), "reject_once"),
        ],
        "allow first, the agent's order within each group"
    );
    assert!(text.contains("permission: allow_always\n"), "{text}");
    assert_eq!(decided.len(), 1, "{decided:?}");
    session.shutdown().await;
}

#[tokio::test]
async fn a_reply_dropped_or_naming_an_unoffered_option_answers_cancelled() {
    let session = start_demo(&[], PermissionPolicy::Ask).await;
    let (_, text, decided) = turn_with_ask(&session, "[[permission:edit]]", drop).await;
    assert!(text.contains("permission: cancelled\n"), "{text}");
    assert_eq!(decided, ["cancelled"]);
    let (_, text, _) = turn_with_ask(&session, "[[permission:edit]]", |asked| {
        asked.reply.select("opt-forged");
    })
    .await;
    assert!(text.contains("permission: cancelled\n"), "{text}");
    session.shutdown().await;
}

#[tokio::test]
async fn cancelling_the_turn_answers_an_open_ask_cancelled_once() {
    let session = start_demo(&[], PermissionPolicy::Ask).await;
    let canceller = session.canceller();
    let mut held = None;
    let (stop, text, decided) = turn_with_ask(&session, "[[permission:execute]]", |asked| {
        canceller.cancel();
        held = Some(asked); // answered by the cancel; dropped later
    })
    .await;
    drop(held);
    assert_eq!(stop, StopReason::Cancelled);
    assert!(text.contains("permission: cancelled\n"), "{text}");
    assert_eq!(decided, ["cancelled"], "one answer, not a second on drop");
    session.shutdown().await;
}

#[tokio::test]
async fn waiting_on_people_is_not_the_agent_being_idle() {
    init_logs();
    let mut options = options(PermissionPolicy::Ask);
    options.turn_idle_timeout = Duration::from_millis(300);
    let session = AgentSession::start(&demo_agent(&[]), options, None)
        .await
        .expect("demo agent starts");
    let (tx, rx) = std::sync::mpsc::channel();
    let (stop, text, _) = turn_with_ask(&session, "[[permission:edit]]", move |asked| {
        // Answer well past the idle timeout, from another task.
        tx.send(()).unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1_000)).await;
            let first = asked.options[0].option_id.clone();
            asked.reply.select(&first);
        });
    })
    .await;
    rx.recv().unwrap();
    assert_eq!(stop, StopReason::EndTurn, "{text}");
    assert!(text.contains("permission: allow_once\n"), "{text}");
    session.shutdown().await;
}
