//! Nothing lost, nothing twice: the real binary killed for real (SIGKILL) or
//! stopped (SIGTERM) and started again on the same SQLite store, against the
//! same simulated Discord.

mod support;

use std::time::Duration;

use support::chat::{Chat, TURN, session_of};
use support::{Options, bot_messages, joined, redeliver, sim_wait, wait_reaction};
use switchboard::demo_agent::script::long_text;

const SECOND: Duration = Duration::from_secs(1);

fn prompt_count(replies: &str, prompt: &str) -> usize {
    replies.matches(&format!("prompt: {prompt}")).count()
}

/// The messages of the last answer: from the last one that starts an
/// answer ("session <id> turn <n>:") to the end.
fn last_answer(texts: &[String]) -> Vec<String> {
    let start = texts
        .iter()
        .rposition(|t| t.starts_with("session "))
        .expect("an answer");
    texts[start..].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_killed_mid_stream_is_marked_and_answered_once_after_restart() {
    let mut chat = Chat::start(Options::default()).await;
    let prompt = "[[slow:150]][[long:1500]]";
    let asked = chat.ask(prompt);
    chat.wait_streaming(asked).await;
    chat.h.kill9().await;
    let cut_short = bot_messages(&chat.h.sim, asked)[0].id;

    chat.h.restart().await;
    chat.done(chat.channel, asked).await;
    let messages = bot_messages(&chat.h.sim, asked);
    let first = messages.iter().find(|m| m.id == cut_short).unwrap();
    assert!(
        first.content.ends_with("answering again below.*"),
        "the half-written reply is marked: {}",
        first.content
    );
    let texts: Vec<String> = messages.iter().map(|m| m.content.clone()).collect();
    let later = last_answer(&texts);
    assert!(
        messages
            .iter()
            .any(|m| m.id > cut_short && m.content.starts_with("session ")),
        "answered anew"
    );
    let expected = format!(
        "session {} turn 1:\nprompt: {prompt}\n{}",
        session_of(&later[0]),
        long_text(1500)
    );
    support::assert_same_text(&joined(&later), &expected, &later);
    let all: String = messages.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(
        prompt_count(&all, prompt),
        2,
        "one cut-short reply and exactly one complete one"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_follow_ups_reach_the_restored_session_when_the_agent_can_load() {
    let state = tempfile::tempdir().unwrap();
    let state_file: &'static str = Box::leak(
        state
            .path()
            .join("agent-state.json")
            .display()
            .to_string()
            .into_boxed_str(),
    );
    let args: &'static [&'static str] = Box::leak(Box::new([
        "--chunk-delay-ms",
        "0",
        "--load-session",
        "--state-file",
        state_file,
    ]));
    let mut chat = Chat::start(Options {
        agent_args: args,
        ..Options::default()
    })
    .await;
    let asked = chat.ask("remember the word kumquat");
    chat.done(chat.channel, asked).await;
    let session = session_of(&chat.reply_texts(asked)[0]);
    chat.h.kill9().await;

    chat.h.restart().await;
    chat.h.wait_ready().await;
    let follow = chat.say(asked, "what was the word?");
    chat.done(asked, follow).await;
    let last = chat.reply_texts(asked).pop().unwrap();
    assert!(
        last.starts_with(&format!("session {session} turn 2:")),
        "restored session: {last}"
    );
    assert!(
        !chat
            .reply_texts(asked)
            .iter()
            .any(|t| t.contains("earlier context")),
        "no context-lost notice"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_an_agent_without_load_starts_fresh_and_the_user_is_told_once() {
    let mut chat = Chat::start(Options::default()).await;
    let asked = chat.ask("hello");
    chat.done(chat.channel, asked).await;
    let session = session_of(&chat.reply_texts(asked)[0]);
    chat.h.signal(libc::SIGTERM);
    assert!(chat.h.wait_exit(5 * SECOND).await.success());

    chat.h.restart().await;
    chat.h.wait_ready().await;
    for text in ["still there?", "and again"] {
        let id = chat.say(asked, text);
        chat.done(asked, id).await;
    }
    let replies = chat.reply_texts(asked);
    let notices = replies
        .iter()
        .filter(|t| t.contains("earlier context in this thread was not kept"))
        .count();
    assert_eq!(notices, 1, "told exactly once: {replies:#?}");
    let last = replies.last().unwrap();
    assert!(last.contains("turn 2:\nprompt: and again"), "{last}");
    assert_ne!(session_of(last), session);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_posted_while_the_bot_was_down_are_answered_once_in_order() {
    let mut chat = Chat::start(Options::default()).await;
    let (a, b) = (chat.ask("thread a"), chat.ask("thread b"));
    chat.done(chat.channel, a).await;
    chat.done(chat.channel, b).await;
    chat.h.signal(libc::SIGTERM);
    assert!(chat.h.wait_exit(5 * SECOND).await.success());

    let mut posted = Vec::new();
    for (thread, text) in [(a, "a1"), (b, "b1"), (a, "a2"), (b, "b2"), (a, "a3")] {
        posted.push((thread, chat.say(thread, text)));
    }
    let mention = chat.ask("a new question while down");
    posted.push((chat.channel, mention));

    chat.h.restart().await;
    for (channel, id) in &posted {
        chat.done(*channel, *id).await;
    }
    let thread_a = chat.reply_texts(a).join("\n");
    // Each text is the end of exactly one prompt line, batched or not.
    let prompt_lines = |replies: &str, text: &str| -> Vec<usize> {
        let mut at = 0;
        let mut found = Vec::new();
        for line in replies.split('\n') {
            let prompt = line.starts_with("prompt: ") || line.starts_with("alice: ");
            if prompt && line.ends_with(&format!(": {text}")) {
                found.push(at);
            }
            at += line.len() + 1;
        }
        found
    };
    let (p1, p2, p3) = (
        prompt_lines(&thread_a, "a1"),
        prompt_lines(&thread_a, "a2"),
        prompt_lines(&thread_a, "a3"),
    );
    assert!(
        p1.len() == 1 && p2.len() == 1 && p3.len() == 1,
        "each answered once: {thread_a}"
    );
    assert!(
        p1[0] < p2[0] && p2[0] < p3[0],
        "per-thread order: {thread_a}"
    );
    for text in ["b1", "b2"] {
        let replies = chat.reply_texts(b).join("\n");
        assert_eq!(
            prompt_lines(&replies, text).len(),
            1,
            "{text} answered once: {replies}"
        );
    }
    assert!(
        chat.reply_texts(mention)
            .iter()
            .any(|t| t.contains("prompt: a new question while down"))
    );
    let caught_up = chat
        .h
        .metric("switchboard_messages_caught_up_total{platform=\"discord\"}")
        .await;
    assert_eq!(caught_up, Some(6.0), "all six came by catch-up");
    let (_, status) = chat.h.get_json("/status").await;
    assert_eq!(status["store"]["caught_up_total"], 6, "{status}");
    assert_eq!(status["store"]["journal_backlog"], 0, "{status}");
    assert!(
        status["store"]["location"]
            .as_str()
            .unwrap()
            .ends_with("switchboard.db"),
        "{status}"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn catch_up_reads_a_busy_channel_within_its_page_budget_and_reports_it_in_status() {
    let mut chat = Chat::start(Options {
        broker: "edit_interval = \"300ms\"\ncatch_up_max_pages = 1",
        ..Options::default()
    })
    .await;
    let first = chat.ask("before the downtime");
    chat.done(chat.channel, first).await;
    chat.h.signal(libc::SIGTERM);
    assert!(chat.h.wait_exit(5 * SECOND).await.success());

    // 150 lines of chatter, then a mention: more than one page of 100.
    for n in 0..150 {
        chat.say(chat.channel, &format!("chatter {n}"));
    }
    let late = chat.ask("asked after the chatter");
    let lists_before = list_calls(&chat);
    chat.h.restart().await;

    let deadline = tokio::time::Instant::now() + 20 * SECOND;
    let run = loop {
        let (_, status) = chat.h.get_json("/status").await;
        let run = status["catch_up"][0].clone();
        if run["running"] == false {
            break run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "catch-up never finished: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(run["platform"], "discord", "{run}");
    assert_eq!(run["cut_short_total"], 1, "{run}");
    assert_eq!(run["fetched"], 100, "one page of 100: {run}");
    let incomplete = &run["incomplete"][0];
    assert_eq!(incomplete["channel"], chat.channel.to_string(), "{run}");
    assert_eq!(incomplete["reason"], "page_budget", "{run}");
    assert_eq!(incomplete["fetched"], 100, "{run}");
    assert_eq!(
        list_calls(&chat) - lists_before,
        1,
        "one page of the channel was read"
    );
    chat.h
        .logs
        .wait_for(5 * SECOND, |line| {
            line["budget"] == "page_budget"
                && line["channel"].as_str() == Some(&chat.channel.to_string())
        })
        .await;
    assert!(
        chat.reply_texts(late).is_empty(),
        "past the budget: not read, and said so above"
    );
    chat.h.stop().await;
}

/// GET .../messages calls the simulator has served for the chat's channel.
fn list_calls(chat: &Chat) -> usize {
    let path = format!("/api/v10/channels/{}/messages", chat.channel);
    chat.h
        .sim
        .rest_calls()
        .iter()
        .filter(|c| c.method == "GET" && c.path == path)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_message_via_catch_up_replay_and_a_duplicate_event_is_answered_once() {
    let mut chat = Chat::start(Options::default()).await;
    let asked = chat.ask("start");
    chat.done(chat.channel, asked).await;
    chat.h.kill9().await;
    let message = chat.say(asked, "only once please");

    // Catch-up after the restart finds it.
    chat.h.restart().await;
    chat.done(asked, message).await;
    // A duplicate event of it...
    let copy = chat
        .h
        .sim
        .messages(asked)
        .into_iter()
        .find(|m| m.id == message)
        .unwrap();
    redeliver(&chat.h.sim, &copy);
    // ...and a replay after a resume.
    chat.h.sim.set_refuse_connections(true);
    chat.h.sim.drop_connections();
    redeliver(&chat.h.sim, &copy);
    chat.h.sim.set_refuse_connections(false);
    chat.h
        .logs
        .wait_for(10 * SECOND, |v| v["message"] == "gateway RESUMED")
        .await;
    let id = message.to_string();
    chat.h
        .logs
        .wait_count(5 * SECOND, 2, |v| {
            v["message"] == "duplicate message event dropped" && v["message_id"] == id.as_str()
        })
        .await;
    let replies = chat.reply_texts(asked).join("\n");
    assert_eq!(prompt_count(&replies, "only once please"), 1, "{replies}");
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_running_turn_finish_within_the_grace() {
    let options = Options {
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"10s\"",
        ..Options::default()
    };
    let mut chat = Chat::start(options).await;
    let asked = chat.ask("[[slow:200]][[long:600]]");
    sim_wait(&chat.h.sim, TURN, "the turn running", |s| {
        (!bot_messages(s, asked).is_empty()).then_some(())
    })
    .await;
    chat.h.signal(libc::SIGTERM);
    assert!(chat.h.wait_exit(12 * SECOND).await.success());
    wait_reaction(&chat.h.sim, chat.channel, asked, "✅", SECOND).await;
    let texts = chat.reply_texts(asked);
    assert!(
        joined(&texts).ends_with(long_text(600).trim_end()),
        "the answer finished before exit"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_outliving_the_grace_is_journaled_interrupted_and_answered_after_restart() {
    let options = Options {
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"300ms\"",
        ..Options::default()
    };
    let mut chat = Chat::start(options).await;
    let asked = chat.ask("[[slow:300]][[long:900]]");
    sim_wait(&chat.h.sim, TURN, "the turn running", |s| {
        (!bot_messages(s, asked).is_empty()).then_some(())
    })
    .await;
    chat.h.signal(libc::SIGTERM);
    assert!(chat.h.wait_exit(5 * SECOND).await.success());
    chat.h
        .logs
        .wait_message(
            SECOND,
            "turn still running at shutdown; journaled as interrupted",
        )
        .await;

    chat.h.restart().await;
    chat.done(chat.channel, asked).await;
    let texts = chat.reply_texts(asked);
    assert!(
        texts.iter().any(|t| t.ends_with("answering again below.*")),
        "{texts:#?}"
    );
    let answer = last_answer(&texts);
    // (Whether the text's last newline belongs to the agent or to the
    // closing fence the renderer added cannot be told apart.)
    assert!(
        joined(&answer).ends_with(long_text(900).trim_end()),
        "answered in full after the restart: {answer:#?}"
    );
    chat.h.stop().await;
}
