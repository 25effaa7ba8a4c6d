//! Exactly-once posting through the real binary: a post whose answer is
//! lost after it took effect (the connection dropped before the reply), or
//! comes only after the client's timeout, appears once, on Discord (nonce +
//! enforce_nonce) and on Slack (metadata key + look-up before a retry). And
//! across processes (ADR 25): a reply posted by a process that died before
//! recording it is continued by the next one, not answered again.

mod support;

use std::time::Duration;

use discord_sim::ResponseFault;
use slack_sim::ResponseFault as SlackResponseFault;
use support::chat::{Chat, session_of};
use support::slack::{SlackChat, answer_count};
use support::{Options, assert_same_text, bot_messages, joined};
use switchboard::broker::turn::CONTEXT_LOST;
use switchboard::demo_agent::script::long_text;

/// The client timeout the "late answer" tests set, and how late they make
/// the answer: well past it.
const CLIENT_TIMEOUT_MS: &str = "1000";
const LATE: Duration = Duration::from_secs(3);

/// The bot's create-message calls in `thread`, with their nonces.
fn creates_in(chat: &Chat, thread: u64) -> Vec<Option<String>> {
    let path = format!("/api/v10/channels/{thread}/messages");
    chat.h
        .sim
        .rest_calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == path)
        .map(|c| {
            c.body
                .as_ref()
                .and_then(|b| b.get("nonce"))
                .and_then(|n| n.as_str())
                .map(str::to_owned)
        })
        .collect()
}

