//! Bounded growth (issue 11, point 5), through the real binary:
//! `broker.max_queued` caps the messages waiting in a thread (one more is
//! refused visibly: denied reaction, a notice in the thread, journaled
//! failed with the reason; the waiting ones are still answered, as one next
//! prompt), and an idle thread actor ends and comes back on demand with the
//! same agent session.

mod support;

use std::time::Duration;

use support::chat::{Chat, TURN, session_of};
use support::{Options, sim_wait, wait_reaction};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_beyond_max_queued_is_refused_and_told_and_the_others_are_answered() {
    let chat = Chat::start(Options {
        broker: "edit_interval = \"300ms\"\nmax_queued = 2",
        ..Options::default()
    })
    .await;
    let asked = chat.ask("[[slow:400]][[long:400]]");
    sim_wait(&chat.h.sim, TURN, "the thread", |s| {
        (!s.threads().is_empty()).then_some(())
    })
    .await;
    chat.say(asked, "one");
    let two = chat.say(asked, "two");
    let three = chat.say(asked, "three");
    wait_reaction(&chat.h.sim, asked, three, "🚫", Duration::from_secs(10)).await;
    sim_wait(&chat.h.sim, TURN, "the refusal notice", |s| {
        support::bot_messages(s, asked)
            .iter()
            .any(|m| m.content.contains("2 messages are already waiting"))
            .then_some(())
    })
    .await;
    chat.done(asked, two).await;
    let replies = chat.reply_texts(asked).join("");
    assert!(
        replies.contains("prompt: alice: one\n\nalice: two\n"),
        "the two waiting ones are the next prompt: {replies}"
    );
    assert!(
        !replies.contains("three\n"),
        "the refused one never reached the agent: {replies}"
    );
    let line = chat
        .h
        .logs
        .wait_message(Duration::from_secs(1), "thread queue full; message refused")
        .await;
    assert_eq!(line["message_id"], three.to_string());
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_thread_actor_ends_and_the_next_message_reaches_the_same_session() {
    let chat = Chat::start(Options {
        env: &[("SWITCHBOARD_THREAD_ACTOR_IDLE_MS", "300")],
        ..Options::default()
    })
    .await;
    let asked = chat.ask("first");
    chat.done(chat.channel, asked).await;
    chat.h
        .logs
        .wait_message(Duration::from_secs(10), "thread actor idle; ending")
        .await;
    let follow_up = chat.say(asked, "second");
    chat.done(asked, follow_up).await;
    let replies = chat.reply_texts(asked);
    let first = replies
        .iter()
        .find(|r| r.contains("prompt: first"))
        .unwrap();
    let second = replies
        .iter()
        .find(|r| r.contains("prompt: second"))
        .unwrap();
    assert_eq!(session_of(first), session_of(second), "{replies:?}");
    assert!(second.contains("turn 2"), "{second}");
    assert_eq!(chat.h.logs.count_message("agent session started"), 1);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_forgotten_while_quiet_is_recalled_from_the_store_with_its_session() {
    // Actors end after 300 ms idle, and every actor start forgets the
    // threads whose actor ended (the product does it every 256 starts).
    let chat = Chat::start(Options {
        env: &[
            ("SWITCHBOARD_THREAD_ACTOR_IDLE_MS", "300"),
            ("SWITCHBOARD_THREAD_FORGET_EVERY", "1"),
        ],
        ..Options::default()
    })
    .await;
    let asked = chat.ask("first");
    chat.done(chat.channel, asked).await;
    chat.h
        .logs
        .wait_message(Duration::from_secs(10), "thread actor idle; ending")
        .await;
    // Another thread's actor starts: the quiet one is forgotten.
    let other = chat.ask("another thread");
    chat.done(chat.channel, other).await;
    // A follow-up without a mention still reaches the first thread.
    let follow_up = chat.say(asked, "second");
    chat.done(asked, follow_up).await;
    let replies = chat.reply_texts(asked);
    let first = replies
        .iter()
        .find(|r| r.contains("prompt: first"))
        .unwrap();
    let second = replies
        .iter()
        .find(|r| r.contains("prompt: second"))
        .unwrap();
    assert_eq!(session_of(first), session_of(second), "{replies:?}");
    chat.h.stop().await;
}
