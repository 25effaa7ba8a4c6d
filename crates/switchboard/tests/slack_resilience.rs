//! The Slack connection never goes silently deaf: a `disconnect: warning`
//! is bridged by a replacement opened before the old connection closes,
//! `refresh_requested` reconnects, dropped and half-open connections come
//! back within the ping deadline, and what was missed (un-acked, or posted
//! while the process was down) is answered exactly once. Real binary, real
//! slack-sim, real agent processes.

mod support;

use std::time::Duration;

use slack_sim::{DisconnectReason, SlackSimConfig};
use support::Options;
use support::slack::{
    self, PING_DEADLINE, PING_INTERVAL, SlackChat, assert_every_envelope_acked_within, slack_wait,
    wait_live,
};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
/// Slack for process scheduling on a loaded 2-core machine.
const MARGIN: Duration = Duration::from_secs(1);

fn with_sim(sim: SlackSimConfig) -> Options {
    Options {
        slack_sim: Some(sim),
        ..slack::options()
    }
}

/// The ids of the sim's connections opened after `id` (not refused).
fn opened_after(chat: &SlackChat, id: u64) -> Vec<slack_sim::ConnectionRecord> {
    chat.sim()
        .connections()
        .into_iter()
        .filter(|c| c.id > id && !c.refused)
        .collect()
}

fn last_connection_id(chat: &SlackChat) -> u64 {
    chat.sim().connections().iter().map(|c| c.id).max().unwrap()
}

/// A WARN "reconnecting" line of the Slack supervisor whose cause has
/// `needle`.
async fn reconnect_logged(chat: &SlackChat, needle: &str) {
    chat.h
        .logs
        .wait_for(5 * SECOND, |v| {
            v["level"] == "WARN"
                && v["message"] == "reconnecting"
                && v["platform"] == "slack"
                && v["cause"].as_str().is_some_and(|c| c.contains(needle))
        })
        .await;
}

