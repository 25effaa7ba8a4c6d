//! The broker's rules hold on Slack as on Discord, through the real binary,
//! the slack-sim and real agent processes: the channel and user allowlists,
//! mention gating (and adopting a thread on a mention), the bot's own posts
//! and other bots (off by default, then capped per thread), messages queued
//! behind a running turn answered in one next turn, `!cancel` and `!reset`.
//!
//! Every "no answer" is checked after the broker's own decision on that
//! message was logged, so a test cannot pass because an event never
//! arrived.

mod support;

use std::time::Duration;

use slack_sim::{SlackChannel, SlackSimConfig};
use support::Options;
use support::chat::{TURN, session_of};
use support::slack::{
    self, DENIED, QUEUED, SlackChat, answer_count, bot_messages, reaction_calls, slack_wait,
    wait_ignored, wait_reaction,
};

/// The reason the broker logs for a message nobody addressed to the bot.
const NOT_ADDRESSED: &str = "no mention outside a thread switchboard owns";

/// A workspace with an allowed channel (the first) and one that is not.
fn two_channels() -> SlackSimConfig {
    let channel = |id: &str, name: &str| SlackChannel {
        id: id.into(),
        name: name.into(),
    };
    SlackSimConfig {
        channels: vec![
            channel("C0GENERAL", "general"),
            channel("C0RANDOM", "random"),
        ],
        ..SlackSimConfig::default()
    }
}

/// The demo agent's header lines ("session <id> turn <n>:") in `texts`.
fn turn_headers(texts: &[String]) -> Vec<String> {
    texts
        .iter()
        .filter_map(|t| t.lines().next())
        .filter(|line| line.starts_with("session "))
        .map(|line| line.split_once(" turn ").unwrap().1.to_owned())
        .collect()
}