/// The one-message answer to `prompt` in the thread of `asked` appears once.
fn assert_answered_once(chat: &Chat, asked: u64, prompt: &str) {
    let texts = chat.reply_texts(asked);
    assert_eq!(
        answer_count(&texts.join("\n"), prompt),
        1,
        "answered once: {texts:#?}"
    );
    assert_eq!(texts.len(), 1, "one message: {texts:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_a_post_whose_answer_was_lost_appears_once() {
    let chat = Chat::start(Options::default()).await;
    let prompt = "lost answer";
    let asked = chat.ask(prompt);
    // The thread's first post is made, then its connection dropped before
    // the answer (the bot needs a gateway event, a thread and an agent
    // before it posts, so this is in place first).
    chat.h.sim.fault_responses(
        ResponseFault::Lose,
        1,
        Some(&format!("/channels/{asked}/messages")),
    );
    chat.done(chat.channel, asked).await;
    assert_answered_once(&chat, asked, prompt);
    let creates = creates_in(&chat, asked);
    assert!(creates.len() >= 2, "the lost post was retried: {creates:?}");
    assert!(
        creates.iter().all(|n| n.is_some() && *n == creates[0]),
        "every try carried the same nonce: {creates:?}"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_a_post_answered_after_the_client_timeout_appears_once() {
    let chat = Chat::start(Options {
        env: &[("SWITCHBOARD_DISCORD_REQUEST_TIMEOUT_MS", CLIENT_TIMEOUT_MS)],
        ..Options::default()
    })
    .await;
    let prompt = "late answer";
    let asked = chat.ask(prompt);
    chat.h.sim.fault_responses(
        ResponseFault::Delay(LATE),
        1,
        Some(&format!("/channels/{asked}/messages")),
    );
    chat.done(chat.channel, asked).await;
    assert_answered_once(&chat, asked, prompt);
    let creates = creates_in(&chat, asked);
    assert!(
        creates.len() >= 2,
        "the client gave up on the late answer and tried again: {creates:?}"
    );
    chat.h.stop().await;
}

/// The bot's chat.postMessage calls, and its look-ups with metadata.
fn slack_calls(chat: &SlackChat) -> (usize, usize) {
    let calls = chat.sim().web_calls();
    let posts = calls
        .iter()
        .filter(|c| c.method == "chat.postMessage")
        .count();
    let lookups = calls
        .iter()
        .filter(|c| {
            c.method == "conversations.replies"
                && c.params
                    .get("include_all_metadata")
                    .and_then(|v| v.as_str())
                    == Some("true")
        })
        .count();
    (posts, lookups)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_a_post_whose_answer_was_lost_appears_once() {
    let chat = SlackChat::start(support::slack::options()).await;
    // The bot's first post is made, then its connection dropped.
    chat.sim()
        .fault_responses("chat.postMessage", SlackResponseFault::Lose, 1);
    let prompt = "lost answer";
    let asked = chat.ask(prompt);
    chat.done(&asked).await;
    assert_eq!(
        chat.answers_to(&asked, prompt),
        1,
        "{:#?}",
        chat.reply_texts(&asked)
    );
    assert_eq!(
        chat.replies(&asked).len(),
        1,
        "{:#?}",
        chat.reply_texts(&asked)
    );
    let (_, lookups) = slack_calls(&chat);
    assert!(lookups >= 1, "the thread was read back for the key");
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_a_post_answered_after_the_client_timeout_appears_once() {
    let chat = SlackChat::start(Options {
        env: &[("SWITCHBOARD_SLACK_REQUEST_TIMEOUT_MS", CLIENT_TIMEOUT_MS)],
        ..support::slack::options()
    })
    .await;
    chat.sim()
        .fault_responses("chat.postMessage", SlackResponseFault::Delay(LATE), 1);
    let prompt = "late answer";
    let asked = chat.ask(prompt);
    chat.done(&asked).await;
    assert_eq!(
        chat.answers_to(&asked, prompt),
        1,
        "{:#?}",
        chat.reply_texts(&asked)
    );
    assert_eq!(
        chat.replies(&asked).len(),
        1,
        "{:#?}",
        chat.reply_texts(&asked)
    );
    let (_, lookups) = slack_calls(&chat);
    assert!(
        lookups >= 1,
        "the client gave up on the late answer and looked it up"
    );
    chat.h.stop().await;
}

/// The process exits the moment the answer to a message with this marker
/// has posted, before the post's id is written (`exit_after_post`).
const DIES_AFTER_POST: &[(&str, &str)] =
    &[("SWITCHBOARD_TEST_FAULT", "exit_after_post:DIE-AFTER-POST")];
/// The exit code of that fault.
const FAULT_EXIT: i32 = 86;
/// Slow and long enough that the first post shows only the answer's start.
const SLOW_PROMPT: &str = "DIE-AFTER-POST [[slow:100]][[long:600]]";

/// Wait until the fault has ended the process.
async fn died_of_the_fault(h: &mut support::Harness) {
    let status = h.wait_exit(Duration::from_secs(30)).await;
    assert_eq!(
        status.code(),
        Some(FAULT_EXIT),
        "the fault ended the process"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_a_reply_posted_by_a_process_that_died_unrecorded_is_continued_not_repeated() {
    let mut chat = Chat::start(Options {
        env: DIES_AFTER_POST,
        ..Options::default()
    })
    .await;
    let asked = chat.ask(SLOW_PROMPT);
    died_of_the_fault(&mut chat.h).await;
    let before = bot_messages(&chat.h.sim, asked);
    assert_eq!(
        before.len(),
        1,
        "the first process posted once: {before:#?}"
    );
    let whole = format!("prompt: {SLOW_PROMPT}\n{}", long_text(600));
    assert!(
        !before[0].content.ends_with(&whole),
        "the first process showed only the answer's start: {:?}",
        before[0].content
    );

    chat.h.restart_with_env(&[]).await;
    chat.done(chat.channel, asked).await;
    let after = bot_messages(&chat.h.sim, asked);
    let texts: Vec<&str> = after.iter().map(|m| m.content.as_str()).collect();
    // The answer, continued in place; then the notice that the demo agent
    // (no session/load here) starts a fresh session.
    assert_eq!(after.len(), 2, "continued, not answered again: {texts:#?}");
    assert_eq!(after[0].id, before[0].id, "the first post was continued");
    assert_eq!(texts[1], CONTEXT_LOST);
    assert!(!texts[0].contains("Interrupted"), "{texts:#?}");
    assert_eq!(answer_count(texts[0], SLOW_PROMPT), 1, "{texts:#?}");
    let expected = format!("session {} turn 1:\n{whole}", session_of(texts[0]));
    let answer = [texts[0].to_owned()];
    assert_same_text(&joined(&answer), &expected, &answer);
    let creates = creates_in(&chat, asked);
    assert_eq!(
        creates.len(),
        3,
        "the answer's twice, the notice: {creates:?}"
    );
    let same = creates.iter().filter(|n| **n == creates[0]).count();
    assert_eq!(same, 2, "both answers carried one nonce: {creates:?}");
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_a_reply_posted_by_a_process_that_died_unrecorded_is_continued_not_repeated() {
    let mut chat = SlackChat::start(Options {
        env: DIES_AFTER_POST,
        ..support::slack::options()
    })
    .await;
    let asked = chat.ask(SLOW_PROMPT);
    died_of_the_fault(&mut chat.h).await;
    let before = chat.replies(&asked);
    assert_eq!(before.len(), 1, "the first process posted once");
    let first_text = chat.reply_texts(&asked)[0].clone();
    let (_, lookups_before) = slack_calls(&chat);

    chat.h.restart_with_env(&[]).await;
    chat.done(&asked).await;
    let after = chat.replies(&asked);
    let texts = chat.reply_texts(&asked);
    assert_eq!(after.len(), 2, "continued, not answered again: {texts:#?}");
    assert_eq!(after[0].ts, before[0].ts, "the first post was continued");
    assert!(
        texts[1].contains("cannot restore its session"),
        "{texts:#?}"
    );
    assert!(!texts[0].contains("Interrupted"), "{texts:#?}");
    assert_eq!(chat.answers_to(&asked, SLOW_PROMPT), 1, "{texts:#?}");
    assert!(
        texts[0].chars().count() > first_text.chars().count() + 400,
        "the whole new answer replaced the start shown: {first_text:?} then {texts:#?}"
    );
    let (posts, lookups) = slack_calls(&chat);
    assert_eq!(
        posts, 2,
        "the first answer, then the notice: the answer was found by its key"
    );
    assert!(
        lookups > lookups_before,
        "the second process looked for it first"
    );
    chat.h.stop().await;
}
