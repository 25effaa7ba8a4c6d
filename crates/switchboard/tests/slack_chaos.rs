//! Issue 14, scenario (b) on Slack: many messages over many threads while
//! the instances of one bot are killed (`kill -9`) and restarted at
//! random, as real processes: three `switchboard run` with two Socket Mode
//! connections each on one slack-sim (envelopes spread round robin over
//! every open connection, an unacked one redelivered after 3 s) and one
//! PostgreSQL database. Each thread has one owner; a dead owner's threads
//! are taken up by the others. Every message must be answered exactly once.
//!
//! Each thread is a conversation: its next message is posted once the
//! previous one is answered (Slack redelivers an envelope a dead instance
//! never acked seconds later, so two messages posted back to back could
//! reach the bot in either order; a person waits for the answer). The
//! size is 600 messages over 20 threads, with a kill every 4-6 s; `SWITCHBOARD_SLACK_CHAOS_MESSAGES`,
//! `_THREADS` and `_KILLS` change it.

mod support;

use std::time::Duration;

use slack_sim::SlackSimConfig;
use support::postgres::{TestDatabase, store_lines};
use support::slack::{self, SlackChat};
use support::{Options, Peer};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The text of message `m` of thread `t`: unique, never a prefix of
/// another (the closing `.`).
fn text(t: usize, m: usize) -> String {
    format!("t{t:03}-m{m:04}.")
}

/// How many times the thread's answers echo `t`'s message `m` (the echo
/// part only; answers marked interrupted do not count).
fn answers(chat: &SlackChat, root: &str, t: usize, m: usize) -> usize {
    let wanted = text(t, m);
    chat.reply_texts(root)
        .iter()
        .filter(|reply| !reply.contains("answering again below"))
        .filter_map(|reply| reply.find("echo: ").map(|at| &reply[at..]))
        .map(|echo| echo.matches(&wanted).count())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_slack_message_is_answered_once_while_instances_are_killed_at_random() {
    let messages = knob("SWITCHBOARD_SLACK_CHAOS_MESSAGES", 600);
    let threads = knob("SWITCHBOARD_SLACK_CHAOS_THREADS", 20).max(1);
    let max_kills = knob("SWITCHBOARD_SLACK_CHAOS_KILLS", 5);
    let per_thread = messages.div_ceil(threads);
    let db = TestDatabase::create().await;
    let mut chat = SlackChat::start(Options {
        store: store_lines(&db.url),
        cluster: "lease_ttl = \"2s\"",
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"300ms\"\nmax_queued = 100",
        agent: "max_sessions = 60",
        agent_args: &["--echo", "--echo-delay-ms", "500", "--chunk-delay-ms", "0"],
        slack: "allow_all_users = true\nconnections = 2",
        slack_sim: Some(SlackSimConfig {
            max_retries: 10,
            ..SlackSimConfig::default()
        }),
        ..slack::options()
    })
    .await;
    let mut peers: Vec<Peer> = Vec::new();
    for _ in 0..2 {
        peers.push(slack::spawn_live_peer(&chat.h, 2).await);
    }

    let started = Instant::now();
    let roots: Vec<String> = (0..threads).map(|t| chat.ask(&text(t, 0))).collect();
    // Each thread's message last posted.
    let mut last: Vec<usize> = vec![0; threads];
    let mut rng_state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next_random = move |n: usize| {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        (rng_state % n as u64) as usize
    };
    let mut kills = 0;
    let mut next_kill = Instant::now() + 3 * SECOND;
    let deadline = Instant::now() + knob("SWITCHBOARD_SLACK_CHAOS_DEADLINE_S", 240) as u32 * SECOND;
    loop {
        // Each thread: once its last message is answered, the next.
        let mut done = true;
        for (t, root) in roots.iter().enumerate() {
            let m = last[t];
            if t * per_thread + m >= messages {
                continue;
            }
            if answers(&chat, root, t, m) == 0 {
                done = false;
                continue;
            }
            let next = m + 1;
            if next < per_thread && t * per_thread + next < messages {
                chat.say(root, &text(t, next));
                last[t] = next;
                done = false;
            }
        }
        if done {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not every message was answered within the deadline; waiting: {:?}",
            roots
                .iter()
                .enumerate()
                .filter(|(t, root)| answers(&chat, root, *t, last[*t]) == 0)
                .map(|(t, _)| (t, last[t]))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await; // the loop's tick
        if kills < max_kills && Instant::now() >= next_kill {
            let victim = next_random(3);
            if victim == 0 {
                chat.h.kill9().await;
                chat.h.restart().await;
            } else {
                peers[victim - 1].kill9().await;
                peers[victim - 1] = chat.h.spawn_peer().await;
            }
            kills += 1;
            next_kill =
                Instant::now() + Duration::from_millis(6_000 + 1_000 * next_random(5) as u64);
        }
    }
    let answered_in = started.elapsed();
    // Late duplicates would come within a few edit intervals.
    tokio::time::sleep(2 * SECOND).await;
    let mut problems = Vec::new();
    for (t, root) in roots.iter().enumerate() {
        for m in (0..per_thread).filter(|m| t * per_thread + m < messages) {
            let count = answers(&chat, root, t, m);
            if count != 1 {
                problems.push((t, m, count));
            }
        }
    }
    eprintln!(
        "slack chaos: {messages} messages over {threads} threads, {kills} kills, all answered after {answered_in:?}"
    );
    assert!(kills >= max_kills.min(3), "only {kills} kills happened");
    // On failure: each problem thread's replies and journal rows, to tell
    // a reply posted but never recorded (a kill between the post and its
    // id's write) from anything else.
    for &(t, _, _) in &problems {
        for reply in chat.replies(&roots[t]) {
            eprintln!("t{t} reply {}: {:?}", reply.ts, reply.text);
        }
        let mut conn = db.connect().await;
        let rows: Vec<(String, String, Option<String>)> = sqlx::query_as(
            "SELECT message_id, state, reply_message_ids FROM journal WHERE thread_id LIKE $1 \
             ORDER BY received_at",
        )
        .bind(format!("%{}", roots[t]))
        .fetch_all(&mut conn)
        .await
        .expect("the journal's rows of a problem thread");
        for row in rows {
            eprintln!("t{t} journal {row:?}");
        }
    }
    assert!(
        problems.is_empty(),
        "messages not answered exactly once (thread, message, answers): {problems:?}"
    );
    for peer in peers {
        peer.stop(10 * SECOND).await;
    }
    chat.h.stop().await;
    db.drop_it().await;
}
