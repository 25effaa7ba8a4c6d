//! Figure 5: recovery of the gateway connection, each case on its own
//! broker with a 1 s heartbeat.
//!
//! - Accepting again -> RESUMED: connections are dropped and refused for a
//!   while; from the moment the simulator accepts again, the broker's next
//!   attempt comes after its pending backoff delay, then the handshake.
//!   Both parts are reported; the budget is on the handshake (< 100 ms).
//! - Zombie: the simulator stops ACKing heartbeats (dispatches would still
//!   flow); from that moment to RESUMED on a new connection (ACKs are
//!   switched back on once the broker has dropped the zombie).
//! - 100 consecutive drops: identifies used after the first, and drop ->
//!   RESUMED time.
//! - A 20 s outage with messages posted during it: all answered after it,
//!   each exactly once (each text reaches the agents in exactly one prompt).

use std::time::Duration;

use discord_sim::ReadyKind;
use tokio::time::Instant;

use super::Options;
use super::agentlog::AgentLog;
use super::broker::{Broker, Setup};
use super::driver::{open_threads, wait_answered};
use super::stats::{Row, Summary};

const HEARTBEAT: Duration = Duration::from_secs(1);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The first RESUMED sent after `t0`.
async fn resumed_after(b: &Broker, t0: Instant, timeout: Duration) -> Instant {
    let found = b
        .sim
        .wait_until(timeout, |s| {
            s.ready_sent()
                .iter()
                .find(|r| r.kind == ReadyKind::Resumed && r.at >= t0)
                .map(|r| r.at)
        })
        .await;
    found.unwrap_or_else(|| b.fail(&format!("no RESUMED within {timeout:?}")))
}

fn setup(supervisor: &str) -> Setup {
    Setup {
        heartbeat: HEARTBEAT,
        supervisor: supervisor.to_owned(),
        ..Setup::default()
    }
}