/// The bot's messages in the channel that are not in the thread of
/// `thread_ts`.
fn bot_posts_outside(chat: &SlackChat, thread_ts: &str) -> Vec<String> {
    chat.sim()
        .messages(&chat.channel)
        .into_iter()
        .filter(|m| m.bot_id.is_some() && m.thread_ts.as_deref() != Some(thread_ts))
        .map(|m| format!("{:?} {:?}", m.thread_ts, m.text))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unallowed_channel_gets_nothing_and_an_unallowed_user_is_denied() {
    let options = Options {
        slack: "allowed_users = [\"U0ALICE\"]",
        slack_sim: Some(two_channels()),
        ..slack::options()
    };
    let chat = SlackChat::start(options).await;
    let sim = chat.sim();
    let random = sim.channel_ids()[1].clone();
    let mallory = sim.user("U0MALLORY", "mallory");
    let m = &chat.mention;
    let off_channel =
        sim.post_user_message(&random, &chat.alice.id, &format!("{m} over here"), None);
    let denied = sim.post_user_message(&chat.channel, &mallory.id, &format!("{m} let me in"), None);
    let control = chat.ask("control");
    chat.done(&control).await;
    wait_ignored(
        &chat.h,
        &format!("{random}:{off_channel}"),
        "channel not allowed",
    )
    .await;
    wait_reaction(sim, &chat.channel, &denied, DENIED, TURN).await;
    let refused = chat.id(&denied);
    chat.h
        .logs
        .wait_for(TURN, |v| {
            v["message"] == "user not allowed; reacting" && v["message_id"] == refused.as_str()
        })
        .await;

    let touching_random: Vec<_> = sim
        .web_calls()
        .into_iter()
        .filter(|c| c.params["channel"] == random.as_str())
        .map(|c| c.method)
        .collect();
    assert!(
        touching_random.is_empty(),
        "nothing done in the unallowed channel: {touching_random:?}"
    );
    assert_eq!(
        sim.reactions(&chat.channel, &denied),
        [DENIED],
        "the unallowed user gets the denied reaction only"
    );
    assert!(
        chat.replies(&denied).is_empty(),
        "no answer to the unallowed user: {:?}",
        chat.reply_texts(&denied)
    );
    assert_eq!(bot_posts_outside(&chat, &control), Vec::<String>::new());
    assert!(chat.reply_texts(&control)[0].contains("prompt: control"));
    assert_eq!(
        chat.h.logs.count_message("agent session started"),
        1,
        "only the control reached an agent"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_mention_only_threads_the_bot_owns_are_answered() {
    let chat = SlackChat::start(slack::options()).await;
    let sim = chat.sim();
    let chatting = sim.post_user_message(&chat.channel, &chat.alice.id, "just chatting", None);
    let unowned_reply = chat.say(&chatting, "a reply nobody asked the bot about");
    chat.ignored(&chatting, NOT_ADDRESSED).await;
    chat.ignored(&unowned_reply, NOT_ADDRESSED).await;
    assert!(
        chat.replies(&chatting).is_empty(),
        "no answer without a mention"
    );

    // A mention in that thread is answered there, and the thread is the
    // bot's from then on: a follow-up needs no mention.
    let adopting = chat.say(&chatting, &format!("{} can you help here?", chat.mention));
    chat.done(&adopting).await;
    let first = chat.reply_texts(&chatting);
    assert!(
        first[0].contains(" turn 1:\nprompt: can you help here?\n"),
        "{first:?}"
    );
    let session = session_of(&first[0]);
    let follow = chat.say(&chatting, "and the tests?");
    chat.done(&follow).await;
    let last = chat.reply_texts(&chatting).pop().unwrap();
    assert!(
        last.starts_with(&format!(
            "session {session} turn 2:\nprompt: and the tests?"
        )),
        "{last}"
    );

    for reply in chat.replies(&chatting) {
        assert_eq!(reply.thread_ts.as_deref(), Some(chatting.as_str()));
    }
    assert_eq!(bot_posts_outside(&chat, &chatting), Vec::<String>::new());
    let texts = chat.reply_texts(&chatting).join("\n");
    assert_eq!(answer_count(&texts, "just chatting"), 0, "{texts}");
    assert_eq!(
        answer_count(&texts, "a reply nobody asked the bot about"),
        0,
        "{texts}"
    );
    for ts in [&chatting, &unowned_reply] {
        assert!(
            reaction_calls(sim, &chat.channel, ts).is_empty(),
            "no status reaction on an unaddressed message"
        );
    }
    assert_eq!(chat.h.logs.count_message("agent session started"), 1);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bots_own_posts_never_start_a_turn() {
    let chat = SlackChat::start(slack::options()).await;
    let asked = chat.ask("[[long:300]] first");
    chat.done(&asked).await;
    let second = chat.say(&asked, "second");
    chat.done(&second).await;
    // Its own posts as Slack could send them, mentioning itself, at the top
    // level and in its thread.
    let m = &chat.mention;
    let own_top = chat.own_post_event(&format!("{m} talking to myself"), None);
    let own_reply = chat.own_post_event(&format!("{m} and to myself again"), Some(&asked));
    chat.ignored(&own_top, "own message").await;
    chat.ignored(&own_reply, "own message").await;
    // Every message the bot posted came back as an event, and was ignored.
    let posted = chat.replies(&asked);
    assert!(posted.len() >= 2, "two answers posted: {posted:?}");
    for post in &posted {
        chat.ignored(&post.ts, "own message").await;
    }

    // The next human message is turn 3: nothing ran in between.
    let third = chat.say(&asked, "third");
    chat.done(&third).await;
    let texts = chat.reply_texts(&asked);
    let session = session_of(&texts[0]);
    assert_eq!(
        turn_headers(&texts),
        ["1:", "2:", "3:"],
        "one turn per human message: {texts:#?}"
    );
    assert!(
        texts
            .last()
            .unwrap()
            .starts_with(&format!("session {session} turn 3:\nprompt: third\n")),
        "{texts:#?}"
    );
    assert_eq!(bot_posts_outside(&chat, &asked), Vec::<String>::new());
    assert_eq!(chat.h.logs.count_message("agent session started"), 1);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_bots_messages_are_ignored_by_default() {
    let chat = SlackChat::start(slack::options()).await;
    let asked = chat.ask("hello");
    chat.done(&asked).await;
    let m = &chat.mention;
    let from_bots = [
        chat.other_bot_says(&format!("{m} build failed"), None),
        chat.other_bot_says("beep in your thread", Some(&asked)),
        chat.other_bot_says(&format!("{m} beep with a mention"), Some(&asked)),
    ];
    for ts in &from_bots {
        chat.ignored(ts, "message from a bot").await;
    }
    let control = chat.say(&asked, "control");
    chat.done(&control).await;

    let texts = chat.reply_texts(&asked);
    assert_eq!(turn_headers(&texts), ["1:", "2:"], "{texts:#?}");
    assert!(
        texts[1].contains(" turn 2:\nprompt: control\n"),
        "{texts:#?}"
    );
    for ts in &from_bots {
        assert!(
            reaction_calls(chat.sim(), &chat.channel, ts).is_empty(),
            "no reaction to an ignored bot"
        );
    }
    assert_eq!(bot_posts_outside(&chat, &asked), Vec::<String>::new());
    assert_eq!(chat.h.logs.count_message("agent session started"), 1);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_bot_messages_allowed_a_bot_is_answered_up_to_the_turn_cap() {
    let options = Options {
        slack: "allow_all_users = true\nallow_bot_messages = \"all\"\ntrusted_bot_ids = [\"U0OTHERBOT\"]",
        broker: "edit_interval = \"300ms\"\nmax_bot_turns = 1",
        ..slack::options()
    };
    let chat = SlackChat::start(options).await;
    let asked = chat.ask("hello");
    chat.done(&asked).await;
    // The sim does not store another bot's raw messages, so their status
    // reactions fail there; the `reactions.add` calls still show them.
    let answered = chat.other_bot_says("beep one", Some(&asked));
    chat.reaction_tried(&answered, slack::DONE).await;
    let capped = chat.other_bot_says("beep two", Some(&asked));
    chat.reaction_tried(&capped, DENIED).await;
    chat.h
        .logs
        .wait_message(
            TURN,
            "bot-only turn refused: consecutive bot turn cap reached",
        )
        .await;
    // A human resets the count: the bot is answered again after it.
    let human = chat.say(&asked, "a human again");
    chat.done(&human).await;
    let again = chat.other_bot_says("beep three", Some(&asked));
    chat.reaction_tried(&again, slack::DONE).await;

    let texts = chat.reply_texts(&asked);
    let session = session_of(&texts[0]);
    let expected: Vec<String> = [(2, "beep one"), (3, "a human again"), (4, "beep three")]
        .iter()
        .map(|(n, prompt)| format!("session {session} turn {n}:\nprompt: {prompt}\n"))
        .collect();
    let answers: Vec<&String> = texts.iter().skip(1).collect();
    assert_eq!(answers.len(), expected.len(), "{texts:#?}");
    for (answer, header) in answers.iter().zip(&expected) {
        assert!(
            answer.starts_with(header.as_str()),
            "{header:?} in {texts:#?}"
        );
    }
    assert_eq!(
        answer_count(&texts.join("\n"), "beep two"),
        0,
        "the bot turn over the cap was refused"
    );
    assert!(
        !reaction_calls(chat.sim(), &chat.channel, &capped).contains(&slack::DONE.to_owned()),
        "the refused bot message is not marked done"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_sent_during_a_turn_are_answered_together_in_the_next_turn() {
    // One Socket Mode connection: Slack keeps order only within one.
    let options = Options {
        slack: "allow_all_users = true\nconnections = 1",
        ..slack::options()
    };
    let chat = SlackChat::start(options).await;
    let sim = chat.sim();
    let asked = chat.ask("[[slow:500]][[long:400]]");
    slack_wait(sim, TURN, "the first turn streaming", |s| {
        (!bot_messages(s, &chat.channel, &asked).is_empty()).then_some(())
    })
    .await;
    let one = chat.say(&asked, "one");
    let two = chat.say(&asked, "two");
    chat.reaction_tried(&one, QUEUED).await;
    chat.reaction_tried(&two, QUEUED).await;
    chat.done(&two).await;

    let texts = chat.reply_texts(&asked);
    assert_eq!(
        turn_headers(&texts),
        ["1:", "2:"],
        "exactly one next turn: {texts:#?}"
    );
    let next = texts
        .iter()
        .find(|t| t.contains(" turn 2:\n"))
        .expect("the second turn's answer");
    let prompt = next.split_once(" turn 2:\nprompt: ").unwrap().1;
    let (at_one, at_two) = (prompt.find(": one\n\n"), prompt.find(": two\n"));
    assert!(
        matches!((at_one, at_two), (Some(a), Some(b)) if a < b),
        "one prompt with both messages, in order: {next:?}"
    );
    let joined = texts.join("\n");
    for text in ["one", "two"] {
        assert_eq!(answer_count(&joined, text), 1, "{text}: {joined}");
    }
    for ts in [&one, &two] {
        assert!(
            !sim.reactions(&chat.channel, ts).iter().any(|r| r == QUEUED),
            "the queued mark is taken off once answered"
        );
    }
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_running_turn_and_the_session_goes_on() {
    let chat = SlackChat::start(slack::options()).await;
    let asked = chat.ask("[[wait-for-cancel]] [[permission:edit]]");
    slack_wait(chat.sim(), TURN, "the agent waiting for a cancel", |s| {
        bot_messages(s, &chat.channel, &asked)
            .iter()
            .any(|m| m.text.contains("waiting for cancel"))
            .then_some(())
    })
    .await;
    chat.say(&asked, "!cancel");
    chat.done(&asked).await;
    chat.h
        .logs
        .wait_message(Duration::from_secs(1), "turn cancelled by the user")
        .await;
    let reply = chat.reply_texts(&asked).join("\n");
    assert!(reply.contains("Turn cancelled."), "{reply}");
    assert!(
        reply.contains("Permission for \"A edit tool call\": cancelled"),
        "{reply}"
    );

    // The session itself goes on: the next message is its second turn.
    let session = session_of(&chat.reply_texts(&asked)[0]);
    let next = chat.say(&asked, "still there?");
    chat.done(&next).await;
    let texts = chat.reply_texts(&asked);
    assert!(
        texts
            .last()
            .unwrap()
            .starts_with(&format!("session {session} turn 2:\nprompt: still there?")),
        "{texts:#?}"
    );
    assert_eq!(
        answer_count(&texts.join("\n"), "!cancel"),
        0,
        "a command is not a prompt"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_makes_the_next_message_start_a_fresh_session() {
    let chat = SlackChat::start(slack::options()).await;
    let asked = chat.ask("first question");
    chat.done(&asked).await;
    let first = session_of(&chat.reply_texts(&asked)[0]);

    chat.say(&asked, "!reset");
    slack_wait(chat.sim(), TURN, "the reset notice", |s| {
        bot_messages(s, &chat.channel, &asked)
            .iter()
            .any(|m| m.text.starts_with("Session reset"))
            .then_some(())
    })
    .await;
    let next = chat.say(&asked, "fresh start");
    chat.done(&next).await;
    let texts = chat.reply_texts(&asked);
    let last = texts.last().unwrap();
    assert!(last.contains(" turn 1:\nprompt: fresh start\n"), "{last}");
    assert_ne!(session_of(last), first, "a new session after !reset");
    assert_eq!(
        answer_count(&texts.join("\n"), "!reset"),
        0,
        "a command is not a prompt"
    );
    assert_eq!(chat.h.logs.count_message("agent session started"), 2);
    chat.h.stop().await;
}