/// Ask and wait for the answer; it must be the only one.
async fn answered_once(chat: &SlackChat, prompt: &str) {
    let ts = chat.ask(prompt);
    chat.done(&ts).await;
    assert_eq!(
        chat.answers_to(&ts, prompt),
        1,
        "{:#?}",
        chat.reply_texts(&ts)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_warning_is_bridged_by_a_replacement_opened_before_the_old_closes() {
    let sim = SlackSimConfig {
        disconnect_warning_delay: 3 * SECOND,
        ..SlackSimConfig::default()
    };
    let chat = SlackChat::start(with_sim(sim)).await;
    let sim = chat.sim();
    let old: Vec<u64> = sim.live_connections();
    assert_eq!(old.len(), 2, "two Socket Mode connections");
    let newest_old = *old.iter().max().unwrap();

    let warned = Instant::now();
    sim.send_disconnect(DisconnectReason::Warning);
    // At once, before any replacement: goes to a warned connection.
    let during_warning = chat.ask("asked right after the warning");
    let replacements = slack_wait(sim, 5 * SECOND, "two replacement connections", |_| {
        let new = opened_after(&chat, newest_old);
        (new.len() >= 2).then_some(new)
    })
    .await;
    wait_live(&chat.h, 4, 5 * SECOND).await;
    // Now on a replacement (the sim prefers connections it has not warned).
    let on_replacement = chat.ask("asked on the replacement");
    chat.done(&during_warning).await;
    chat.done(&on_replacement).await;

    slack_wait(sim, 5 * SECOND, "the warned connections closed", |s| {
        old.iter()
            .all(|id| {
                s.connections()
                    .iter()
                    .any(|c| c.id == *id && c.closed_at.is_some())
            })
            .then_some(())
    })
    .await;
    let records = sim.connections();
    let first_close = old
        .iter()
        .filter_map(|id| records.iter().find(|c| c.id == *id)?.closed_at)
        .min()
        .unwrap();
    for new in &replacements {
        assert!(
            new.opened_at < first_close,
            "replacement {} opened {:?} after the first warned connection closed",
            new.id,
            new.opened_at - first_close
        );
    }
    // The first question went to a warned connection, the second to a
    // replacement: both were read.
    let replacement_ids: Vec<u64> = replacements.iter().map(|c| c.id).collect();
    let deliveries = sim.deliveries();
    assert!(
        deliveries
            .iter()
            .any(|d| old.contains(&d.connection_id) && d.at > warned),
        "an event went to a warned connection"
    );
    assert!(
        deliveries
            .iter()
            .any(|d| replacement_ids.contains(&d.connection_id)),
        "events went to the replacements"
    );
    assert_eq!(
        chat.answers_to(&during_warning, "asked right after the warning"),
        1
    );
    assert_eq!(
        chat.answers_to(&on_replacement, "asked on the replacement"),
        1
    );
    assert_every_envelope_acked_within(sim, SECOND).await;
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_requested_reconnects() {
    let chat = SlackChat::start(slack::options()).await;
    let sim = chat.sim();
    let last = last_connection_id(&chat);
    sim.send_disconnect(DisconnectReason::RefreshRequested);
    slack_wait(sim, 5 * SECOND, "two new connections", |_| {
        (opened_after(&chat, last).len() >= 2).then_some(())
    })
    .await;
    wait_live(&chat.h, 4, 5 * SECOND).await;
    reconnect_logged(&chat, "refresh_requested").await;
    answered_once(&chat, "still there after the refresh?").await;
    chat.h.stop().await;
}

/// Two connections opened after connection `last`, each within the ping
/// interval + deadline (+ margin) of `since`, when the old ones died.
async fn reconnected_within_ping_deadline(chat: &SlackChat, last: u64, since: Instant) {
    let new = slack_wait(chat.sim(), 10 * SECOND, "two new connections", |_| {
        let new = opened_after(chat, last);
        (new.len() >= 2).then_some(new)
    })
    .await;
    let bound = PING_INTERVAL + PING_DEADLINE + MARGIN;
    for connection in &new {
        assert!(
            connection.opened_at - since <= bound,
            "reconnected {:?} after the connections died (bound {bound:?})",
            connection.opened_at - since
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_reconnect_within_the_ping_deadline() {
    let chat = SlackChat::start(slack::options()).await;
    let sim = chat.sim();
    let last = last_connection_id(&chat);
    let dropped = Instant::now();
    sim.drop_connections();
    reconnected_within_ping_deadline(&chat, last, dropped).await;
    wait_live(&chat.h, 4, 5 * SECOND).await;
    reconnect_logged(&chat, "").await;
    answered_once(&chat, "still there after the drop?").await;
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_zombies_and_an_unacked_redelivery_answers_once() {
    let chat = SlackChat::start(slack::options()).await;
    let sim = chat.sim();
    let last = last_connection_id(&chat);
    let prompt = "asked just before the line went dead";
    let asked = chat.ask(prompt);
    let envelopes: Vec<String> = sim
        .deliveries()
        .iter()
        .rev()
        .take(2)
        .map(|d| d.envelope_id.clone())
        .collect();
    // The envelopes are on the wire; from now on nothing is read or
    // answered (pongs and acks included), as when a NAT forgets the flow.
    let silenced = Instant::now();
    sim.silence_current_connections();

    reconnected_within_ping_deadline(&chat, last, silenced).await;
    reconnect_logged(&chat, "zombie").await;
    chat.done(&asked).await;
    // Slack never saw the acks: it redelivers on the new connections.
    let redelivered = slack_wait(sim, 15 * SECOND, "the redeliveries acked", |s| {
        let retried: Vec<_> = s
            .deliveries()
            .into_iter()
            .filter(|d| envelopes.contains(&d.envelope_id) && d.retry_attempt > 0 && !d.dropped)
            .collect();
        let all_acked = retried.iter().all(|d| {
            s.acks()
                .iter()
                .any(|a| a.envelope_id == d.envelope_id && a.at >= d.at)
        });
        (!retried.is_empty() && all_acked).then_some(retried)
    })
    .await;
    assert!(
        redelivered.iter().all(|d| d.connection_id > last),
        "redelivered on new connections: {redelivered:?}"
    );
    // Taken in order: once this is answered, the redelivery was decided.
    let control = chat.say(&asked, "control");
    chat.done(&control).await;
    assert_eq!(
        chat.answers_to(&asked, prompt),
        1,
        "{:#?}",
        chat.reply_texts(&asked)
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_missed_while_down_are_caught_up_and_answered_once() {
    // Slack gives up on envelopes nobody acks (here: at the first timeout),
    // so after this downtime only catch-up can find the messages.
    let sim = SlackSimConfig {
        ack_timeout: SECOND,
        max_retries: 0,
        ..SlackSimConfig::default()
    };
    let mut chat = SlackChat::start(with_sim(sim)).await;
    let known = chat.ask("thread a");
    chat.done(&known).await;

    // The process hangs (its sockets stay open, nothing is read), the
    // envelopes go unanswered and are abandoned, then it dies.
    chat.h.signal(libc::SIGSTOP);
    let in_thread = chat.say(&known, "posted in the thread while down");
    let mention = chat.ask("a new question while down");
    slack_wait(
        chat.sim(),
        5 * SECOND,
        "Slack giving up the envelopes",
        |s| s.unacked().is_empty().then_some(()),
    )
    .await;
    chat.h.kill9().await;

    chat.h.restart().await;
    wait_live(&chat.h, 2, 10 * SECOND).await;
    chat.done(&in_thread).await;
    chat.done(&mention).await;
    assert_eq!(
        chat.answers_to(&known, "posted in the thread while down"),
        1,
        "{:#?}",
        chat.reply_texts(&known)
    );
    assert_eq!(chat.answers_to(&mention, "a new question while down"), 1);
    assert_eq!(
        chat.h
            .metric("switchboard_messages_caught_up_total{platform=\"slack\"}")
            .await,
        Some(2.0),
        "both came by catch-up"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_posted_while_stopped_are_answered_once_though_both_paths_bring_them() {
    let mut chat = SlackChat::start(slack::options()).await;
    let known = chat.ask("thread b");
    chat.done(&known).await;
    chat.h.kill9().await;
    // Slack keeps these envelopes for the next connection; catch-up finds
    // the same messages in the history.
    let in_thread = chat.say(&known, "posted while stopped");
    let mention = chat.ask("a mention while stopped");

    chat.h.restart().await;
    wait_live(&chat.h, 2, 10 * SECOND).await;
    chat.h
        .logs
        .wait_for(10 * SECOND, |v| {
            v["message"] == "catch-up done" && v["platform"] == "slack"
        })
        .await;
    chat.done(&in_thread).await;
    chat.done(&mention).await;
    // Taken in order: once this is answered, every copy was decided.
    let control = chat.say(&known, "control");
    chat.done(&control).await;
    assert_eq!(chat.answers_to(&known, "posted while stopped"), 1);
    assert_eq!(chat.answers_to(&mention, "a mention while stopped"), 1);
    for ts in [&in_thread, &mention] {
        let id = format!("{}:{ts}", chat.channel);
        let received = chat
            .h
            .logs
            .json()
            .iter()
            .filter(|v| v["message"] == "message received" && v["message_id"] == id.as_str())
            .count();
        assert_eq!(received, 1, "{id} acted on once");
    }
    chat.h.stop().await;
}
