//! The Discord connection never goes silently deaf: drops, zombies, op 7/9,
//! repeated closes and refused connections all end in a resumed (or, when
//! Discord says so, re-identified) session, against the real binary and a
//! real simulated gateway.

mod support;

use std::time::Duration;

use discord_sim::{ReadyKind, SimMessage};
use support::{HEARTBEAT, Harness, LOG_CATCH_UP, Options, sim_wait};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
/// Slack for process scheduling on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_millis(400);

fn fast_backoff() -> Options {
    Options {
        supervisor: "backoff_initial = \"50ms\"\nbackoff_max = \"200ms\"\nhealthy_reset = \"60s\"",
        ..Options::default()
    }
}

async fn resumed_count(h: &Harness, n: usize) {
    sim_wait(&h.sim, 10 * SECOND, &format!("{n} RESUMED"), |s| {
        (s.ready_sent()
            .iter()
            .filter(|r| r.kind == ReadyKind::Resumed)
            .count()
            >= n)
            .then_some(())
    })
    .await;
}

async fn received(h: &Harness, message_id: u64) {
    let id = message_id.to_string();
    h.logs
        .wait_for(10 * SECOND, |v| {
            v["message"] == "message received" && v["message_id"] == id.as_str()
        })
        .await;
}

fn times_received(h: &Harness, message_id: u64) -> usize {
    let id = message_id.to_string();
    h.logs
        .json()
        .iter()
        .filter(|v| v["message"] == "message received" && v["message_id"] == id.as_str())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_within_a_second_and_reports_ready() {
    let h = Harness::start(Options::default()).await;
    let ready = sim_wait(&h.sim, 5 * SECOND, "READY", |s| {
        s.ready_sent().first().cloned()
    })
    .await;
    assert_eq!(ready.kind, ReadyKind::Ready);
    assert!(
        ready.at - h.started < SECOND,
        "READY {:?} after start",
        ready.at - h.started
    );
    h.wait_ready().await;
    let (status, body) = h.get_json("/readyz").await;
    assert_eq!(status, 200, "{body}");
    let identify = &h.sim.identifies()[0];
    assert!(identify.token_ok);
    assert_ne!(
        identify.intents & (1 << 15),
        0,
        "asks for the message content intent"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_drop_resumes_and_delivers_what_was_missed_exactly_once() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    let channel = h.sim.channel_ids()[0];
    let alice = h.sim.user(7, "alice");
    let before = h.sim.inject_message(channel, &alice, "before the drop");
    received(&h, before).await;
    let session = h.sim.last_session_id().unwrap();
    let seq_before_drop = h.sim.session_seq(&session).unwrap();

    h.sim.set_refuse_connections(true);
    h.sim.drop_connections();
    let missed: Vec<u64> = (0..3)
        .map(|i| {
            h.sim
                .inject_message(channel, &alice, &format!("while away {i}"))
        })
        .collect();
    h.logs
        .wait_for(5 * SECOND, |v| {
            v["message"] == "reconnecting" && v["attempt"] == 2
        })
        .await;
    let (status, body) = h.get_json("/readyz").await;
    assert_eq!(status, 503, "not ready while away: {body}");
    assert!(
        body["reason"].as_str().unwrap().contains("discord/shard-0"),
        "{body}"
    );

    h.sim.set_refuse_connections(false);
    resumed_count(&h, 1).await;
    for id in &missed {
        received(&h, *id).await;
    }
    let resume = h
        .sim
        .resumes()
        .into_iter()
        .find(|r| r.accepted)
        .expect("an accepted resume");
    assert_eq!(resume.session_id, session);
    assert_eq!(
        resume.seq, seq_before_drop,
        "resumes from the last sequence it saw"
    );
    assert!(
        !resume.path.starts_with("/first-connect"),
        "resume goes to resume_gateway_url, got {}",
        resume.path
    );
    assert_eq!(h.sim.identifies().len(), 1, "resumed, never re-identified");

    // A second delivery of a message already handled changes nothing.
    let again = h
        .sim
        .messages(channel)
        .into_iter()
        .find(|m: &SimMessage| m.id == missed[0])
        .unwrap();
    support::redeliver(&h.sim, &again);
    h.logs
        .wait_message(5 * SECOND, "duplicate message event dropped")
        .await;
    assert_eq!(
        h.metric("switchboard_duplicate_events_total{platform=\"discord\"}")
            .await,
        Some(1.0)
    );
    h.wait_ready().await;
    let (status, _) = h.get("/readyz").await;
    assert_eq!(status, 200);
    for id in std::iter::once(before).chain(missed) {
        assert_eq!(times_received(&h, id), 1, "message {id} handled once");
    }
    assert_eq!(
        h.metric("switchboard_messages_received_total{platform=\"discord\"}")
            .await,
        Some(4.0)
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_request_and_resumable_invalid_session_resume() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    h.sim.send_reconnect();
    resumed_count(&h, 1).await;
    h.sim.send_invalid_session(true);
    resumed_count(&h, 2).await;
    assert_eq!(h.sim.identifies().len(), 1);
    let causes: Vec<String> = h
        .logs
        .json()
        .iter()
        .filter(|v| v["message"] == "reconnecting")
        .map(|v| v["cause"].as_str().unwrap().to_owned())
        .collect();
    assert!(causes[0].contains("op 7"), "{causes:?}");
    assert!(causes[1].contains("op 9, resumable=true"), "{causes:?}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unresumable_invalid_session_identifies_anew_after_one_to_five_seconds() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    let sent = Instant::now();
    h.sim.send_invalid_session(false);
    let second = sim_wait(&h.sim, 8 * SECOND, "a second identify", |s| {
        s.identifies().get(1).cloned()
    })
    .await;
    let waited = second.at - sent;
    assert!(
        waited >= SECOND && waited <= 5 * SECOND + MARGIN,
        "identified after {waited:?}"
    );
    assert!(
        h.sim.resumes().is_empty(),
        "an invalidated session is not resumed"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withheld_acks_are_a_zombie_even_while_dispatches_flow() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    let channel = h.sim.channel_ids()[0];
    let alice = h.sim.user(7, "alice");
    let zombie_from = Instant::now();
    h.sim.set_heartbeat_acks(false);
    // Keep dispatches flowing while ACKs are withheld.
    let traffic = {
        let sim = h.sim.clone();
        tokio::spawn(async move {
            for i in 0..20 {
                sim.inject_message(channel, &alice, &format!("traffic {i}"));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let resume = sim_wait(&h.sim, 5 * SECOND, "a resume", |s| {
        s.resumes().first().cloned()
    })
    .await;
    h.sim.set_heartbeat_acks(true);
    let took = resume.at - zombie_from;
    assert!(
        took <= 2 * HEARTBEAT + MARGIN,
        "resumed {took:?} after ACKs stopped (2 intervals = {:?})",
        2 * HEARTBEAT
    );
    traffic.await.unwrap();
    resumed_count(&h, 1).await;
    let zombie = h.logs.wait_message(LOG_CATCH_UP, "reconnecting").await;
    assert!(
        zombie["cause"].as_str().unwrap().contains("un-ACKed"),
        "{zombie}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn complete_silence_is_a_zombie_within_two_intervals() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    let silent_from = Instant::now();
    h.sim.set_silent(true);
    let dropped = sim_wait(&h.sim, 5 * SECOND, "the silent connection dropped", |s| {
        s.connections().first().and_then(|c| c.closed_at)
    })
    .await;
    let took = dropped - silent_from;
    assert!(
        took <= 2 * HEARTBEAT + MARGIN,
        "dropped {took:?} after silence began"
    );
    h.sim.set_silent(false);
    resumed_count(&h, 1).await;
    assert_eq!(h.sim.identifies().len(), 1);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_4000_ten_times_keeps_coming_back_by_resume() {
    let h = Harness::start(fast_backoff()).await;
    h.wait_ready().await;
    for round in 1..=10 {
        h.sim.close_connections(4000);
        resumed_count(&h, round).await;
    }
    assert_eq!(h.sim.identifies().len(), 1, "never re-identified");
    assert_eq!(h.logs.count_message("reconnecting"), 10);
    let (_, status) = h.get_json("/status").await;
    let conn = &status["connections"][0];
    assert_eq!(conn["reconnects"], 10, "{status}");
    assert!(
        conn["last_disconnect_cause"]
            .as_str()
            .unwrap()
            .contains("4000"),
        "{status}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_4007_and_4009_start_a_fresh_session() {
    let h = Harness::start(fast_backoff()).await;
    h.wait_ready().await;
    h.sim.close_connections(4007);
    sim_wait(&h.sim, 10 * SECOND, "identify #2", |s| {
        (s.identifies().len() >= 2).then_some(())
    })
    .await;
    h.sim.close_connections(4009);
    let third = sim_wait(&h.sim, 10 * SECOND, "identify #3", |s| {
        s.identifies().get(2).cloned()
    })
    .await;
    let second = h.sim.identifies()[1].clone();
    assert!(
        third.at - second.at >= Duration::from_millis(4_900),
        "identifies spaced {:?}",
        third.at - second.at
    );
    assert!(h.sim.resumes().is_empty());
    h.wait_ready().await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_back_off_1_2_4_8_and_sigterm_ends_the_sleep() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    h.sim.set_refuse_connections(true);
    h.sim.drop_connections();
    let fifth = h
        .logs
        .wait_for(25 * SECOND, |v| {
            v["message"] == "reconnecting" && v["attempt"] == 6
        })
        .await;
    let delays: Vec<u64> = h
        .logs
        .json()
        .iter()
        .filter(|v| v["message"] == "reconnecting")
        .map(|v| v["delay_ms"].as_u64().unwrap())
        .collect();
    assert_eq!(delays[0], 0, "the first retry is immediate: {delays:?}");
    for (delay, base) in delays[1..5].iter().zip([1_000u64, 2_000, 4_000, 8_000]) {
        assert!(
            *delay >= base * 8 / 10 && *delay <= base * 12 / 10,
            "delays {delays:?}"
        );
    }
    assert!(fifth["delay_ms"].as_u64().unwrap() >= 12_800);
    for line in h
        .logs
        .json()
        .iter()
        .filter(|v| v["message"] == "reconnecting")
    {
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["platform"], "discord");
        assert!(
            line["cause"].as_str().unwrap().contains("connect"),
            "{line}"
        );
    }
    let (status, body) = h.get_json("/status").await;
    assert_eq!(status, 200);
    assert_eq!(body["connections"][0]["state"], "backing_off", "{body}");
    assert_eq!(body["connections"][0]["backoff_attempt"], 6, "{body}");
    // SIGTERM in the middle of a ~16 s backoff sleep: exit 0 within 2 s.
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_as_soon_as_the_gateway_is_back() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    h.sim.set_refuse_connections(true);
    h.sim.drop_connections();
    // Attempts at ~0 s and ~1 s fail; the third waits ~2 s.
    let third = h
        .logs
        .wait_for(5 * SECOND, |v| {
            v["message"] == "reconnecting" && v["attempt"] == 3
        })
        .await;
    let scheduled = Instant::now() + Duration::from_millis(third["delay_ms"].as_u64().unwrap());
    h.sim.set_refuse_connections(false);
    let back = sim_wait(&h.sim, 5 * SECOND, "RESUMED", |s| {
        s.ready_sent()
            .into_iter()
            .find(|r| r.kind == ReadyKind::Resumed)
    })
    .await;
    assert!(
        back.at <= scheduled + MARGIN,
        "resumed {:?} after its scheduled attempt",
        back.at - scheduled
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_drop_is_a_supervised_reconnect_not_a_silent_one() {
    let h = Harness::start(Options::default()).await;
    h.wait_ready().await;
    h.sim.drop_connections();
    resumed_count(&h, 1).await;
    let warn = h.logs.wait_message(LOG_CATCH_UP, "reconnecting").await;
    assert_eq!(warn["level"], "WARN");
    assert_eq!(warn["attempt"], 1);
    assert_eq!(
        warn["delay_ms"], 0,
        "the first retry after a stable connection is immediate"
    );
    assert!(warn["cause"].as_str().unwrap().contains("1006"), "{warn}");
    assert_eq!(
        h.metric(
            "switchboard_gateway_reconnects_total{platform=\"discord\",connection=\"shard-0\"}"
        )
        .await,
        Some(1.0)
    );
    assert_eq!(h.sim.identifies().len(), 1);
    h.stop().await;
}
