//! Fatal causes stop the process with one ERROR line naming the fix;
//! SIGTERM at any moment exits 0 within 2 s, closing the gateway with 1000.

mod support;

use std::time::Duration;

use discord_sim::{RestFault, SimConfig};
use support::{Harness, Options, sim_wait};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn error_lines(h: &Harness) -> Vec<serde_json::Value> {
    h.logs
        .json()
        .into_iter()
        .filter(|v| v["level"] == "ERROR")
        .collect()
}

async fn expect_fatal_exit(h: &mut Harness, since: Instant) -> serde_json::Value {
    let status = h.wait_exit(5 * SECOND).await;
    assert!(since.elapsed() < 5 * SECOND);
    assert!(!status.success(), "a fatal cause exits non-zero");
    let errors = error_lines(h);
    assert_eq!(errors.len(), 1, "exactly one ERROR line: {errors:?}");
    h.assert_token_never_shown().await;
    errors[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_4004_exits_non_zero_naming_the_token() {
    let mut h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    let at = Instant::now();
    h.sim.close_connections(4004);
    let error = expect_fatal_exit(&mut h, at).await;
    let text = error["message"].as_str().unwrap();
    assert!(text.contains("4004") && text.contains("token"), "{text}");
    assert!(text.contains("Reset Token"), "says how to fix it: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disallowed_message_content_intent_exits_naming_the_intent() {
    let sim = SimConfig {
        message_content_intent_allowed: false,
        ..SimConfig::default()
    };
    let mut h = Harness::start(Options {
        sim: Some(sim),
        ..Options::default()
    })
    .await;
    let at = h.started;
    let error = expect_fatal_exit(&mut h, at).await;
    let text = error["message"].as_str().unwrap();
    assert!(
        text.contains("4014") && text.contains("Message Content Intent"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_token_is_fatal_at_start() {
    let sim = discord_sim::DiscordSim::start(SimConfig::default())
        .await
        .unwrap();
    sim.set_token_valid(false);
    let mut h = Harness::start_with_sim(sim, Options::default()).await;
    let at = h.started;
    let error = expect_fatal_exit(&mut h, at).await;
    assert!(
        error["message"].as_str().unwrap().contains("token"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_429_is_retried_after_retry_after_and_succeeds() {
    let sim = discord_sim::DiscordSim::start(SimConfig::default())
        .await
        .unwrap();
    sim.fail_rest(
        RestFault::TooManyRequests {
            retry_after: 1.0,
            global: false,
        },
        1,
        Some("/users/@me"),
    );
    let h = Harness::start_with_sim(sim, Options::default()).await;
    h.logs
        .wait_message(5 * SECOND, "token accepted by the REST API")
        .await;
    let calls: Vec<_> = h
        .sim
        .rest_calls()
        .into_iter()
        .filter(|c| c.path.ends_with("/users/@me"))
        .collect();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [429, 200]
    );
    let waited = calls[1].at - calls[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}, retry_after was 1 s"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_connected_closes_with_1000_and_exits_0() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    let sim = h.sim.clone();
    h.stop().await;
    let closed = sim_wait(&sim, SECOND, "the client's close frame", |s| {
        s.connections()
            .first()
            .and_then(|c| c.close_code_from_client)
    })
    .await;
    assert_eq!(closed, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_connecting_exits_0() {
    let sim = discord_sim::DiscordSim::start(SimConfig::default())
        .await
        .unwrap();
    sim.set_silent(true); // the connection opens but HELLO never comes
    let h = Harness::start_with_sim(sim, Options::default()).await;
    sim_wait(&h.sim, 5 * SECOND, "a connection", |s| {
        s.connections().first().cloned()
    })
    .await;
    let (_, status) = h.get_json("/status").await;
    let state = status["connections"][0]["state"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(state == "connecting" || state == "identifying", "{status}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_works_like_sigterm() {
    let mut h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    let at = Instant::now();
    h.signal(libc::SIGINT);
    let status = h.wait_exit(2 * SECOND).await;
    assert!(status.success(), "{status:?}");
    assert!(at.elapsed() < 2 * SECOND);
    h.assert_token_never_shown().await;
}
