//! Driving the simulated users: open threads with a mention, post
//! follow-ups, and see a message answered when the bot's "done" (or
//! "error") reaction lands on it.
//!
//! Waits wake on simulator changes but look at most once per millisecond,
//! so the watching costs the benchmark process little CPU (it shares the
//! machine with the broker). Every wait has a deadline.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use super::broker::Broker;

pub const DONE: &str = "✅";
pub const ERROR: &str = "❌";
const LOOK_EVERY: Duration = Duration::from_millis(1);

/// Whether the bot has finished with message `id` in `channel`: `Some(ok)`.
pub fn answered(b: &Broker, channel: u64, id: u64) -> Option<bool> {
    let reactions = b.sim.reactions(channel, id);
    if reactions.iter().any(|r| r == DONE) {
        Some(true)
    } else if reactions.iter().any(|r| r == ERROR) {
        Some(false)
    } else {
        None
    }
}

/// Wait for `changed` (made before the last look, so no change is
/// missed), and at least `LOOK_EVERY`.
async fn next_look(changed: impl Future<Output = ()>, deadline: Instant) {
    tokio::time::sleep(LOOK_EVERY).await;
    let _ = tokio::time::timeout_at(deadline, changed).await;
}

/// Wait until every `(channel, id)` is answered; the instants they were
/// seen answered, in order. Panics (with the broker's log) on timeout or
/// on an error reaction.
pub async fn wait_answered(b: &Broker, msgs: &[(u64, u64)], timeout: Duration) -> Vec<Instant> {
    let deadline = Instant::now() + timeout;
    let mut seen: Vec<Option<Instant>> = vec![None; msgs.len()];
    loop {
        let changed = b.sim.changed();
        let now = Instant::now();
        for (slot, (channel, id)) in seen.iter_mut().zip(msgs) {
            if slot.is_none() {
                match answered(b, *channel, *id) {
                    Some(true) => *slot = Some(now),
                    Some(false) => b.fail(&format!("message {id} got the error reaction")),
                    None => {}
                }
            }
        }
        let missing = seen.iter().filter(|s| s.is_none()).count();
        if missing == 0 {
            return seen.into_iter().map(Option::unwrap).collect();
        }
        if now >= deadline {
            b.fail(&format!(
                "{missing} of {} messages unanswered after {timeout:?}",
                msgs.len()
            ));
        }
        next_look(changed, deadline).await;
    }
}

/// Open `n` threads at once (one mention each); their ids, once all have
/// been answered.
pub async fn open_threads(b: &Broker, n: usize, timeout: Duration) -> Vec<u64> {
    let ids: Vec<u64> = (0..n)
        .map(|i| {
            b.sim
                .inject_message(b.channel, &b.user, &b.mention(&format!("open {i}")))
        })
        .collect();
    let msgs: Vec<(u64, u64)> = ids.iter().map(|id| (b.channel, *id)).collect();
    wait_answered(b, &msgs, timeout).await;
    ids
}

/// One closed-loop run.
pub struct LoopRun {
    /// Inject -> answered seen, per message.
    pub latencies: Vec<Duration>,
    pub wall: Duration,
    pub messages: usize,
}

/// Every thread posts `per_thread` messages, each after the previous one
/// was answered (a user waiting for the answer), all threads at once.
pub async fn closed_loop(
    b: &Broker,
    threads: &[u64],
    per_thread: usize,
    text: impl Fn(usize, usize) -> String,
    timeout: Duration,
) -> LoopRun {
    let started = Instant::now();
    let deadline = started + timeout;
    // thread index -> (message number, its id, posted at)
    let mut pending: HashMap<usize, (usize, u64, Instant)> = HashMap::new();
    for (t, thread) in threads.iter().enumerate() {
        if per_thread > 0 {
            let id = b.sim.inject_message(*thread, &b.user, &text(t, 0));
            pending.insert(t, (0, id, Instant::now()));
        }
    }
    let mut latencies = Vec::with_capacity(threads.len() * per_thread);
    while !pending.is_empty() {
        let changed = b.sim.changed();
        let now = Instant::now();
        let mut finished = Vec::new();
        for (t, (number, id, posted)) in pending.iter_mut() {
            match answered(b, threads[*t], *id) {
                Some(true) => {
                    latencies.push(now - *posted);
                    *number += 1;
                    if *number == per_thread {
                        finished.push(*t);
                    } else {
                        *id = b
                            .sim
                            .inject_message(threads[*t], &b.user, &text(*t, *number));
                        *posted = Instant::now();
                    }
                }
                Some(false) => b.fail(&format!("message {id} got the error reaction")),
                None => {}
            }
        }
        for t in finished {
            pending.remove(&t);
        }
        if pending.is_empty() {
            break;
        }
        if now >= deadline {
            b.fail(&format!(
                "{} threads still waiting after {timeout:?}",
                pending.len()
            ));
        }
        next_look(changed, deadline).await;
    }
    LoopRun {
        messages: latencies.len(),
        latencies,
        wall: started.elapsed(),
    }
}
