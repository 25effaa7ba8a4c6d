//! Deaf but connected, on Slack, through the real binary and slack-sim
//! (issue 12): the simulator stops sending `message` and `app_mention`
//! events on the live Socket Mode connections while every ping is
//! answered; the delivery check finds the mention over the Web API
//! (`conversations.history` / `.replies`, limit=1), answers it once,
//! reports Slack suspect (/readyz 503) and, on the next miss (the bot's
//! own answer in the thread, never delivered either), opens fresh
//! connections, after which /readyz is 200 again. Merely slow delivery
//! (under the grace) raises no alarm and opens nothing.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::Options;
use support::chat::TURN;
use support::slack::{self, SlackChat};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

/// Test-sized settings: checks every 500 ms, a 1 s grace.
const QUICK_CANARY: &str = "interval = \"500ms\"\nidle_interval = \"500ms\"\ngrace = \"1s\"\n\
                            max_misses = 2\ncalls_per_minute = { slack = 6000 }";
const GRACE_PLUS_INTERVAL: Duration = Duration::from_millis(1_500);
const MESSAGE_EVENTS: [&str; 2] = ["message", "app_mention"];

fn options() -> Options {
    Options {
        canary: QUICK_CANARY,
        agent_args: &["--echo", "--chunk-delay-ms", "0"],
        ..slack::options()
    }
}

