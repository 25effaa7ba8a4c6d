//! A PostgreSQL outage through the real binary (issue 14, deliverable 1):
//! the binary's `store.url` goes through a TCP proxy the test cuts
//! (`support::flaky_server`) while the server itself keeps running for
//! every other test. While the store is unreachable `/readyz` is 503
//! naming it and the intake pauses: nothing posted meanwhile is answered
//! (and on Slack nothing is acked, so Slack redelivers it); once the store
//! is back, `/readyz` is 200 again and every message posted during the
//! outage is answered exactly once, in order (Discord's by catch-up,
//! Slack's by the redelivery or catch-up, whichever comes first). A new
//! gateway session during the outage catches up once the store is back
//! (its cursors are in the store). The database password appears in no
//! log line and no admin response.

mod support;

use std::time::Duration;

use slack_sim::SlackSimConfig;
use support::chat::Chat;
use support::flaky_server::FlakyServer;
use support::postgres::{PASSWORD, TestDatabase, store_lines};
use support::slack::{self, SlackChat, answer_count};
use support::{Harness, Options, bot_messages};
use tokio::time::Instant;

/// From the cut to `/readyz` 503: the store is probed every 2 s and a
/// call gives up after the pool's 5 s acquire timeout.
const NOTICED_WITHIN: Duration = Duration::from_secs(15);
/// From the restore to `/readyz` 200: probed every second while down.
const BACK_WITHIN: Duration = Duration::from_secs(10);
/// The broker's line for a message it did not take in while the store was
/// unreachable.
const TURNED_AWAY: &str = "message turned away";

/// What is posted while the store is down: a mention, then two follow-ups
/// in a thread the bot answered before.
const PROMPTS: [&str; 3] = [
    "a question while the store is down",
    "a first follow-up while the store is down",
    "a second follow-up while the store is down",
];

/// Cut the database (`cut`), then wait for `/readyz` 503 with a reason
/// naming the store: how long that took, and the answer.
async fn cut_until_unready(h: &Harness, cut: impl FnOnce()) -> (Duration, String) {
    let at = Instant::now();
    cut();
    let (_, reason) = h
        .wait_admin("/readyz", NOTICED_WITHIN, |status, body| {
            status == 503 && body.contains("store")
        })
        .await;
    (at.elapsed(), reason)
}

/// Wait until the broker turned away each of `ids` (at least once).
async fn turned_away(h: &Harness, ids: &[String]) {
    for id in ids {
        h.logs
            .wait_for(NOTICED_WITHIN, |v| {
                v["message"] == TURNED_AWAY && v["message_id"] == id.as_str()
            })
            .await;
    }
}

/// The journal's rows for `ids`: (message id, state), one per row.
async fn journal_rows(db: &TestDatabase, ids: &[String]) -> Vec<(String, String)> {
    let mut conn = db.connect().await;
    let mut rows: Vec<(String, String)> =
        sqlx::query_as("SELECT message_id, state FROM journal WHERE message_id = ANY($1)")
            .bind(ids)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    rows.sort();
    rows
}

/// Where `prompt`'s answer starts in `replies` (a demo agent answer line).
fn answer_at(replies: &str, prompt: &str) -> usize {
    replies
        .find(&format!(": {prompt}"))
        .unwrap_or_else(|| panic!("no answer to {prompt:?} in {replies}"))
}

/// Each of [`PROMPTS`] answered exactly once (`asked`: the replies to the
/// mention, `in_thread`: the thread's), the follow-ups in the order they
/// were posted, and each of `ids` journaled once and answered.
async fn answered_once_in_order(
    asked: &[String],
    in_thread: &[String],
    db: &TestDatabase,
    ids: &[String],
) {
    let asked = asked.join("\n");
    assert_eq!(answer_count(&asked, PROMPTS[0]), 1, "{asked}");
    let in_thread = in_thread.join("\n");
    for prompt in &PROMPTS[1..] {
        assert_eq!(answer_count(&in_thread, prompt), 1, "{in_thread}");
    }
    assert!(
        answer_at(&in_thread, PROMPTS[1]) < answer_at(&in_thread, PROMPTS[2]),
        "in order: {in_thread}"
    );
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .map(|id| (id.clone(), "answered".to_owned()))
        .collect();
    expected.sort();
    assert_eq!(
        journal_rows(db, ids).await,
        expected,
        "journaled once each, answered"
    );
}

