//! Issue 14, scenario (b): many messages over many threads while the
//! instances of one bot are killed (`kill -9`) and restarted at random, as
//! real processes: three `switchboard run` on one PostgreSQL database and
//! one discord-sim. Every message must be answered exactly once and, in
//! each thread, in the order it was posted.
//!
//! The size is 1,000 messages over 50 threads; the environment variables
//! `SWITCHBOARD_CHAOS_MESSAGES` and `SWITCHBOARD_CHAOS_THREADS` change it
//! (the benchmark's longer run).

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use support::chat::Chat;
use support::postgres::{TestDatabase, store_lines};
use support::{Options, Peer, bot_messages};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);
const INTERRUPTED: &str = "answering again below.*";

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The text of message `m` of thread `t`: unique, and never a prefix of
/// another (the closing `.`).
fn text(t: usize, m: usize) -> String {
    format!("t{t:03}-m{m:04}.")
}

/// The message indices a thread's complete answers cover, in the order the
/// answers were posted; an answer cut short (no echo yet) or marked
/// interrupted is not an answer.
fn answered_in_order(chat: &Chat, thread: u64, t: usize) -> Vec<usize> {
    let prefix = format!("t{t:03}-m");
    let mut order = Vec::new();
    for message in bot_messages(&chat.h.sim, thread) {
        let content = &message.content;
        let Some(echo) = content.find("echo: ") else {
            continue;
        };
        if content.ends_with(INTERRUPTED) {
            continue;
        }
        let mut rest = &content[echo..];
        while let Some(at) = rest.find(&prefix) {
            let digits = &rest[at + prefix.len()..];
            if let Some(m) = digits.get(..4).and_then(|d| d.parse::<usize>().ok()) {
                order.push(m);
            }
            rest = &rest[at + prefix.len()..];
        }
    }
    order
}

/// The instance holding the Discord shard now, by /status: 0 = the
/// harness's process, i + 1 = `peers[i]`.
async fn holder(chat: &Chat, peers: &[Peer]) -> Option<usize> {
    let holds = |status: &Value| status["cluster"]["leases"]["discord:shard:0"].is_i64();
    if holds(&chat.h.get_json("/status").await.1) {
        return Some(0);
    }
    for (i, peer) in peers.iter().enumerate() {
        if holds(&peer.get_json("/status").await.1) {
            return Some(i + 1);
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_answered_once_in_order_while_instances_are_killed_at_random() {
    let messages = knob("SWITCHBOARD_CHAOS_MESSAGES", 1_000);
    let threads = knob("SWITCHBOARD_CHAOS_THREADS", 50).max(1);
    let per_thread = messages.div_ceil(threads);
    let db = TestDatabase::create().await;
    let url = db.url.clone();
    let mut chat = Chat::start(Options {
        store: store_lines(&url),
        cluster: "lease_ttl = \"2s\"",
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"300ms\"\nmax_queued = 100",
        agent: "max_sessions = 60",
        agent_args: &["--echo", "--echo-delay-ms", "400", "--chunk-delay-ms", "0"],
        ..Options::default()
    })
    .await;
    chat.h
        .logs
        .wait_message(10 * SECOND, "holding the Discord shard")
        .await;
    let mut peers = vec![chat.h.spawn_peer().await, chat.h.spawn_peer().await];

    // One mention opens each thread.
    let mut roots = Vec::new();
    for t in 0..threads {
        roots.push(chat.ask(&text(t, 0)));
    }
    let started = Instant::now();
    let mut rng_state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next_random = move |n: usize| {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        (rng_state % n as u64) as usize
    };
    let mut kills = 0;
    let mut next_kill = Instant::now() + 10 * SECOND;
    let expected = |t: usize| -> Vec<usize> {
        (0..per_thread)
            .filter(|m| t * per_thread + m < messages)
            .collect()
    };
    let all_answered = |chat: &Chat| {
        roots
            .iter()
            .enumerate()
            .all(|(t, &root)| answered_in_order(chat, root, t).len() >= expected(t).len())
    };
    // The follow-ups, round robin over the threads, while instances die;
    // then the kills go on (at most `MAX_KILLS`) until every message has
    // its answer, within a deadline.
    let max_kills = knob("SWITCHBOARD_CHAOS_KILLS", 5);
    let mut m = 1;
    let mut next_round = Instant::now();
    let deadline = Instant::now() + knob("SWITCHBOARD_CHAOS_DEADLINE_S", 240) as u32 * SECOND;
    loop {
        if m < per_thread && Instant::now() >= next_round {
            // One message per thread every 5 s: within Discord's global
            // budget of 50 calls a second (each answer costs a post, an
            // edit or two and its reactions); 1,000 over 50 threads take
            // about 100 s, across the kills.
            next_round = Instant::now() + Duration::from_millis(5_000);
            for (t, &root) in roots.iter().enumerate() {
                if t * per_thread + m < messages {
                    chat.say(root, &text(t, m));
                }
            }
            m += 1;
        } else if m >= per_thread && all_answered(&chat) {
            break;
        }
        if Instant::now() >= deadline {
            for message in bot_messages(&chat.h.sim, roots[0]) {
                eprintln!("thread 0: {:?}", message.content);
            }
        }
        assert!(
            Instant::now() < deadline,
            "not every message was answered within the deadline; missing: {:?}",
            roots
                .iter()
                .enumerate()
                .filter_map(|(t, &root)| {
                    let order = answered_in_order(&chat, root, t);
                    (order.len() < expected(t).len()).then_some((t, order))
                })
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(150)).await; // the loop's tick
        if kills < max_kills && Instant::now() >= next_kill {
            // Mostly the holder (a failover), sometimes a standby.
            let victim = if next_random(3) == 0 {
                next_random(3)
            } else {
                holder(&chat, &peers).await.unwrap_or(0)
            };
            if victim == 0 {
                chat.h.kill9().await;
                chat.h.restart().await;
            } else {
                peers[victim - 1].kill9().await;
                peers[victim - 1] = chat.h.spawn_peer().await;
            }
            kills += 1;
            // A kill every 15-20 s: each failover takes up to the ttl (2 s)
            // and then the backlog; a message interrupted at three kills in
            // a row is given up by design (two tries, then the user is told).
            next_kill =
                Instant::now() + Duration::from_millis(15_000 + 1_000 * next_random(6) as u64);
        }
    }
    let posted_in = started.elapsed();
    // Late duplicates would come within a few edit intervals.
    tokio::time::sleep(2 * SECOND).await;
    let mut problems = HashMap::new();
    for (t, &root) in roots.iter().enumerate() {
        let order = answered_in_order(&chat, root, t);
        if order != expected(t) {
            problems.insert(t, order);
        }
    }
    eprintln!(
        "chaos: {messages} messages over {threads} threads, {kills} kills, all answered after {posted_in:?}"
    );
    assert!(kills >= max_kills.min(3), "only {kills} kills happened");
    assert!(
        problems.is_empty(),
        "threads whose answers are not each message once, in order: {problems:?}"
    );
    for peer in peers {
        peer.stop(10 * SECOND).await;
    }
    chat.h.stop().await;
    db.drop_it().await;
}