async fn accepting_again(cycles: usize, outage: Duration) -> Vec<Row> {
    // healthy_reset 1 s: each cycle starts from a fresh backoff.
    let b = Broker::start(setup("healthy_reset = \"1s\"")).await;
    let (mut pending, mut handshake, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..cycles {
        tokio::time::sleep(Duration::from_millis(1300)).await;
        b.sim.set_refuse_connections(true);
        b.sim.drop_connections();
        tokio::time::sleep(outage).await;
        let t0 = Instant::now();
        b.sim.set_refuse_connections(false);
        let resumed = resumed_after(&b, t0, Duration::from_secs(30)).await;
        let attempt = b
            .sim
            .connections()
            .iter()
            .filter(|c| c.opened_at >= t0)
            .map(|c| c.opened_at)
            .min()
            .unwrap_or_else(|| b.fail("RESUMED without a connection"));
        pending.push(ms(attempt - t0));
        handshake.push(ms(resumed - attempt));
        total.push(ms(resumed - t0));
    }
    b.stop().await;
    let hs = Summary::of(&handshake).unwrap();
    vec![
        Row::new(
            format!(
                "5. accepting again -> RESUMED ({:.1} s outage)",
                outage.as_secs_f64()
            ),
            "ms",
            Summary::of(&total).unwrap(),
        ),
        Row::new(
            "5.  of which pending backoff delay",
            "ms",
            Summary::of(&pending).unwrap(),
        ),
        Row::new("5.  of which next attempt -> RESUMED", "ms", hs.clone())
            .budget("< 100 ms", hs.max < 100.0),
    ]
}

async fn zombie(cycles: usize) -> Vec<Row> {
    let b = Broker::start(setup("healthy_reset = \"1s\"")).await;
    let identifies = b.sim.identifies().len();
    let mut took = Vec::new();
    for _ in 0..cycles {
        tokio::time::sleep(Duration::from_millis(1300)).await;
        let live = b
            .sim
            .connections()
            .iter()
            .rev()
            .find(|c| c.closed_at.is_none() && !c.refused)
            .map(|c| c.id)
            .unwrap_or_else(|| b.fail("no live connection"));
        let t0 = Instant::now();
        b.sim.set_heartbeat_acks(false);
        let closed = b
            .sim
            .wait_until(Duration::from_secs(30), |s| {
                s.connections()
                    .iter()
                    .any(|c| c.id == live && c.closed_at.is_some())
                    .then_some(())
            })
            .await;
        b.sim.set_heartbeat_acks(true);
        if closed.is_none() {
            b.fail("the zombie connection was never dropped");
        }
        took.push(ms(resumed_after(&b, t0, Duration::from_secs(30)).await - t0));
    }
    let extra = b.sim.identifies().len() - identifies;
    b.stop().await;
    let s = Summary::of(&took).unwrap();
    let budget = ms(HEARTBEAT * 2) + 100.0;
    vec![
        Row::new(
            "5. zombie (ACKs stop) -> RESUMED, 1 s heartbeat",
            "ms",
            s.clone(),
        )
        .budget("< 2 x 1 s + 100 ms", s.max < budget),
        Row::new(
            "5.  identifies during the zombie cycles",
            "count",
            Summary::single(extra as f64),
        )
        .budget("0", extra == 0),
    ]
}

async fn drops(count: usize) -> Vec<Row> {
    // A connection that was Active for 100 ms counts as stable: each drop
    // is then retried at once, as after a long healthy period.
    let b = Broker::start(setup("healthy_reset = \"100ms\"")).await;
    let mut took = Vec::new();
    for _ in 0..count {
        tokio::time::sleep(Duration::from_millis(150)).await;
        let t0 = Instant::now();
        b.sim.drop_connections();
        took.push(ms(resumed_after(&b, t0, Duration::from_secs(30)).await - t0));
    }
    let identifies = b.sim.identifies().len();
    b.stop().await;
    let after_first = identifies.saturating_sub(1) as f64;
    vec![
        Row::new(
            format!("5. identifies across {count} drops, after the first"),
            "count",
            Summary::single(after_first),
        )
        .budget("0", after_first == 0.0),
        Row::new(
            "5.  drop -> RESUMED (immediate retry)",
            "ms",
            Summary::of(&took).unwrap(),
        ),
    ]
}

async fn outage(threads: usize, messages: usize, outage: Duration) -> Vec<Row> {
    let b = Broker::start(setup("")).await;
    let ids = open_threads(&b, threads, Duration::from_secs(60)).await;
    let identifies = b.sim.identifies().len();
    b.sim.set_refuse_connections(true);
    b.sim.drop_connections();
    let start = Instant::now();
    let mut posted = Vec::new();
    for j in 0..messages {
        let at = start + outage.mul_f64((j as f64 + 0.5) / messages as f64);
        tokio::time::sleep_until(at).await;
        let thread = ids[j % ids.len()];
        let text = format!("outage-{j}");
        posted.push((thread, b.sim.inject_message(thread, &b.user, &text), text));
    }
    tokio::time::sleep_until(start + outage).await;
    let back = Instant::now();
    b.sim.set_refuse_connections(false);
    let resumed = resumed_after(&b, back, Duration::from_secs(90)).await;
    let msgs: Vec<(u64, u64)> = posted.iter().map(|(t, id, _)| (*t, *id)).collect();
    let answered = wait_answered(&b, &msgs, Duration::from_secs(120)).await;
    let all_answered = answered.iter().max().copied().unwrap_or(back);
    // Exactly once: each text in exactly one prompt, alone or in a batch.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = AgentLog::read(&b.timestamps);
    let times_prompted = |text: &str| {
        log.prompts
            .iter()
            .filter(|(_, p)| p == text || p.lines().any(|l| l.ends_with(&format!(": {text}"))))
            .count()
    };
    let once = posted
        .iter()
        .filter(|(_, _, t)| times_prompted(t) == 1)
        .count();
    let extra_identifies = b.sim.identifies().len() - identifies;
    b.stop().await;
    println!(
        "outage: {messages} messages posted during {:.0} s; back -> RESUMED {:.0} ms, \
         back -> all answered {:.0} ms; {once} prompted exactly once; {extra_identifies} identifies",
        outage.as_secs_f64(),
        ms(resumed - back),
        ms(all_answered - back),
    );
    vec![
        Row::new(
            format!(
                "5. {:.0} s outage: messages answered once after it (of {messages})",
                outage.as_secs_f64()
            ),
            "count",
            Summary::single(once as f64),
        )
        .budget("all, once", once == messages && extra_identifies == 0),
        Row::new(
            "5.  outage: gateway back -> RESUMED (backoff 1 s doubling)",
            "ms",
            Summary::single(ms(resumed - back)),
        ),
        Row::new(
            "5.  outage: gateway back -> all answered",
            "ms",
            Summary::single(ms(all_answered - back)),
        ),
    ]
}

pub async fn run(options: &Options) -> Vec<Row> {
    let mut rows = Vec::new();
    if options.smoke {
        rows.extend(accepting_again(1, Duration::from_millis(300)).await);
        rows.extend(zombie(1).await);
        rows.extend(drops(3).await);
        rows.extend(outage(2, 2, Duration::from_secs(1)).await);
    } else {
        rows.extend(accepting_again(8, Duration::from_millis(1500)).await);
        rows.extend(zombie(10).await);
        rows.extend(drops(100).await);
        rows.extend(outage(5, 20, Duration::from_secs(20)).await);
    }
    rows
}
