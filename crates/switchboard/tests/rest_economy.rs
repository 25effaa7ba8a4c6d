//! What an answer costs on Discord's REST API, through the real binary and
//! discord-sim: a quick answer is one post and one reaction; a slow agent
//! still shows at once that it works (placeholder, then "thinking"), and
//! takes "thinking" off again; and under Discord-like rate limits the
//! broker paces itself by the headers and meets no 429.

mod support;

use std::time::Duration;

use discord_sim::{RateLimits, RestCall, SimConfig};
use support::chat::{Chat, TURN};
use support::{Options, sim_wait};

/// Calls made for answers after `from` (an index into the simulator's
/// call record). The delivery check's background reads (GET
/// /channels/{id}, at most 60 a minute) are not an answer's cost and are
/// left out.
fn calls_since(chat: &Chat, from: usize) -> Vec<RestCall> {
    chat.h.sim.rest_calls()[from..]
        .iter()
        .filter(|c| !is_delivery_check(c))
        .cloned()
        .collect()
}

fn is_delivery_check(call: &RestCall) -> bool {
    call.method == "GET"
        && call
            .path
            .strip_prefix("/api/v10/channels/")
            .is_some_and(|rest| !rest.contains('/'))
}

fn describe(calls: &[RestCall]) -> Vec<String> {
    calls
        .iter()
        .map(|c| {
            let content = c
                .body
                .as_ref()
                .and_then(|b| b.get("content"))
                .and_then(|c| c.as_str())
                .map(|c| format!(" {:?}", c.chars().take(30).collect::<String>()))
                .unwrap_or_default();
            format!("{} {} {}{content}", c.status, c.method, c.path)
        })
        .collect()
}

/// Wait until the call record has stopped growing for a moment.
async fn settled(chat: &Chat) {
    let mut last = chat.h.sim.rest_calls().len();
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = chat.h.sim.rest_calls().len();
        if now == last {
            return;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quick_answer_costs_one_post_and_one_reaction() {
    let chat = Chat::start(Options {
        agent_args: &["--echo", "--chunk-delay-ms", "0"],
        ..Options::default()
    })
    .await;
    let thread = chat.ask("hello");
    chat.done(chat.channel, thread).await;
    settled(&chat).await;

    let before = chat.h.sim.rest_calls().len();
    let follow_up = chat.say(thread, "and again");
    chat.done(thread, follow_up).await;
    settled(&chat).await;
    let calls = calls_since(&chat, before);
    let seen = describe(&calls);
    assert_eq!(calls.len(), 2, "{seen:#?}");
    assert_eq!(
        (calls[0].method.as_str(), calls[1].method.as_str()),
        ("POST", "PUT"),
        "{seen:#?}"
    );
    assert!(
        seen[0].contains("echo: and again"),
        "the answer itself is the first post: {seen:#?}"
    );
    assert_eq!(chat.h.sim.reactions(thread, follow_up), ["✅"]);
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_agent_shows_the_placeholder_and_thinking_until_it_is_done() {
    let chat = Chat::start(Options {
        agent_args: &["--echo", "--echo-delay-ms", "3000", "--chunk-delay-ms", "0"],
        ..Options::default()
    })
    .await;
    let before = chat.h.sim.rest_calls().len();
    let asked = chat.ask("take your time");
    // Thinking shows on the message while the agent works...
    sim_wait(&chat.h.sim, TURN, "the thinking reaction", |s| {
        s.reactions(chat.channel, asked)
            .iter()
            .any(|r| r == "🤔")
            .then_some(())
    })
    .await;
    let placeholder_shown = chat.reply_texts(asked) == ["…"];
    chat.done(chat.channel, asked).await;
    settled(&chat).await;
    let calls = calls_since(&chat, before);
    let seen = describe(&calls);
    assert!(
        placeholder_shown,
        "the placeholder was up while thinking: {seen:#?}"
    );
    // ...and is taken off at the end.
    assert_eq!(
        chat.h.sim.reactions(chat.channel, asked),
        ["✅"],
        "{seen:#?}"
    );
    assert_eq!(chat.reply_texts(asked), ["echo: take your time"]);
    let count = |method: &str, part: &str| {
        calls
            .iter()
            .filter(|c| c.method == method && c.path.contains(part))
            .count()
    };
    assert_eq!(count("PUT", "/reactions/"), 2, "thinking, done: {seen:#?}");
    assert_eq!(count("DELETE", "/reactions/"), 1, "thinking off: {seen:#?}");
    assert_eq!(count("PATCH", "/messages/"), 1, "the answer: {seen:#?}");
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_discord_like_limits_the_broker_meets_no_429() {
    let chat = Chat::start(Options {
        agent_args: &["--echo", "--chunk-delay-ms", "0"],
        sim: Some(SimConfig {
            rate_limits: RateLimits {
                // Tighter per route than Discord, to make the buckets bite;
                // Discord's global rate (the broker assumes it).
                per_route: Some((2, Duration::from_secs(1))),
                global_per_second: Some(50),
            },
            ..SimConfig::default()
        }),
        ..Options::default()
    })
    .await;
    let threads: Vec<u64> = (0..3).map(|i| chat.ask(&format!("thread {i}"))).collect();
    for thread in &threads {
        chat.done(chat.channel, *thread).await;
    }
    // Three follow-ups at once in each thread: the second and third queue
    // behind the first (queued reaction on and off), so reaction adds and
    // removals share their buckets.
    let mut asked = Vec::new();
    for thread in &threads {
        for i in 0..3 {
            asked.push((*thread, chat.say(*thread, &format!("follow-up {i}"))));
        }
    }
    for (thread, message) in &asked {
        chat.done(*thread, *message).await;
    }
    settled(&chat).await;
    let calls = chat.h.sim.rest_calls();
    let limited: Vec<RestCall> = calls.iter().filter(|c| c.status == 429).cloned().collect();
    let t0 = calls[0].at;
    let timeline: Vec<String> = calls
        .iter()
        .zip(describe(&calls))
        .map(|(c, d)| format!("{:>6} ms {d}", (c.at - t0).as_millis()))
        .collect();
    assert!(
        limited.is_empty(),
        "{} of {} calls met a 429: {:#?}",
        limited.len(),
        calls.len(),
        timeline
    );
    chat.h.stop().await;
}
