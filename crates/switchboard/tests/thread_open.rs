//! One transient failure while opening the thread loses nothing, through
//! the real binary: a 5xx is retried, a lost answer finds the thread it
//! opened ("already created" = opened), and a refusal (403) is journaled
//! failed with its reason and shown to the user; so is an answer the
//! platform refuses to take.

mod support;

use discord_sim::{ResponseFault, RestFault};
use support::Options;
use support::chat::{Chat, TURN};
use support::slack::answer_count;
use support::{bot_messages, wait_reaction};
use switchboard::store::{JournalState, Store};

/// The thread-opening calls made for the message `asked`, by status.
fn thread_calls(chat: &Chat, asked: u64) -> Vec<u16> {
    let path = format!(
        "/api/v10/channels/{}/messages/{asked}/threads",
        chat.channel
    );
    chat.h
        .sim
        .rest_calls()
        .into_iter()
        .filter(|c| c.method == "POST" && c.path == path)
        .map(|c| c.status)
        .collect()
}

fn assert_answered_once_in_one_thread(chat: &Chat, asked: u64, prompt: &str) {
    let threads = chat.h.sim.threads();
    assert_eq!(threads.len(), 1, "{threads:?}");
    assert_eq!(threads[0].id, asked);
    let texts = chat.reply_texts(asked);
    assert_eq!(answer_count(&texts.join("\n"), prompt), 1, "{texts:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_error_on_opening_the_thread_is_retried_and_answered_once() {
    let chat = Chat::start(Options::default()).await;
    chat.h
        .sim
        .fail_rest(RestFault::ServerError(500), 1, Some("/threads"));
    let prompt = "after a 500";
    let asked = chat.ask(prompt);
    chat.done(chat.channel, asked).await;
    assert_eq!(thread_calls(&chat, asked), [500, 201]);
    assert_answered_once_in_one_thread(&chat, asked, prompt);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_on_opening_the_thread_is_answered_once_in_that_thread() {
    let chat = Chat::start(Options::default()).await;
    // The thread is made, then the connection dropped before the answer;
    // the retry meets "a thread has already been created" (160004).
    chat.h
        .sim
        .fault_responses(ResponseFault::Lose, 1, Some("/threads"));
    let prompt = "after a lost answer";
    let asked = chat.ask(prompt);
    chat.done(chat.channel, asked).await;
    assert_eq!(thread_calls(&chat, asked), [201, 400]);
    assert_answered_once_in_one_thread(&chat, asked, prompt);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_thread_is_journaled_failed_with_its_reason_and_the_user_told() {
    let chat = Chat::start(Options::default()).await;
    chat.h
        .sim
        .fail_rest(RestFault::ServerError(403), 1, Some("/threads"));
    let asked = chat.ask("no thread for me");
    wait_reaction(&chat.h.sim, chat.channel, asked, "❌", TURN).await;
    assert_eq!(
        thread_calls(&chat, asked),
        [403],
        "a refusal is not retried"
    );
    assert!(chat.h.sim.threads().is_empty());
    let told: Vec<String> = bot_messages(&chat.h.sim, chat.channel)
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(
        told[0].contains("could not open a thread") && told[0].contains("403"),
        "{told:#?}"
    );

    let reason = failed_with_reason(&chat, asked).await;
    assert!(
        reason.contains("could not open the thread") && reason.contains("403"),
        "{reason}"
    );
    chat.h.stop().await;
}

/// The journal entry of `asked` (read from the running process's store)
/// is `failed`; its failure reason.
async fn failed_with_reason(chat: &Chat, asked: u64) -> String {
    let data_dir = chat
        .h
        .config_path
        .parent()
        .unwrap()
        .join("switchboard-data");
    let store = Store::open(&data_dir).await.unwrap();
    let entry = store
        .journal_entry("discord", &asked.to_string())
        .await
        .unwrap()
        .expect("journaled");
    assert_eq!(entry.state, JournalState::Failed);
    store
        .journal_failure_reason("discord", &asked.to_string())
        .await
        .unwrap()
        .expect("a reason")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_answer_is_journaled_failed_with_its_reason() {
    let chat = Chat::start(Options::default()).await;
    let asked = chat.ask("refused answer");
    chat.h.sim.fail_rest(
        RestFault::ServerError(403),
        1,
        Some(&format!("/channels/{asked}/messages")),
    );
    wait_reaction(&chat.h.sim, chat.channel, asked, "❌", TURN).await;
    assert!(chat.reply_texts(asked).is_empty());
    let reason = failed_with_reason(&chat, asked).await;
    assert!(
        reason.contains("the answer could not be posted") && reason.contains("403"),
        "{reason}"
    );
    chat.h.stop().await;
}
