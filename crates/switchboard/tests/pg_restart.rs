//! Issue 14, scenario (d): the PostgreSQL server restarts mid-run under
//! several instances of one bot. Three `switchboard run` processes share
//! one discord-sim and a PostgreSQL server of the test's own
//! (`support::private_postgres`), which the test really stops (a fast
//! shutdown: every connection terminated, new ones refused) and starts
//! again a few seconds later.
//!
//! While it is down every instance's `/readyz` is 503 naming the store (a
//! standby that cannot reach the store could not take the shard over
//! either); the holder cannot renew the shard's lease, so it stops acting
//! on it and closes its gateway resumably, and nobody holds the shard.
//! Once the server is back every instance is ready again, exactly one
//! holds `discord:shard:0` and it RESUMEs the saved session (no new
//! identify), and every message posted before, during and after the
//! outage is answered exactly once, in order in each thread.

mod support;

use std::time::Duration;

use serde_json::Value;
use sqlx::PgConnection;
use support::chat::Chat;
use support::postgres::{PASSWORD, store_lines};
use support::private_postgres::PrivatePostgres;
use support::{Logs, Options, Peer, bot_messages};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
/// How long the server stays down: longer than the store probe (every
/// 2 s) needs to notice, and than the shard's lease lasts (`lease_ttl`
/// 2 s). Every instance's `/readyz` must turn 503 within it.
const OUTAGE: Duration = Duration::from_secs(5);
/// From the start to an instance's `/readyz` 200.
const BACK_WITHIN: Duration = Duration::from_secs(15);
/// The lease every instance's config gives the shard.
const CLUSTER: &str = "lease_ttl = \"2s\"";
/// The holder's line when its lease could not be renewed in time.
const LEASE_LOST: &str = "lease not renewed in time (database unreachable or this process stalled); stopped acting on it before it can expire";
const INTERRUPTED: &str = "answering again below.*";

/// One of the bot's instances as the test reaches it.
struct Instance {
    name: &'static str,
    admin: String,
    logs: Logs,
}

/// A GET on an instance's admin API: (status, body).
async fn get(instance: &Instance, path: &str) -> (u16, String) {
    switchboard::install_crypto_provider();
    let response = reqwest::get(format!("{}{path}", instance.admin))
        .await
        .unwrap_or_else(|err| panic!("{}'s admin API answers {path}: {err}", instance.name));
    let status = response.status().as_u16();
    (status, response.text().await.unwrap_or_default())
}

