//! The bridge on Slack end to end: a mention in the simulated Slack is
//! answered in its thread by a real agent child process, follow-ups reach
//! the same session, every envelope is acked at once, duplicates never
//! answer twice, long replies split within Slack's limit, a 429 loses
//! nothing, and Discord and Slack are served by one process.

mod support;

use std::time::Duration;

use serde_json::json;
use slack_sim::Fault;
use support::chat::{TURN, session_of};
use support::slack::{
    self, SlackChat, answer_count, assert_every_envelope_acked_within, slack_wait, unescape_mrkdwn,
    without_fence_languages,
};
use support::{Options, Platforms, assert_same_text, fences_balanced, joined, wait_reaction};
use switchboard::demo_agent::script::long_text;

const SECOND: Duration = Duration::from_secs(1);
/// Slack's per-message limit switchboard must keep (after mrkdwn).
const SLACK_LIMIT: usize = 4_000;

/// What the demo agent answers to `prompt` with `[[long:n]]`, as Slack
/// shows it once `unescape_mrkdwn` is applied.
fn expected_long(session: &str, prompt: &str, n: usize) -> String {
    without_fence_languages(&format!(
        "session {session} turn 1:\nprompt: {prompt}\n{}",
        long_text(n)
    ))
}

/// The joined reply compared with the agent's text; in each message Slack
/// shows code exactly where the message's fences are.
fn assert_reply_is(texts: &[String], expected: &str) {
    for text in texts {
        slack::assert_slack_shows_the_code_blocks(text);
    }
    assert_same_text(&unescape_mrkdwn(&joined(texts)), expected, texts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_is_answered_in_its_thread_and_a_follow_up_reaches_the_same_session() {
    let chat = SlackChat::start(slack::options()).await;
    let prompt = "[[long:700]] hello";
    let asked = chat.ask(prompt);
    chat.done(&asked).await;

    let replies = chat.replies(&asked);
    assert!(!replies.is_empty(), "the bot answered");
    for reply in &replies {
        assert_eq!(
            reply.thread_ts.as_deref(),
            Some(asked.as_str()),
            "the reply is in the mention's thread: {reply:?}"
        );
    }
    let top_level: Vec<_> = chat
        .sim()
        .messages(&chat.channel)
        .into_iter()
        .filter(|m| m.bot_id.is_some() && m.thread_ts.is_none())
        .collect();
    assert!(
        top_level.is_empty(),
        "nothing outside the thread: {top_level:?}"
    );
    let texts = chat.reply_texts(&asked);
    let session = session_of(&texts[0]);
    assert_reply_is(&texts, &expected_long(&session, prompt, 700));

    // A follow-up without a mention reaches the same agent session.
    let follow = chat.say(&asked, "and now the tests?");
    chat.done(&follow).await;
    let last = chat.reply_texts(&asked).pop().unwrap();
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
async fn every_envelope_is_acked_within_a_second_even_while_a_turn_runs() {
    let chat = SlackChat::start(slack::options()).await;
    let sim = chat.sim();
    let asked = chat.ask("[[slow:150]][[long:2000]]");
    slack_wait(sim, TURN, "the turn streaming", |s| {
        (!slack::bot_messages(s, &chat.channel, &asked).is_empty()).then_some(())
    })
    .await;
    let before = sim.deliveries().len();
    let follow_ups: Vec<String> = ["one", "two", "three"]
        .iter()
        .map(|t| chat.say(&asked, t))
        .collect();
    let other = chat.ask("meanwhile, another question");
    // Posting delivers at once: three messages, the mention as app_mention
    // and message (and whatever the bot's own posts added meanwhile).
    let posted: Vec<String> = sim.deliveries()[before..]
        .iter()
        .map(|d| d.envelope_id.clone())
        .collect();
    assert!(posted.len() >= 5, "five envelopes delivered: {posted:?}");
    slack_wait(
        sim,
        5 * SECOND,
        "acks of the envelopes posted during the turn",
        |s| {
            posted
                .iter()
                .all(|id| slack::acked_at(s, id).is_some())
                .then_some(())
        },
    )
    .await;
    assert!(
        !sim.reactions(&chat.channel, &asked)
            .iter()
            .any(|r| r == slack::DONE),
        "the acks came while the turn still ran, not after it"
    );

    chat.done(&asked).await;
    for ts in follow_ups.iter().chain([&other]) {
        chat.done(ts).await;
    }
    assert_every_envelope_acked_within(sim, SECOND).await;
    let replies = chat.reply_texts(&asked).join("\n");
    for text in ["one", "two", "three"] {
        assert_eq!(answer_count(&replies, text), 1, "{text}: {replies}");
    }
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_mention_message_pair_and_redeliveries_are_answered_once() {
    let chat = SlackChat::start(slack::options()).await;
    let sim = chat.sim();
    let prompt = "[[slow:100]][[long:1000]] only once";
    let before = sim.deliveries().len();
    let asked = chat.ask(prompt);
    // Slack's redelivery of an envelope it thinks was not acked: the same
    // envelope and event_id again, retry_attempt 1.
    let redelivered = sim.redeliver_last().expect("an event to redeliver");
    let pair: Vec<(Option<String>, String)> = sim.deliveries()[before..]
        .iter()
        .filter(|d| d.retry_attempt == 0)
        .take(2)
        .map(|d| (d.event_type.clone(), d.envelope_id.clone()))
        .collect();
    assert_eq!(
        pair.iter().map(|(t, _)| t.as_deref()).collect::<Vec<_>>(),
        [Some("app_mention"), Some("message")],
        "one mention is two events"
    );
    assert_eq!(redelivered, pair[1].1, "the mention's message envelope");

    // The same message once more under a new event_id, as an app_mention
    // and as a message, while the turn runs and after it ended.
    let event = |kind: &str| {
        json!({
            "type": kind, "channel": chat.channel, "channel_type": "channel",
            "user": chat.alice.id, "text": format!("{} {prompt}", chat.mention),
            "ts": asked, "event_ts": asked,
        })
    };
    sim.deliver_raw_event(event("message"));
    chat.done(&asked).await;
    let late = sim.deliver_raw_event(event("app_mention"));
    slack_wait(sim, 5 * SECOND, "the late duplicate acked", |s| {
        slack::acked_at(s, &late)
    })
    .await;
    // Messages are taken in order: once this one is answered, the
    // duplicates before it have been decided.
    let control = chat.say(&asked, "control");
    chat.done(&control).await;

    let replies = chat.reply_texts(&asked).join("\n");
    assert_eq!(answer_count(&replies, prompt), 1, "{replies}");
    assert_eq!(answer_count(&replies, "control"), 1, "{replies}");
    assert!(!replies.contains(" turn 3:"), "no third turn: {replies}");
    let id = format!("{}:{asked}", chat.channel);
    let received = chat
        .h
        .logs
        .json()
        .iter()
        .filter(|v| v["message"] == "message received" && v["message_id"] == id.as_str())
        .count();
    assert_eq!(received, 1, "acted on once");
    assert_eq!(chat.h.logs.count_message("agent session started"), 1);
    assert_every_envelope_acked_within(sim, SECOND).await;
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5000_char_fenced_reply_arrives_complete_in_messages_within_the_limit() {
    let chat = SlackChat::start(slack::options()).await;
    // Chunks 50 ms apart: the answer streams for about 2.6 s, so the reply
    // is edited as it grows whatever the machine's load (all at once, it
    // could be posted whole).
    let prompt = "[[slow:50]][[long:5000]] please";
    let asked = chat.ask(prompt);
    chat.done(&asked).await;

    let texts = chat.reply_texts(&asked);
    assert!(
        texts.len() >= 2,
        "5,000 characters need two messages: {texts:#?}"
    );
    for text in &texts {
        let chars = text.chars().count();
        assert!(chars <= SLACK_LIMIT, "a message of {chars} characters");
        assert!(fences_balanced(text), "a code block broken in {text:?}");
    }
    let session = session_of(&texts[0]);
    assert_reply_is(&texts, &expected_long(&session, prompt, 5000));
    assert!(
        chat.sim()
            .web_calls()
            .iter()
            .any(|c| c.method == "chat.update" && c.ok),
        "the reply streamed by chat.update"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_on_chat_update_delays_the_edit_and_loses_no_text() {
    let chat = SlackChat::start(slack::options()).await;
    let sim = chat.sim();
    let prompt = "[[slow:60]][[long:3000]]";
    let asked = chat.ask(prompt);
    slack_wait(sim, TURN, "the first bot message", |s| {
        (!slack::bot_messages(s, &chat.channel, &asked).is_empty()).then_some(())
    })
    .await;
    sim.fail_web(
        "chat.update",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    chat.done(&asked).await;

    let updates: Vec<_> = sim
        .web_calls()
        .into_iter()
        .filter(|c| c.method == "chat.update")
        .collect();
    let limited = updates
        .iter()
        .position(|c| c.status == 429)
        .expect("the 429 was met");
    let ts = &updates[limited].params["ts"];
    let retry = updates[limited + 1..]
        .iter()
        .find(|c| &c.params["ts"] == ts)
        .expect("the edit was retried");
    let waited = retry.at - updates[limited].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried {waited:?} after a 429 with Retry-After: 1"
    );
    let texts = chat.reply_texts(&asked);
    for text in &texts {
        assert!(text.chars().count() <= SLACK_LIMIT);
    }
    assert_reply_is(&texts, &expected_long(&session_of(&texts[0]), prompt, 3000));
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_and_slack_are_each_answered_on_their_own_platform_by_one_process() {
    let options = Options {
        platforms: Platforms::Both,
        ..slack::options()
    };
    let chat = SlackChat::start(options).await;
    let h = &chat.h;
    h.wait_ready().await;
    let discord_channel = h.sim.channel_ids()[0];
    let bob = h.sim.user(7, "bob");
    let discord_asked = h.sim.inject_message(
        discord_channel,
        &bob,
        &format!("<@{}> hi from discord", h.sim.bot_user().id),
    );
    let slack_asked = chat.ask("hi from slack");
    wait_reaction(&h.sim, discord_channel, discord_asked, "✅", TURN).await;
    chat.done(&slack_asked).await;

    let discord_replies: Vec<String> = support::bot_messages(&h.sim, discord_asked)
        .into_iter()
        .map(|m| m.content)
        .collect::<Vec<_>>();
    let discord_text = discord_replies.join("\n");
    assert!(
        discord_text.contains("prompt: hi from discord"),
        "{discord_text}"
    );
    assert!(!discord_text.contains("hi from slack"), "{discord_text}");
    let slack_text = chat.reply_texts(&slack_asked).join("\n");
    assert!(slack_text.contains("prompt: hi from slack"), "{slack_text}");
    let everything_on_slack: String = chat
        .sim()
        .messages(&chat.channel)
        .iter()
        .map(|m| m.text.clone())
        .collect();
    assert!(!everything_on_slack.contains("hi from discord"));
    assert_eq!(h.logs.count_message("agent session started"), 2);

    let (_, status) = h.get_json("/status").await;
    let connections = status["connections"].as_array().unwrap();
    let of = |platform: &str| {
        connections
            .iter()
            .filter(|c| c["platform"] == platform)
            .collect::<Vec<_>>()
    };
    assert_eq!(of("discord").len(), 1, "{status}");
    assert_eq!(
        of("slack").len(),
        2,
        "two Socket Mode connections: {status}"
    );
    for connection in connections {
        assert_eq!(connection["state"], "active", "{status}");
        assert_eq!(connection["healthy"], true, "{status}");
    }
    let (ready, body) = h.get("/readyz").await;
    assert_eq!(ready, 200, "{body}");
    let (_, metrics) = h.get("/metrics").await;
    for connection in connections {
        let series = format!(
            "switchboard_gateway_healthy{{platform=\"{}\",connection=\"{}\"}} 1",
            connection["platform"].as_str().unwrap(),
            connection["connection"].as_str().unwrap()
        );
        assert!(
            metrics.lines().any(|l| l == series),
            "{series} in:\n{metrics}"
        );
    }
    for platform in ["discord", "slack"] {
        let received = h
            .metric(&format!(
                "switchboard_messages_received_total{{platform=\"{platform}\"}}"
            ))
            .await;
        assert!(received >= Some(1.0), "{platform}: {received:?}");
    }
    chat.h.stop().await;
}
