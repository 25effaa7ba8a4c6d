//! What runs behind a healthy connection is watched too (issue 11, point
//! 6): through the real binary, with a fault injected by the test-only
//! `SWITCHBOARD_TEST_FAULT` hook, `/readyz`, `/livez` and `/metrics` tell
//! the truth while the gateway connection itself stays healthy.

mod support;

use std::time::Duration;

use support::Options;
use support::chat::Chat;
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_intake_makes_the_process_unready_while_the_gateway_is_healthy() {
    let chat = Chat::start(Options {
        env: &[("SWITCHBOARD_TEST_FAULT", "intake_stall:STALL-HERE")],
        ..Options::default()
    })
    .await;
    let h = &chat.h;
    h.wait_admin("/readyz", Duration::from_secs(5), |s, _| s == 200)
        .await;
    assert_eq!(h.metric("switchboard_intake_stalled").await, Some(0.0));

    chat.ask("STALL-HERE please");
    chat.ask("this one waits behind it");
    h.wait_admin("/readyz", Duration::from_secs(10), |s, body| {
        s == 503 && body.contains("intake: ") && body.contains("none handled")
    })
    .await;
    // The heartbeat task still runs: the process is live, only not ready.
    let (live, _) = h.get("/livez").await;
    assert_eq!(live, 200);
    assert_eq!(h.metric("switchboard_intake_stalled").await, Some(1.0));
    assert!(h.metric("switchboard_intake_queued").await.unwrap() >= 1.0);
    let (_, status) = h.get_json("/status").await;
    assert_eq!(status["pipeline"]["intake_stalled"], true);
    // The connection itself is healthy: only the pipeline is not.
    assert_eq!(
        h.metric("switchboard_gateway_healthy{platform=\"discord\",connection=\"shard-0\"}")
            .await,
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intake_that_panics_ends_the_process_non_zero() {
    let chat = Chat::start(Options {
        env: &[("SWITCHBOARD_TEST_FAULT", "intake_panic:PANIC-HERE")],
        ..Options::default()
    })
    .await;
    let mut h = chat.h;
    let channel = h.sim.channel_ids()[0];
    let alice = h.sim.user(7, "alice");
    let mention = format!("<@{}>", h.sim.bot_user().id);
    h.sim
        .inject_message(channel, &alice, &format!("{mention} PANIC-HERE"));
    let status = h.wait_exit(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(1), "{status:?}");
    let line = h
        .logs
        .wait_for(Duration::from_secs(1), |v| v["level"] == "ERROR")
        .await;
    assert!(
        line["message"]
            .as_str()
            .unwrap()
            .contains("the intake stopped"),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_store_makes_the_process_unready_and_pauses_the_intake() {
    let chat = Chat::start(Options {
        env: &[("SWITCHBOARD_TEST_FAULT", "store_fail:BREAK-STORE")],
        ..Options::default()
    })
    .await;
    let h = &chat.h;
    h.wait_admin("/readyz", Duration::from_secs(5), |s, _| s == 200)
        .await;
    let thread = chat.ask("BREAK-STORE now");
    h.wait_admin("/readyz", Duration::from_secs(10), |s, body| {
        s == 503
            && body.contains("store: failing")
            && body.contains("injected test fault")
            && body.contains("intake: paused")
    })
    .await;
    assert_eq!(h.metric("switchboard_store_failing").await, Some(1.0));
    assert_eq!(h.metric("switchboard_intake_paused").await, Some(1.0));
    let (live, _) = h.get("/livez").await;
    assert_eq!(live, 200, "a failing store is not a dead process");
    // Turned away, not answered (this store never comes back): nothing is
    // acted on that could not be journaled.
    let id = thread.to_string();
    h.logs
        .wait_for(Duration::from_secs(5), |v| {
            v["message"] == "message turned away" && v["message_id"] == id.as_str()
        })
        .await;
    assert!(support::bot_messages(&h.sim, thread).is_empty());
    assert!(h.sim.reactions(chat.channel, thread).is_empty());
    let (_, status) = h.get_json("/status").await;
    assert_eq!(status["pipeline"]["intake_paused"], true, "{status}");
    assert_eq!(
        status["pipeline"]["intake_turned_away_total"], 1,
        "{status}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_runtime_fails_liveness() {
    let chat = Chat::start(Options {
        env: &[("SWITCHBOARD_TEST_FAULT", "runtime_block:BLOCK-ALL")],
        ..Options::default()
    })
    .await;
    let h = &chat.h;
    h.wait_admin("/livez", Duration::from_secs(5), |s, _| s == 200)
        .await;
    chat.ask("BLOCK-ALL workers");
    // While every worker is blocked nothing answers: a probe with a 2 s
    // timeout fails (as a Kubernetes probe would); once the workers are
    // free, the stale heartbeat is reported until the next beat.
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failed = false;
    while Instant::now() < deadline {
        match client.get(format!("{}/livez", h.admin)).send().await {
            Ok(r) if r.status() == 200 => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            _ => {
                failed = true;
                break;
            }
        }
    }
    assert!(
        failed,
        "/livez kept answering 200 while the runtime was blocked"
    );
    // It recovers once the block ends (15 s).
    h.wait_admin("/livez", Duration::from_secs(25), |s, _| s == 200)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_busy_past_the_turn_idle_timeout_makes_the_process_unready_until_a_slot_frees() {
    let chat = Chat::start(Options {
        agent: "max_sessions = 1\nturn_idle_timeout = \"2s\"",
        ..Options::default()
    })
    .await;
    let h = &chat.h;
    h.wait_admin("/readyz", Duration::from_secs(5), |s, _| s == 200)
        .await;
    // A chatty turn (never idle for 2 s) that holds the one slot for about
    // 8 s: past turn_idle_timeout, no new conversation could be answered.
    let thread = chat.ask("[[long:4000]] [[slow:150]] keep talking");
    h.wait_admin("/readyz", Duration::from_secs(10), |s, body| {
        s == 503 && body.contains("discord agent sessions: all 1 slots busy")
    })
    .await;
    let (live, _) = h.get("/livez").await;
    assert_eq!(live, 200);
    chat.done(chat.channel, thread).await;
    h.wait_admin("/readyz", Duration::from_secs(5), |s, _| s == 200)
        .await;
}