/// The password was never shown; stop cleanly; drop the database.
async fn finish(h: Harness, proxy: FlakyServer, db: TestDatabase) {
    h.assert_never_shown(PASSWORD);
    h.stop().await;
    drop(proxy);
    db.drop_it().await;
}

/// The real binary on Discord with a database of its own behind the
/// proxy, having answered one mention: its thread's id.
async fn discord_answering() -> (TestDatabase, FlakyServer, Chat, u64) {
    let db = TestDatabase::create().await;
    let (proxy, url) = FlakyServer::in_front_of(&db.url).await;
    let chat = Chat::start(Options {
        store: store_lines(&url),
        ..Options::default()
    })
    .await;
    let thread = chat.ask("before the outage");
    chat.done(chat.channel, thread).await;
    (db, proxy, chat, thread)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_messages_posted_while_the_store_is_down_are_answered_once_after_it() {
    let (db, proxy, chat, thread) = discord_answering().await;
    let h = &chat.h;
    h.wait_admin("/readyz", NOTICED_WITHIN, |s, _| s == 200)
        .await;
    let replies_before = bot_messages(&h.sim, thread).len();

    // The database goes away: every connection cut, new ones closed.
    let (noticed, reason) = cut_until_unready(h, || proxy.go_down()).await;

    let mention = chat.ask(PROMPTS[0]);
    let follow_ups = [chat.say(thread, PROMPTS[1]), chat.say(thread, PROMPTS[2])];
    let ids: Vec<String> = [mention, follow_ups[0], follow_ups[1]]
        .iter()
        .map(u64::to_string)
        .collect();
    turned_away(h, &ids).await;
    // Decided and not answered: no thread opened, no reply, no reaction.
    assert!(bot_messages(&h.sim, mention).is_empty());
    assert_eq!(bot_messages(&h.sim, thread).len(), replies_before);
    assert!(h.sim.reactions(chat.channel, mention).is_empty());
    for id in follow_ups {
        assert!(h.sim.reactions(thread, id).is_empty());
    }
    assert_eq!(h.get("/livez").await.0, 200, "a paused intake is alive");
    assert_eq!(h.get("/readyz").await.0, 503, "still down");

    // Back: ready again, and every message of the outage answered once.
    let restored = Instant::now();
    proxy.come_back();
    h.wait_admin("/readyz", BACK_WITHIN, |s, _| s == 200).await;
    let ready_again = restored.elapsed();
    chat.done(chat.channel, mention).await;
    for id in follow_ups {
        chat.done(thread, id).await;
    }
    let answered = restored.elapsed();
    eprintln!(
        "discord: outage -> 503 in {noticed:?} ({reason}); restore -> 200 in {ready_again:?}; \
         restore -> every answer in {answered:?}"
    );

    let asked = chat.reply_texts(mention);
    let in_thread = chat.reply_texts(thread);
    answered_once_in_order(&asked, &in_thread, &db, &ids).await;
    finish(chat.h, proxy, db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_envelopes_are_not_acked_while_the_store_is_down_and_are_answered_once_after_it() {
    let db = TestDatabase::create().await;
    let (proxy, url) = FlakyServer::in_front_of(&db.url).await;
    // Slack retries an envelope nobody acked after a timeout, a few times
    // (here often enough to outlast the outage).
    let sim = SlackSimConfig {
        ack_timeout: Duration::from_secs(3),
        max_retries: 10,
        ..SlackSimConfig::default()
    };
    let chat = SlackChat::start(Options {
        store: store_lines(&url),
        slack_sim: Some(sim),
        ..slack::options()
    })
    .await;
    let h = &chat.h;
    let thread = chat.ask("before the outage");
    chat.done(&thread).await;
    h.wait_admin("/readyz", NOTICED_WITHIN, |s, _| s == 200)
        .await;
    let replies_before = chat.replies(&thread).len();

    // The database stops answering: connections cut, new ones never served.
    let (noticed, reason) = cut_until_unready(h, || proxy.go_silent()).await;

    let sim = chat.sim();
    let delivered_before = sim.deliveries().len();
    let mention = chat.ask(PROMPTS[0]);
    let follow_ups = [chat.say(&thread, PROMPTS[1]), chat.say(&thread, PROMPTS[2])];
    let ids: Vec<String> = [&mention, &follow_ups[0], &follow_ups[1]]
        .iter()
        .map(|ts| chat.id(ts))
        .collect();
    let envelopes: Vec<String> = sim.deliveries()[delivered_before..]
        .iter()
        .map(|d| d.envelope_id.clone())
        .collect();
    assert!(envelopes.len() >= 3, "one envelope per message at least");
    turned_away(h, &ids).await;
    // Slack redelivers what was not acked; the redeliveries meet the same
    // paused intake.
    support::slack::slack_wait(sim, NOTICED_WITHIN, "a redelivery while down", |s| {
        s.deliveries()
            .iter()
            .any(|d| envelopes.contains(&d.envelope_id) && d.retry_attempt > 0)
            .then_some(())
    })
    .await;
    let acked_while_down: Vec<String> = sim
        .acks()
        .into_iter()
        .filter(|a| envelopes.contains(&a.envelope_id))
        .map(|a| a.envelope_id)
        .collect();
    assert_eq!(
        acked_while_down,
        Vec::<String>::new(),
        "nothing acked while down"
    );
    assert!(chat.replies(&mention).is_empty());
    assert_eq!(chat.replies(&thread).len(), replies_before);
    assert_eq!(h.get("/livez").await.0, 200, "a paused intake is alive");

    let restored = Instant::now();
    proxy.come_back();
    h.wait_admin("/readyz", BACK_WITHIN, |s, _| s == 200).await;
    let ready_again = restored.elapsed();
    chat.done(&mention).await;
    for ts in &follow_ups {
        chat.done(ts).await;
    }
    let answered = restored.elapsed();
    // Every envelope of the outage is acked once the store is back (its
    // redelivery journaled, or found a duplicate of what catch-up took).
    support::slack::slack_wait(sim, NOTICED_WITHIN, "every envelope acked", |s| {
        let acks = s.acks();
        envelopes
            .iter()
            .all(|e| acks.iter().any(|a| &a.envelope_id == e && a.at >= restored))
            .then_some(())
    })
    .await;
    eprintln!(
        "slack: outage -> 503 in {noticed:?} ({reason}); restore -> 200 in {ready_again:?}; \
         restore -> every answer in {answered:?}"
    );

    let asked = chat.reply_texts(&mention);
    let in_thread = chat.reply_texts(&thread);
    answered_once_in_order(&asked, &in_thread, &db, &ids).await;
    finish(chat.h, proxy, db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_gateway_session_during_the_outage_catches_up_once_the_store_is_back() {
    let (db, proxy, chat, _) = discord_answering().await;
    let h = &chat.h;
    cut_until_unready(h, || proxy.go_down()).await;

    // The gateway goes too, its session ended: what is posted now reaches
    // switchboard only through the new session's catch-up, whose cursors
    // are in the store.
    h.sim.set_refuse_connections(true);
    h.sim.close_connections(4009);
    let missed = chat.ask("posted while the gateway and the store were down");
    h.sim.set_refuse_connections(false);
    h.logs
        .wait_count(NOTICED_WITHIN, 2, |v| {
            v["message"] == "gateway READY (new session)"
        })
        .await;
    h.logs
        .wait_for(NOTICED_WITHIN, |v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("catch-up waits for the store"))
        })
        .await;
    assert!(bot_messages(&h.sim, missed).is_empty());

    proxy.come_back();
    chat.done(chat.channel, missed).await;
    let asked = chat.reply_texts(missed).join("\n");
    assert_eq!(
        answer_count(&asked, "posted while the gateway and the store were down"),
        1,
        "{asked}"
    );
    finish(chat.h, proxy, db).await;
}
