//! Several instances of one bot on one PostgreSQL store (issue 14), as real
//! processes: one discord-sim, one PostgreSQL database, two `switchboard
//! run` processes on the same config. One holds the Discord shard, the
//! other stands by; when the holder dies, the standby takes the lease and
//! RESUMEs the holder's session from the store (no new identify), so what
//! was posted in the gap is replayed; the threads the holder owned are
//! taken up once their leases expire, and the answer cut short is marked
//! interrupted and answered once.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::chat::Chat;
use support::cluster::{
    TAKEN_UP, TTL, discord_thread_owner, holder, marked_interrupted, several, standby,
};
use support::postgres::TestDatabase;
use support::{LOG_CATCH_UP, Options, Peer, bot_messages, joined};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn options(url: &str) -> Options {
    several(url, Options::default())
}

/// The bot on two instances: the harness's process holds the shard, the
/// peer stands by.
async fn holder_and_standby(options: Options) -> (Chat, Peer) {
    let chat = holder(options).await;
    let standby = standby(&chat).await;
    (chat, standby)
}

/// A long answer, streamed slowly: still streaming while a standby starts
/// (about 30 parts, 300 ms apart).
const LONG_SLOW: &str = "[[slow:300]][[long:3000]]";

/// The leases an instance's /status says it holds.
fn leases(status: &Value) -> Vec<String> {
    status["cluster"]["leases"]
        .as_object()
        .map(|leases| leases.keys().cloned().collect())
        .unwrap_or_default()
}