/// Poll every instance's `/readyz` until each has answered `pred` once,
/// within `limit`: for each, how long after `since` that took, and the body.
async fn wait_readiness(
    instances: &[Instance],
    since: Instant,
    limit: Duration,
    pred: impl Fn(u16, &str) -> bool,
) -> Vec<(Duration, String)> {
    let deadline = Instant::now() + limit;
    let mut seen: Vec<Option<(Duration, String)>> = vec![None; instances.len()];
    let mut last = vec![(0, String::new()); instances.len()];
    while seen.iter().any(Option::is_none) {
        for (i, instance) in instances.iter().enumerate() {
            if seen[i].is_some() {
                continue;
            }
            let (status, body) = get(instance, "/readyz").await;
            if pred(status, &body) {
                seen[i] = Some((since.elapsed(), body.clone()));
            }
            last[i] = (status, body);
        }
        assert!(
            Instant::now() < deadline || seen.iter().all(Option::is_some),
            "not every instance's /readyz matched within {limit:?}; last answers: {last:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen.into_iter().map(Option::unwrap).collect()
}

/// The instances (by index) whose /status says they hold the shard, with
/// their fencing token, and every instance's id.
async fn shard_holders(instances: &[Instance]) -> (Vec<(usize, i64)>, Vec<String>) {
    let mut holders = Vec::new();
    let mut ids = Vec::new();
    for (i, instance) in instances.iter().enumerate() {
        let (_, body) = get(instance, "/status").await;
        let status: Value = serde_json::from_str(&body).expect("/status is JSON");
        if let Some(token) = status["cluster"]["leases"]["discord:shard:0"].as_i64() {
            holders.push((i, token));
        }
        ids.push(
            status["cluster"]["instance"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    (holders, ids)
}

/// The text of message `m` in thread `t`: unique, never a prefix of
/// another (the closing `.`).
fn text(t: usize, m: usize) -> String {
    format!("t{t}-m{m:02}.")
}

/// The messages of one thread: its root (a mention in the channel) and
/// what was posted in it, in order.
struct Thread {
    t: usize,
    root: u64,
    /// (message id, m) in the order posted; the root is m = 0.
    posted: Vec<(u64, usize)>,
}

impl Thread {
    fn open(chat: &Chat, t: usize) -> Thread {
        let root = chat.ask(&text(t, 0));
        Thread {
            t,
            root,
            posted: vec![(root, 0)],
        }
    }

    fn follow_up(&mut self, chat: &Chat) -> u64 {
        let m = self.posted.len();
        let id = chat.say(self.root, &text(self.t, m));
        self.posted.push((id, m));
        id
    }

    /// Wait until every message posted has its ✅.
    async fn all_done(&self, chat: &Chat) {
        for &(id, m) in &self.posted {
            let channel = if m == 0 { chat.channel } else { self.root };
            chat.done(channel, id).await;
        }
    }

    /// The message numbers the thread's complete answers echo, in the
    /// order the answers were posted (an answer marked interrupted, or cut
    /// short before its echo, answers nothing).
    fn answered(&self, chat: &Chat) -> Vec<usize> {
        let prefix = format!("t{}-m", self.t);
        let mut order = Vec::new();
        for message in bot_messages(&chat.h.sim, self.root) {
            let content = &message.content;
            let Some(echo) = content.find("echo: ") else {
                continue;
            };
            if content.ends_with(INTERRUPTED) {
                continue;
            }
            let mut rest = &content[echo..];
            while let Some(at) = rest.find(&prefix) {
                rest = &rest[at + prefix.len()..];
                if let Some(m) = rest.get(..2).and_then(|d| d.parse().ok()) {
                    order.push(m);
                }
            }
        }
        order
    }
}

/// Every thread's complete answers echo each message posted in it once,
/// in the order posted.
fn answered_once_in_order(chat: &Chat, threads: &[Thread]) {
    let mut problems = Vec::new();
    for thread in threads {
        let expected: Vec<usize> = thread.posted.iter().map(|&(_, m)| m).collect();
        let answered = thread.answered(chat);
        if answered != expected {
            problems.push((thread.t, expected, answered));
        }
    }
    assert!(
        problems.is_empty(),
        "threads not answered each message once, in order (t, posted, answered): {problems:?}"
    );
}

/// Every message posted is journaled once, `answered` (a row left behind
/// in another state would be answered again at the next take-over). On
/// failure the instances' logs are printed (INFO and up).
async fn journaled_answered(db: &mut PgConnection, threads: &[Thread], instances: &[Instance]) {
    let ids: Vec<String> = threads
        .iter()
        .flat_map(|t| t.posted.iter().map(|(id, _)| id.to_string()))
        .collect();
    let mut rows: Vec<(String, String)> =
        sqlx::query_as("SELECT message_id, state FROM journal WHERE message_id = ANY($1)")
            .bind(&ids)
            .fetch_all(db)
            .await
            .unwrap();
    rows.sort();
    let mut expected: Vec<(String, String)> = ids
        .iter()
        .map(|id| (id.clone(), "answered".to_owned()))
        .collect();
    expected.sort();
    if rows != expected {
        for instance in instances {
            for line in instance.logs.json() {
                if line["level"] != "DEBUG" && line["level"] != "TRACE" {
                    eprintln!("{}: {line}", instance.name);
                }
            }
        }
    }
    assert_eq!(rows, expected, "each message journaled once, answered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_drops_readiness_hands_the_shard_over_by_resume_and_loses_nothing() {
    let test_started = Instant::now();
    let mut server = PrivatePostgres::create().await;
    let url = server.url.clone();
    let mut chat = Chat::start(Options {
        store: store_lines(&url),
        cluster: CLUSTER,
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"300ms\"",
        agent_args: &["--echo", "--chunk-delay-ms", "0"],
        ..Options::default()
    })
    .await;
    chat.h
        .logs
        .wait_message(10 * SECOND, "holding the Discord shard")
        .await;
    let peers: Vec<Peer> = vec![chat.h.spawn_peer().await, chat.h.spawn_peer().await];
    for peer in &peers {
        peer.logs
            .wait_message(
                10 * SECOND,
                "standby: another instance holds the Discord shard",
            )
            .await;
    }
    let instances = [
        Instance {
            name: "the first instance (holder)",
            admin: chat.h.admin.clone(),
            logs: chat.h.logs.clone(),
        },
        Instance {
            name: "standby 1",
            admin: peers[0].admin.clone(),
            logs: peers[0].logs.clone(),
        },
        Instance {
            name: "standby 2",
            admin: peers[1].admin.clone(),
            logs: peers[1].logs.clone(),
        },
    ];
    eprintln!(
        "pg restart: three instances up in {:?}",
        test_started.elapsed()
    );
    let holder = &instances[0];
    let (holders, _) = shard_holders(&instances).await;
    assert_eq!(holders.len(), 1, "{holders:?}");
    let (first_holder, first_token) = holders[0];
    assert_eq!(first_holder, 0, "the first instance holds the shard");

    // Before: three threads, each a mention and a follow-up, answered.
    let mut threads: Vec<Thread> = (0..3).map(|t| Thread::open(&chat, t)).collect();
    for thread in &threads {
        thread.all_done(&chat).await;
    }
    for thread in &mut threads {
        thread.follow_up(&chat);
    }
    for thread in &threads {
        thread.all_done(&chat).await;
    }
    wait_readiness(&instances, Instant::now(), BACK_WITHIN, |s, _| s == 200).await;
    let identifies_before = chat.h.sim.identifies().len();
    let resumes_before = chat.h.sim.resumes().len();

    // The server stops for OUTAGE. A follow-up at once reaches the
    // holder's gateway while the store cannot take it.
    let stopped = Instant::now();
    server.stop().await;
    threads[0].follow_up(&chat);
    // Within the outage every instance must say so, and the holder, unable
    // to renew the shard's lease, must stop acting on it.
    let (unready, lease_lost) = tokio::join!(
        wait_readiness(&instances, stopped, OUTAGE, |s, body| {
            s == 503 && body.contains("store")
        }),
        async {
            holder.logs.wait_message(OUTAGE, LEASE_LOST).await;
            stopped.elapsed()
        }
    );
    // Posted while nobody holds the shard: the session keeps them for the
    // next RESUME. Follow-ups in every thread, and a new thread.
    threads[0].follow_up(&chat);
    for thread in &mut threads {
        thread.follow_up(&chat);
    }
    threads.push(Thread::open(&chat, 3));
    tokio::time::sleep_until(stopped + OUTAGE).await; // the outage's length
    for (instance, (_, body)) in instances.iter().zip(&unready) {
        let (status, _) = get(instance, "/readyz").await;
        assert_eq!(
            status, 503,
            "{} while the store is down ({body})",
            instance.name
        );
    }
    assert!(
        bot_messages(&chat.h.sim, threads[3].root).is_empty(),
        "nothing is answered while the store is down"
    );
    let asked = Instant::now();
    let (holders, _) = shard_holders(&instances).await;
    assert!(
        asked.elapsed() < 3 * SECOND,
        "/status answers at once while the store is down (three asked in {:?})",
        asked.elapsed()
    );
    assert!(
        holders.is_empty(),
        "nobody holds the shard while the store is down: {holders:?}"
    );

    // The server is back: every instance ready again, one of them holding
    // the shard, resumed.
    let restarted = Instant::now();
    server.start().await;
    let ready = wait_readiness(&instances, restarted, BACK_WITHIN, |s, _| s == 200).await;
    let resumed = chat
        .h
        .sim
        .wait_until(BACK_WITHIN, |s| {
            s.resumes()[resumes_before..]
                .iter()
                .any(|r| r.accepted)
                .then(|| restarted.elapsed())
        })
        .await
        .expect("the shard's session was resumed after the restart");

    // After: a follow-up in every thread and a new thread.
    for thread in &mut threads {
        thread.follow_up(&chat);
    }
    threads.push(Thread::open(&chat, 4));
    for thread in &threads {
        thread.all_done(&chat).await;
    }
    let answered = restarted.elapsed();

    let (holders, ids) = shard_holders(&instances).await;
    assert_eq!(
        holders.len(),
        1,
        "exactly one instance holds the shard: {holders:?}"
    );
    let mut db = server.connect().await;
    let lease_holder: String =
        sqlx::query_scalar("SELECT holder FROM leases WHERE name = 'discord:shard:0'")
            .fetch_one(&mut db)
            .await
            .unwrap();
    let (holder_now, token_now) = holders[0];
    assert_eq!(lease_holder, ids[holder_now], "the database agrees");
    assert!(
        token_now > first_token,
        "held again as a new tenure: token {token_now} after {first_token}"
    );
    assert_eq!(
        chat.h.sim.identifies().len(),
        identifies_before,
        "the shard was resumed, never identified anew"
    );
    eprintln!(
        "pg restart: 503 after {:?}; the holder's lease lost after {lease_lost:?}; \
         200 after the start in {:?}; RESUMED {resumed:?} after the start (by {}); \
         every answer {answered:?} after the start",
        unready.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        ready.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        instances[holder_now].name,
    );

    // Every instance stops cleanly: after that no late answer can come.
    let stopping = Instant::now();
    for peer in peers {
        peer.stop(10 * SECOND).await;
    }
    chat.h.signal(libc::SIGTERM);
    assert!(chat.h.wait_exit(10 * SECOND).await.success());
    eprintln!(
        "pg restart: every instance stopped in {:?}",
        stopping.elapsed()
    );
    chat.h.assert_token_never_shown().await;
    chat.h.assert_never_shown(PASSWORD);
    answered_once_in_order(&chat, &threads);
    journaled_answered(&mut db, &threads, &instances).await;
    for instance in &instances {
        let panics: Vec<String> = instance
            .logs
            .all()
            .into_iter()
            .filter(|l| l.contains("panicked"))
            .collect();
        assert!(panics.is_empty(), "{} panicked: {panics:#?}", instance.name);
    }
    drop(db);
    eprintln!("pg restart: the test took {:?}", test_started.elapsed());
}

/// An answer that finishes while the server is down cannot record its end
/// then; it is recorded when the server is back, and never given again
/// (the instance that takes the shard back would otherwise find it begun
/// and unfinished, mark it interrupted and answer it a second time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_finished_while_the_server_is_down_is_recorded_when_it_returns_never_given_twice()
{
    let mut server = PrivatePostgres::create().await;
    let url = server.url.clone();
    // A ttl long enough for the answer to end while the lease may still
    // be acted on (8 s after its last renewal).
    let chat = Chat::start(Options {
        store: store_lines(&url),
        cluster: "lease_ttl = \"10s\"",
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"300ms\"",
        ..Options::default()
    })
    .await;
    chat.h
        .logs
        .wait_message(10 * SECOND, "holding the Discord shard")
        .await;
    let asked = chat.ask("[[slow:200]][[long:600]]");
    chat.wait_streaming(asked).await;
    server.stop().await;
    // The answer goes on over REST and ends (its ✅) while the store is
    // down; then the lease, not renewed, is given up.
    chat.done(chat.channel, asked).await;
    chat.h.logs.wait_message(15 * SECOND, LEASE_LOST).await;
    server.start().await;
    let instance = Instance {
        name: "the instance",
        admin: chat.h.admin.clone(),
        logs: chat.h.logs.clone(),
    };
    wait_readiness(
        std::slice::from_ref(&instance),
        Instant::now(),
        BACK_WITHIN,
        |s, _| s == 200,
    )
    .await;
    let mut db = server.connect().await;
    let deadline = Instant::now() + BACK_WITHIN;
    loop {
        let state: String = sqlx::query_scalar("SELECT state FROM journal WHERE message_id = $1")
            .bind(asked.to_string())
            .fetch_one(&mut db)
            .await
            .unwrap();
        if state == "answered" {
            break;
        }
        assert!(Instant::now() < deadline, "never recorded: {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The shard is held again (a take-over that found the message), and a
    // new message is answered: anything owed would have been given by now.
    chat.h
        .logs
        .wait_count(BACK_WITHIN, 2, |v| {
            v["message"] == "holding the Discord shard"
        })
        .await;
    let after = chat.ask("after the restart");
    chat.done(chat.channel, after).await;
    let texts = chat.reply_texts(asked);
    assert!(
        !texts.iter().any(|t| t.ends_with(INTERRUPTED)),
        "marked interrupted: {texts:#?}"
    );
    let answers: Vec<&String> = texts.iter().filter(|t| t.starts_with("session ")).collect();
    assert_eq!(answers.len(), 1, "answered once: {texts:#?}");
    // The agent was not asked again (a second turn would replace the
    // answer in place under the same post keys, or post it anew from
    // another instance).
    assert!(
        answers[0].contains(" turn 1:"),
        "the agent answered a second time: {texts:#?}"
    );
    assert_eq!(
        chat.h.logs.count_message(
            "answering a journaled message left unanswered (a restart, or a thread taken over)"
        ),
        0
    );
    drop(db);
    chat.h.stop().await;
}