/// Readiness seen by polling /readyz every 50 ms until `stop`: (status,
/// reason) pairs.
async fn watch_readiness(chat: &SlackChat, stop: impl Fn() -> bool) -> Vec<(u16, String)> {
    let mut seen = Vec::new();
    let deadline = Instant::now() + TURN;
    while !stop() && Instant::now() < deadline {
        let (status, body) = chat.h.get("/readyz").await;
        seen.push((status, body));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

fn answers_to(chat: &SlackChat, thread_ts: &str, prompt: &str) -> usize {
    chat.reply_texts(thread_ts)
        .iter()
        .filter(|t| t.contains(&format!("echo: {prompt}")))
        .count()
}

/// The supervisor's "reconnecting" line for a renewal was logged.
fn renewal_logged(chat: &SlackChat) -> bool {
    chat.h.logs.json().iter().any(|line| {
        line["message"] == "reconnecting"
            && line["platform"] == "slack"
            && line["cause"]
                .as_str()
                .is_some_and(|c| c.starts_with("events not delivered"))
    })
}

/// Slack's entry in /status `delivery`.
async fn slack_delivery(chat: &SlackChat) -> Value {
    let (_, status) = chat.h.get_json("/status").await;
    status["delivery"]
        .as_array()
        .and_then(|all| all.iter().find(|d| d["platform"] == "slack"))
        .cloned()
        .unwrap_or_else(|| panic!("no slack delivery figures: {status}"))
}

async fn metric(chat: &SlackChat, name: &str) -> f64 {
    chat.h
        .metric(&format!("{name}{{platform=\"slack\"}}"))
        .await
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mention_socket_mode_never_delivered_is_answered_once_and_fresh_connections_heal_it() {
    let chat = SlackChat::start(options()).await;
    let before = chat.ask("before the silence");
    chat.done(&before).await;
    let opened = chat.sim().opens().len();

    chat.sim().mute_events(&MESSAGE_EVENTS);
    let posted_at = Instant::now();
    let deaf = chat.ask("posted while deaf");
    let mut readiness =
        watch_readiness(&chat, || answers_to(&chat, &deaf, "posted while deaf") > 0).await;
    let answered_after = posted_at.elapsed();
    eprintln!("a mention never delivered was answered {answered_after:?} after it was posted");
    assert!(
        answered_after < GRACE_PLUS_INTERVAL + 5 * SECOND,
        "answered {answered_after:?} after it was posted"
    );
    chat.done(&deaf).await;
    assert!(
        chat.sim().muted_event_total() >= 1,
        "the simulator really withheld the events"
    );

    // The next miss (the bot's own answer in the thread, never delivered
    // either) renews: every slot opens a fresh connection. /readyz is
    // watched all along.
    readiness.extend(watch_readiness(&chat, || renewal_logged(&chat)).await);
    assert!(renewal_logged(&chat), "no renewal within {TURN:?}");
    let renewed_at = Instant::now();
    assert!(
        readiness
            .iter()
            .any(|(status, body)| *status == 503 && body.contains("suspect")),
        "/readyz never said 503 naming the suspect platform: {readiness:?}"
    );
    let deadline = Instant::now() + TURN;
    loop {
        let (status, _) = chat.h.get("/readyz").await;
        let fresh = chat.sim().opens().len() > opened && chat.sim().live_connections().len() == 2;
        if status == 200 && fresh && slack_delivery(&chat).await["state"] == "ok" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never ready after the fresh connections"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "ready again {:?} after the renewal was logged",
        renewed_at.elapsed()
    );
    assert!(
        chat.sim().opens().len() > opened,
        "a new apps.connections.open"
    );

    let heard = chat.ask("after the fresh connections");
    chat.done(&heard).await;
    assert_eq!(
        answers_to(&chat, &deaf, "posted while deaf"),
        1,
        "exactly once"
    );
    assert_eq!(answers_to(&chat, &heard, "after the fresh connections"), 1);

    let missed = metric(&chat, "switchboard_missed_dispatches_total").await;
    assert!(missed >= 1.0, "missed dispatches counted: {missed}");
    let delivery = slack_delivery(&chat).await;
    assert_eq!(delivery["state"], "ok", "{delivery}");
    assert!(delivery["renewals_total"].as_u64() >= Some(1), "{delivery}");
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivery_slower_than_usual_but_within_the_grace_raises_no_alarm() {
    let chat = SlackChat::start(options()).await;
    let opened = chat.sim().opens().len();
    chat.sim()
        .delay_events(&MESSAGE_EVENTS, Duration::from_millis(600));
    let mut readiness = Vec::new();
    for n in 0..3 {
        let prompt = format!("slow but fine {n}");
        let asked = chat.ask(&prompt);
        readiness.extend(watch_readiness(&chat, || answers_to(&chat, &asked, &prompt) > 0).await);
        chat.done(&asked).await;
        // Let the check look at the thread after the grace, too.
        let settle = Instant::now() + GRACE_PLUS_INTERVAL;
        readiness.extend(watch_readiness(&chat, || Instant::now() > settle).await);
        assert_eq!(answers_to(&chat, &asked, &prompt), 1);
    }
    assert!(
        readiness.iter().all(|(status, _)| *status == 200),
        "a false alarm: {readiness:?}"
    );
    assert_eq!(chat.sim().opens().len(), opened, "no fresh connection");
    assert_eq!(
        metric(&chat, "switchboard_missed_dispatches_total").await,
        0.0
    );
    let checks = metric(&chat, "switchboard_delivery_checks_total").await;
    assert!(checks > 0.0, "the check ran: {checks}");
    let delivery = slack_delivery(&chat).await;
    assert_eq!(delivery["renewals_total"], 0, "{delivery}");
    chat.h.stop().await;
}

/// conversations.history calls with `limit=1` (the delivery check's probe
/// of a channel).
fn channel_probes(chat: &SlackChat) -> usize {
    chat.sim()
        .web_calls()
        .iter()
        .filter(|c| {
            c.method == "conversations.history"
                && (c.params["limit"] == "1" || c.params["limit"] == 1)
        })
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_bot_spends_a_dozen_calls_an_hour_on_the_check() {
    // Every time of the defaults divided by 200 (and the per-minute budget
    // multiplied by it): a simulated hour is 18 s.
    const SCALE: u32 = 200;
    let chat = SlackChat::start(Options {
        canary: "interval = \"150ms\"\nidle_interval = \"1500ms\"\ngrace = \"50ms\"\n\
                 thread_window = \"18s\"\ncalls_per_minute = { slack = 400 }",
        ..slack::options()
    })
    .await;
    let start = channel_probes(&chat);
    let hour = Duration::from_secs(3_600) / SCALE;
    tokio::time::sleep(hour).await; // the measured span itself, not a wait for a condition
    let calls = channel_probes(&chat) - start;
    eprintln!(
        "Slack delivery check at idle: {calls} calls in a simulated hour, one allowed channel"
    );
    assert!(
        (10..=14).contains(&calls),
        "{calls} calls in a simulated hour (expected one per idle_interval: 12; budget 120)"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_active_canary_notices_its_own_posts_not_coming_back() {
    let sim = slack_sim::SlackSim::start(slack_sim::SlackSimConfig::default())
        .await
        .unwrap();
    let channel = sim.channel_ids()[0].clone();
    // The reconciler is slowed right down, so only the canary acts here.
    let canary = format!(
        "interval = \"60s\"\nidle_interval = \"60s\"\ngrace = \"3s\"\nmax_misses = 2\n\
         post_interval = \"300ms\"\nchannel = {{ slack = \"{channel}\" }}"
    );
    let h = support::Harness::start_with_slack_sim(
        sim,
        Options {
            canary: Box::leak(canary.into_boxed_str()),
            ..slack::options()
        },
    )
    .await;
    slack::wait_live(&h, 2, 10 * SECOND).await;
    let canary_posts = |h: &support::Harness| {
        h.slack()
            .web_calls()
            .iter()
            .filter(|c| c.method == "chat.postMessage" && c.params["channel"] == channel.as_str())
            .count()
    };
    let deadline = Instant::now() + TURN;
    while canary_posts(&h) < 2 {
        assert!(Instant::now() < deadline, "the canary never posted twice");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let opened = h.slack().opens().len();
    assert_eq!(h.get("/readyz").await.0, 200, "a healthy connection stays");

    h.slack().mute_events(&MESSAGE_EVENTS);
    h.logs
        .wait_for(TURN, |line| {
            line["message"] == "reconnecting"
                && line["cause"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("events not delivered"))
        })
        .await;
    let deadline = Instant::now() + TURN;
    while h.slack().opens().len() <= opened || h.get("/readyz").await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "never ready on fresh connections"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, status) = h.get_json("/status").await;
    let slack_delivery = status["delivery"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["platform"] == "slack")
        .cloned()
        .unwrap();
    assert!(
        slack_delivery["missed_dispatches_total"].as_u64() >= Some(2),
        "{status}"
    );
    h.stop().await;
}