/// How many of the bot's messages in `thread` answer `prompt` (the demo
/// agent's header repeats the prompt).
fn answers_to(chat: &Chat, thread: u64, prompt: &str) -> usize {
    chat.reply_texts(thread)
        .iter()
        .filter(|text| text.contains(&format!("> {prompt}")) || text.contains(prompt))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standby_resumes_the_shard_within_the_ttl_when_the_holder_is_killed_mid_answer() {
    let db = TestDatabase::create().await;
    let url = db.url.clone();
    // Alone, the holder owns the threads it is asked in (ADR 22: a new
    // thread goes to the least loaded instance alive), so the answer in
    // progress is the holder's.
    let mut chat = holder(options(&url)).await;
    let first = chat.ask("hello");
    chat.done(chat.channel, first).await;
    let asked = chat.ask(LONG_SLOW);
    chat.wait_streaming(asked).await;
    let standby = standby(&chat).await;
    let (_, status) = chat.h.get_json("/status").await;
    assert_eq!(leases(&status), ["discord:shard:0"], "{status}");
    assert_eq!(status["cluster"]["threads_owned"], 2, "{status}");
    assert_eq!(
        discord_thread_owner(&db, asked).await.as_deref(),
        status["cluster"]["instance"].as_str(),
        "the holder owns the thread"
    );
    let (ready, status) = standby.get_json("/readyz").await;
    assert_eq!(ready, 200, "a standby is ready: {status}");
    let (_, status) = standby.get_json("/status").await;
    assert!(leases(&status).is_empty(), "{status}");
    assert_eq!(status["connections"][0]["state"], "standby", "{status}");

    // Killed mid-answer.
    let identifies_before = chat.h.sim.identifies().len();
    chat.h.kill9().await;
    let killed = Instant::now();
    // Posted while no instance holds the shard: the session buffers it.
    let in_gap = chat.say(first, "posted in the gap");

    standby
        .logs
        .wait_message(
            TTL + 8 * SECOND,
            "gateway RESUMED (session taken over from another instance)",
        )
        .await;
    let took = killed.elapsed();
    eprintln!("failover: holder killed -> RESUMED in {took:?}");
    assert!(
        took < TTL + 2 * SECOND,
        "the standby resumed after {took:?}"
    );
    assert_eq!(
        chat.h.sim.identifies().len(),
        identifies_before,
        "a failover RESUMEs; it never identifies anew"
    );
    assert!(chat.h.sim.resumes().iter().any(|r| r.accepted));

    // The gap's message is replayed and answered once; the answer cut short
    // is marked interrupted and answered again, once, by the instance that
    // took its thread up.
    chat.done(first, in_gap).await;
    chat.done(chat.channel, asked).await;
    standby.logs.wait_message(LOG_CATCH_UP, TAKEN_UP).await;
    let texts = chat.reply_texts(asked);
    assert_eq!(marked_interrupted(&texts), 1, "{texts:#?}");
    assert!(
        joined(&texts).contains(switchboard::demo_agent::script::long_text(3000).trim_end()),
        "answered in full after the failover: {texts:#?}"
    );
    assert_eq!(answers_to(&chat, first, "posted in the gap"), 1);

    // The new holder serves new mentions.
    let after = chat.ask("after the failover");
    chat.done(chat.channel, after).await;
    let (_, status) = standby.get_json("/status").await;
    assert!(
        leases(&status).contains(&"discord:shard:0".to_owned()),
        "{status}"
    );
    standby.stop(5 * SECOND).await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_shutting_down_hands_the_shard_over_at_once() {
    let db = TestDatabase::create().await;
    let url = db.url.clone();
    let (mut chat, standby) = holder_and_standby(Options {
        cluster: "lease_ttl = \"30s\"",
        ..options(&url)
    })
    .await;
    let first = chat.ask("hello");
    chat.done(chat.channel, first).await;
    let identifies_before = chat.h.sim.identifies().len();
    let stopped = Instant::now();
    chat.h.signal(libc::SIGTERM);
    assert!(chat.h.wait_exit(10 * SECOND).await.success());
    standby
        .logs
        .wait_message(
            10 * SECOND,
            "gateway RESUMED (session taken over from another instance)",
        )
        .await;
    let took = stopped.elapsed();
    eprintln!("hand-over on SIGTERM: {took:?}");
    assert!(
        took < 5 * SECOND,
        "the lease was released, not waited out (ttl 30 s): {took:?}"
    );
    assert_eq!(chat.h.sim.identifies().len(), identifies_before);
    let follow_up = chat.say(first, "still there?");
    chat.done(first, follow_up).await;
    assert_eq!(answers_to(&chat, first, "still there?"), 1);
    standby.stop(5 * SECOND).await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_paused_past_its_lease_stops_acting_when_it_wakes_and_nothing_is_answered_twice() {
    let db = TestDatabase::create().await;
    let url = db.url.clone();
    // A long grace: stopping its threads alone would let the woken holder
    // stream on for 10 s; it must be refused at once. Alone, the holder
    // owns the thread it is asked in.
    let chat = holder(Options {
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"10s\"",
        ..options(&url)
    })
    .await;
    let asked = chat.ask(LONG_SLOW);
    chat.wait_streaming(asked).await;
    let standby = standby(&chat).await;
    let cut_short = bot_messages(&chat.h.sim, asked)[0].id;
    chat.h.signal(libc::SIGSTOP);
    standby
        .logs
        .wait_message(
            TTL + 8 * SECOND,
            "gateway RESUMED (session taken over from another instance)",
        )
        .await;
    chat.done(chat.channel, asked).await;
    let answered = chat.reply_texts(asked);

    // The paused holder wakes: it must stop, not finish its answer.
    chat.h.signal(libc::SIGCONT);
    chat.h
        .logs
        .wait_message(
            5 * SECOND,
            "another instance holds this platform's shard now; the threads stay with their owners",
        )
        .await;
    chat.h
        .logs
        .wait_message(
            5 * SECOND,
            "threads no longer this instance's (taken over or expired); stopped acting on them",
        )
        .await;
    chat.h
        .logs
        .wait_for(5 * SECOND, |v| {
            v["message"] == "standby: another instance holds the Discord shard"
        })
        .await;
    // Time for any late post or edit of the woken holder to arrive (the
    // measured span: its agent kept streaming while it was paused).
    tokio::time::sleep(2 * SECOND).await;
    let messages = bot_messages(&chat.h.sim, asked);
    let first = messages.iter().find(|m| m.id == cut_short).unwrap();
    assert!(
        first.content.ends_with("answering again below.*"),
        "the woken holder edited the reply the new holder marked: {}",
        first.content
    );
    assert_eq!(
        chat.reply_texts(asked),
        answered,
        "the woken holder posted or edited after it lost the shard"
    );
    let complete = answered
        .iter()
        .filter(|t| t.starts_with("session "))
        .count();
    assert_eq!(complete, 2, "one cut short, one full answer: {answered:#?}");
    let mut conn = db.connect().await;
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM journal")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(states, ["answered"], "a late write changed the journal");
    drop(conn);
    standby.stop(5 * SECOND).await;
    chat.h.stop().await;
    db.drop_it().await;
}
