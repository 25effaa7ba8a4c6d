//! Exactly-once posting through the real binary: a post whose answer is
//! lost after it took effect (the connection dropped before the reply), or
//! comes only after the client's timeout, appears once, on Discord (nonce +
//! enforce_nonce) and on Slack (metadata key + look-up before a retry).

mod support;

use std::time::Duration;

use discord_sim::ResponseFault;
use slack_sim::ResponseFault as SlackResponseFault;
use support::Options;
use support::chat::Chat;
use support::slack::{SlackChat, answer_count};

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
