//! Every Discord 429 waited out, through the real binary and discord-sim:
//! after a header-less (global) 429 no call of any route reaches Discord
//! before its `retry_after` has passed; after a route 429 none on that
//! route, while other routes go on; both counted in /metrics as invalid
//! requests.

mod support;

use std::time::Duration;

use discord_sim::{DiscordSim, RestFault};
use support::chat::{Chat, session_of};
use support::{Options, assert_same_text, bot_messages, joined, sim_wait};
use switchboard::demo_agent::script::long_text;
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
const INVALID_429: &str = "switchboard_discord_invalid_requests_total{status=\"429\"}";

/// The time of the first 429 the simulator answered.
async fn first_429(sim: &DiscordSim) -> Instant {
    sim_wait(sim, 10 * SECOND, "a 429", |s| {
        s.rest_calls()
            .iter()
            .find(|c| c.status == 429)
            .map(|c| c.at)
    })
    .await
}

async fn wait_metric(chat: &Chat, series: &str, value: f64) {
    let deadline = Instant::now() + 10 * SECOND;
    loop {
        let got = chat.h.metric(series).await;
        if got == Some(value) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{series} is {got:?}, not {value}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headerless_global_429_stops_every_call_until_retry_after() {
    let chat = Chat::start(Options::default()).await;
    let prompt = "[[slow:60]][[long:3000]]";
    let asked = chat.ask(prompt);
    // The reply's first post in its thread meets a 429 with no bucket
    // headers at all: only Retry-After and {"retry_after": 1, "global": true}.
    let thread_posts = format!("/channels/{asked}/messages");
    chat.h.sim.fail_rest(
        RestFault::HeaderlessTooManyRequests {
            retry_after: 1.0,
            global: true,
        },
        1,
        Some(&thread_posts),
    );
    let limited_at = first_429(&chat.h.sim).await;
    chat.done(chat.channel, asked).await;

    let calls = chat.h.sim.rest_calls();
    let too_soon: Vec<_> = calls
        .iter()
        .filter(|c| c.at > limited_at && c.at < limited_at + SECOND)
        .map(|c| {
            let after = c.at - limited_at;
            format!("{} {} {after:?} after the 429", c.method, c.path)
        })
        .collect();
    assert!(
        too_soon.is_empty(),
        "calls reached Discord within retry_after of a global 429: {too_soon:?}"
    );
    let retried = calls
        .iter()
        .find(|c| c.at > limited_at && c.path.ends_with(&thread_posts) && c.method == "POST")
        .expect("the post was retried");
    assert_eq!(retried.status, 200);
    assert_eq!(
        calls.iter().filter(|c| c.status == 429).count(),
        1,
        "one 429 met"
    );

    let texts = chat.reply_texts(asked);
    let expected = format!(
        "session {} turn 1:\nprompt: {prompt}\n{}",
        session_of(&texts[0]),
        long_text(3000)
    );
    assert_same_text(&joined(&texts), &expected, &texts);
    let posts = bot_messages(&chat.h.sim, asked).len();
    assert_eq!(posts, texts.len());
    wait_metric(&chat, INVALID_429, 1.0).await;
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_429_holds_its_route_and_lets_other_routes_go() {
    let chat = Chat::start(Options::default()).await;
    let first = chat.ask("[[long:300]] first");
    let first_posts = format!("/channels/{first}/messages");
    chat.h.sim.fail_rest(
        RestFault::TooManyRequests {
            retry_after: 2.0,
            global: false,
        },
        1,
        Some(&first_posts),
    );
    let limited_at = first_429(&chat.h.sim).await;
    // Another conversation while the first one's route is held.
    let second = chat.ask("[[long:300]] second");
    chat.done(chat.channel, second).await;
    chat.done(chat.channel, first).await;

    let calls = chat.h.sim.rest_calls();
    let held = limited_at..limited_at + 2 * SECOND;
    let on_route: Vec<_> = calls
        .iter()
        .filter(|c| held.contains(&c.at) && c.at > limited_at)
        .filter(|c| c.method == "POST" && c.path.ends_with(&first_posts))
        .map(|c| c.at - limited_at)
        .collect();
    assert!(
        on_route.is_empty(),
        "posts in the limited thread within retry_after: {on_route:?}"
    );
    let others = calls
        .iter()
        .filter(|c| held.contains(&c.at) && c.at > limited_at)
        .filter(|c| c.path.contains(&second.to_string()))
        .count();
    assert!(
        others > 0,
        "no call of the other conversation went while the route was held"
    );
    let second_done = calls
        .iter()
        .filter(|c| c.path.contains(&format!("/channels/{second}/messages")))
        .all(|c| c.status == 200);
    assert!(second_done, "the other conversation met no 429");
    for thread in [first, second] {
        let texts = chat.reply_texts(thread);
        assert!(texts.concat().contains(&long_text(300)), "{texts:?}");
    }
    wait_metric(&chat, INVALID_429, 1.0).await;
    chat.h.stop().await;
}
