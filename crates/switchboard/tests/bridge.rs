//! The bridge end to end: a mention in the simulated Discord opens a thread,
//! a real agent child process answers, the reply streams back; gating,
//! batching, cancel, crashes, 429s and the slot limit, all through the real
//! binary.

mod support;

use std::time::Duration;

use discord_sim::{RestFault, SimChannel, SimConfig, SimUser};
use support::chat::{Chat, session_of};
use support::{
    LOG_CATCH_UP, Options, bot_messages, fences_balanced, joined, sim_wait, wait_reaction,
};
use switchboard::demo_agent::script::long_text;
use tokio::time::Instant;

use support::chat::TURN;

const SECOND: Duration = Duration::from_secs(1);
const EDIT_INTERVAL: Duration = Duration::from_millis(300);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_opens_a_thread_and_the_full_answer_streams_into_it() {
    let chat = Chat::start(Options::default()).await;
    let prompt = "[[long:9000]] please";
    let asked = chat.ask(prompt);
    chat.done(chat.channel, asked).await;

    let threads = chat.h.sim.threads();
    assert_eq!(threads.len(), 1);
    assert_eq!(
        (threads[0].id, threads[0].parent_id),
        (asked, chat.channel),
        "thread from the message"
    );
    assert_eq!(
        threads[0].name, prompt,
        "named after the prompt, mention stripped"
    );

    let messages = bot_messages(&chat.h.sim, asked);
    let texts: Vec<String> = messages.iter().map(|m| m.content.clone()).collect();
    for text in &texts {
        assert!(
            text.chars().count() <= 2000,
            "message of {} chars",
            text.chars().count()
        );
        assert!(fences_balanced(text), "unbalanced fences in {text:?}");
    }
    let session = session_of(&texts[0]);
    let expected = format!(
        "session {session} turn 1:\nprompt: {prompt}\n{}",
        long_text(9000)
    );
    support::assert_same_text(&joined(&texts), &expected, &texts);
    for message in &messages {
        let mut times = vec![message.created_at];
        times.extend(message.edited_at.iter().copied());
        for pair in times.windows(2).skip(1) {
            let gap = pair[1] - pair[0];
            assert!(
                gap + Duration::from_millis(30) >= EDIT_INTERVAL,
                "edits {gap:?} apart"
            );
        }
    }

    // A follow-up without a mention reaches the same agent session.
    let follow = chat.say(asked, "and now the tests?");
    chat.done(asked, follow).await;
    let last = chat.reply_texts(asked).pop().unwrap();
    assert!(
        last.starts_with(&format!(
            "session {session} turn 2:\nprompt: and now the tests?"
        )),
        "{last}"
    );
    assert_eq!(chat.h.logs.count_message("agent session started"), 1);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_are_not_for_the_bot_never_reach_an_agent() {
    let sim = SimConfig {
        channels: vec![
            SimChannel {
                id: 1_100_000_000_000_000_003,
                name: "general".into(),
            },
            SimChannel {
                id: 1_100_000_000_000_000_009,
                name: "random".into(),
            },
        ],
        ..SimConfig::default()
    };
    let options = Options {
        sim: Some(sim),
        // Bot 6 is listed as a user, but a bot is heard only when trusted.
        discord: "allowed_users = [\"7\", \"6\"]\nallow_bot_messages = \"mentions\"\ntrusted_bot_ids = [\"5\"]",
        ..Options::default()
    };
    let chat = Chat::start(options).await;
    let sim = &chat.h.sim;
    let (general, random) = (chat.channel, sim.channel_ids()[1]);
    let mallory = sim.user(8, "mallory");
    let other_bot = SimUser {
        id: 6,
        name: "other-bot".into(),
        bot: true,
    };
    let m = &chat.mention;
    sim.inject_message(random, &chat.alice, &format!("{m} unallowed channel"));
    let denied = sim.inject_message(general, &mallory, &format!("{m} unallowed user"));
    sim.inject_message(general, &chat.alice, "no mention here");
    sim.inject_message(general, &sim.bot_user(), &format!("{m} my own message"));
    sim.inject_message(general, &other_bot, &format!("{m} untrusted bot"));
    // Messages are handled in order: once this one is answered, the ones
    // before it have all been decided.
    let control = chat.ask("control");
    chat.done(general, control).await;

    assert_eq!(
        sim.threads().iter().map(|t| t.id).collect::<Vec<_>>(),
        [control]
    );
    assert_eq!(
        chat.h.logs.count_message("agent session started"),
        1,
        "only the control reached an agent"
    );
    wait_reaction(sim, general, denied, "🚫", 5 * SECOND).await;
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_during_a_turn_become_one_next_prompt_in_order() {
    let chat = Chat::start(Options::default()).await;
    let asked = chat.ask("[[slow:400]][[long:400]]");
    sim_wait(&chat.h.sim, TURN, "the thread", |s| {
        (!s.threads().is_empty()).then_some(())
    })
    .await;
    let ids: Vec<u64> = ["one", "two", "three"]
        .iter()
        .map(|t| chat.say(asked, t))
        .collect();
    wait_reaction(&chat.h.sim, asked, ids[0], "⏳", 5 * SECOND).await;
    chat.done(asked, ids[2]).await;
    let replies = chat.reply_texts(asked).join("");
    assert!(
        replies.contains("turn 2:\nprompt: alice: one\n\nalice: two\n\nalice: three\n"),
        "one batched prompt, in order: {replies}"
    );
    assert!(!replies.contains("turn 3:"), "exactly one next prompt");
    chat.h.stop().await;
}

/// The pid of the demo agent that `parent` started, from /proc.
fn agent_pid(parent: i32) -> Option<i32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
        let ppid: i32 = after_name
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == parent && cmdline.contains("demo-agent") {
            return Some(pid);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_turn_is_reported_and_the_next_message_gets_a_new_session() {
    let chat = Chat::start(Options::default()).await;
    let asked = chat.ask("[[hang]]");
    sim_wait(&chat.h.sim, TURN, "the first chunk", |s| {
        bot_messages(s, asked)
            .iter()
            .any(|m| m.content.contains("turn 1:"))
            .then_some(())
    })
    .await;
    let first_session = session_of(&chat.reply_texts(asked)[0]);
    let pid = agent_pid(chat.h.pid()).expect("the agent is a child of switchboard");
    let killed = Instant::now();
    // SAFETY: kill(2) on the agent process this test found.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let noticed = sim_wait(&chat.h.sim, 5 * SECOND, "the error notice", |s| {
        bot_messages(s, asked).iter().find_map(|m| {
            let at = m.edited_at.last().copied().unwrap_or(m.created_at);
            (m.content.contains("stopped unexpectedly") && m.content.contains("signal 9"))
                .then_some(at)
        })
    })
    .await;
    assert!(
        noticed - killed < 2 * SECOND,
        "error shown {:?} after the kill",
        noticed - killed
    );
    wait_reaction(&chat.h.sim, chat.channel, asked, "❌", 5 * SECOND).await;
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the killed agent was reaped (no zombie)"
    );

    let again = chat.say(asked, "still there?");
    chat.done(asked, again).await;
    let last = chat.reply_texts(asked).pop().unwrap();
    assert!(last.contains("turn 1:"), "a fresh session: {last}");
    assert_ne!(session_of(&last), first_session);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_the_turn_and_answers_its_permission_request_cancelled() {
    let chat = Chat::start(Options::default()).await;
    let asked = chat.ask("[[wait-for-cancel]] [[permission:edit]]");
    sim_wait(&chat.h.sim, TURN, "the agent waiting", |s| {
        bot_messages(s, asked)
            .iter()
            .any(|m| m.content.contains("waiting for cancel"))
            .then_some(())
    })
    .await;
    chat.say(asked, "!cancel");
    chat.done(chat.channel, asked).await;
    let reply = chat.reply_texts(asked).join("");
    assert!(reply.contains("Turn cancelled."), "{reply}");
    assert!(
        reply.contains("Permission for \"A edit tool call\": cancelled"),
        "{reply}"
    );
    chat.h
        .logs
        .wait_message(LOG_CATCH_UP, "turn cancelled by the user")
        .await;
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_while_streaming_delays_the_edit_and_loses_no_text() {
    let chat = Chat::start(Options::default()).await;
    let prompt = "[[slow:60]][[long:3000]]";
    let asked = chat.ask(prompt);
    sim_wait(&chat.h.sim, TURN, "the first bot message", |s| {
        (!bot_messages(s, asked).is_empty()).then_some(())
    })
    .await;
    chat.h.sim.fail_rest(
        RestFault::TooManyRequests {
            retry_after: 1.0,
            global: false,
        },
        1,
        Some("/messages/"),
    );
    chat.done(chat.channel, asked).await;
    assert!(
        chat.h.sim.rest_calls().iter().any(|c| c.status == 429),
        "the 429 was met"
    );
    let texts = chat.reply_texts(asked);
    let expected = format!(
        "session {} turn 1:\nprompt: {prompt}\n{}",
        session_of(&texts[0]),
        long_text(3000)
    );
    support::assert_same_text(&joined(&texts), &expected, &texts);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_every_slot_is_busy_the_user_is_told_and_answered_later() {
    let options = Options {
        agent: "max_sessions = 1",
        ..Options::default()
    };
    let chat = Chat::start(options).await;
    let first = chat.ask("[[slow:300]][[long:500]]");
    sim_wait(&chat.h.sim, TURN, "the first turn running", |s| {
        (!bot_messages(s, first).is_empty()).then_some(())
    })
    .await;
    let second = chat.ask("me too");
    sim_wait(&chat.h.sim, TURN, "the busy notice", |s| {
        bot_messages(s, second)
            .iter()
            .any(|m| m.content.contains("All 1 agent slots are busy"))
            .then_some(())
    })
    .await;
    chat.done(chat.channel, first).await;
    chat.done(chat.channel, second).await;
    assert!(
        chat.reply_texts(second)
            .iter()
            .any(|t| t.contains("prompt: me too"))
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bot_to_bot_loops_stop_at_the_cap_and_a_human_resets_it() {
    let options = Options {
        discord: "allow_all_users = true\nallow_bot_messages = \"all\"\ntrusted_bot_ids = [\"6\"]",
        broker: "edit_interval = \"300ms\"\nmax_bot_turns = 2",
        ..Options::default()
    };
    let chat = Chat::start(options).await;
    let sim = &chat.h.sim;
    let robot = SimUser {
        id: 6,
        name: "robot".into(),
        bot: true,
    };
    let asked = sim.inject_message(chat.channel, &robot, &format!("{} hello bot", chat.mention));
    chat.done(chat.channel, asked).await;
    let second = sim.inject_message(asked, &robot, "again");
    chat.done(asked, second).await;
    let third = sim.inject_message(asked, &robot, "and again");
    wait_reaction(sim, asked, third, "🚫", 5 * SECOND).await;
    let human = chat.say(asked, "stop, both of you");
    chat.done(asked, human).await;
    let replies = chat.reply_texts(asked).join("");
    assert!(
        !replies.contains("prompt: and again"),
        "the third bot turn was refused"
    );
    assert!(replies.contains("prompt: stop, both of you"));
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_ends_the_session_and_status_shows_the_pool() {
    let chat = Chat::start(Options::default()).await;
    let asked = chat.ask("first question");
    chat.done(chat.channel, asked).await;
    let first = session_of(&chat.reply_texts(asked)[0]);
    let (_, status) = chat.h.get_json("/status").await;
    let sessions = &status["sessions"][0];
    assert_eq!(
        (sessions["platform"].as_str(), sessions["live"].as_u64()),
        (Some("discord"), Some(1)),
        "{status}"
    );
    assert_eq!(sessions["max"], 10, "{status}");

    chat.say(asked, "!reset");
    sim_wait(&chat.h.sim, TURN, "the reset notice", |s| {
        bot_messages(s, asked)
            .iter()
            .any(|m| m.content.starts_with("Session reset"))
            .then_some(())
    })
    .await;
    let next = chat.say(asked, "fresh start");
    chat.done(asked, next).await;
    let last = chat.reply_texts(asked).pop().unwrap();
    assert!(last.contains("turn 1:\nprompt: fresh start"), "{last}");
    assert_ne!(session_of(&last), first, "a new session after !reset");
    assert_eq!(
        chat.h
            .metric("switchboard_agent_sessions_idle{platform=\"discord\"}")
            .await,
        Some(1.0)
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_the_agent_sends_after_its_turn_ended_is_shown_in_the_next_turn() {
    let chat = Chat::start(Options::default()).await;
    let thread = chat.ask("[[late:said after the end]] first");
    chat.done(chat.channel, thread).await;
    assert!(
        !chat
            .reply_texts(thread)
            .join("\n")
            .contains("after its previous turn"),
        "the late text is not part of the turn it came after"
    );
    let next = chat.say(thread, "second");
    chat.done(thread, next).await;
    let replies: Vec<String> = bot_messages(&chat.h.sim, thread)
        .into_iter()
        .filter(|m| m.id > next)
        .map(|m| m.content)
        .collect();
    let text = replies.join("\n");
    assert!(
        text.contains("The agent sent this after its previous turn had ended: said after the end"),
        "{text}"
    );
    assert!(text.contains("prompt: second"), "{text}");
    chat.h.stop().await;
}
