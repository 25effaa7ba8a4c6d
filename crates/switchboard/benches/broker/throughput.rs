//! Figure 3: many threads at once. Every thread has a live echo session;
//! each simulated user posts its next message as soon as the previous one
//! was answered (the bot's "done" reaction landed), all threads at once,
//! simulator rate limits off. Messages per second end to end, and CPU time
//! per message for the broker, its agents and this process (simulator +
//! driver), read from /proc.
//!
//! The broker paces its REST calls to Discord's global limit of 50 requests
//! per second by default, which alone would bound this run near 25
//! messages/s (an echo answer costs 2 calls: the answer's post and the
//! done reaction). With the simulator's limits off, the broker is told the
//! global limit is off too (`SWITCHBOARD_DISCORD_GLOBAL_LIMIT=off`, as
//! behind a proxy that paces globally itself), so what is measured is the
//! broker, its agents and the simulator. `--messages N` sets the messages
//! per thread (default 20).

use std::time::Duration;

use super::Options;
use super::broker::{Broker, Setup};
use super::driver::{closed_loop, open_threads};
use super::procfs;
use super::stats::{Row, Summary};

pub async fn run(options: &Options) -> Vec<Row> {
    let (threads, per_thread) = if options.smoke { (4, 3) } else { (200, 20) };
    let per_thread = options.messages.unwrap_or(per_thread);
    let b = Broker::start(Setup {
        env: vec![(
            "SWITCHBOARD_DISCORD_GLOBAL_LIMIT".to_owned(),
            "off".to_owned(),
        )],
        ..Setup::default()
    })
    .await;
    let ids = open_threads(&b, threads, Duration::from_secs(300)).await;
    let agents = procfs::children(b.pid);
    let calls_before = b.sim.rest_calls().len();
    let cpu = || {
        (
            procfs::cpu_time(b.pid).unwrap_or_default(),
            procfs::cpu_of(&agents),
            procfs::own_cpu_time(),
        )
    };
    let (broker0, agents0, own0) = cpu();
    let threads0 = procfs::cpu_by_thread(b.pid);
    let commits0 = b.pg_commits().await;
    let run = closed_loop(
        &b,
        &ids,
        per_thread,
        |t, i| format!("t{t} m{i}"),
        Duration::from_secs(600),
    )
    .await;
    let (broker1, agents1, own1) = cpu();
    let threads1 = procfs::cpu_by_thread(b.pid);
    // PostgreSQL counts a backend's commits when it reports them (at most
    // every 500 ms while busy, and when idle): wait past that.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let commits1 = b.pg_commits().await;
    let calls = b.sim.rest_calls().len() - calls_before;
    let n = run.messages as f64;
    let wall = run.wall.as_secs_f64();
    let rate = n / wall;
    let per_msg_ms = |d: Duration| d.as_secs_f64() * 1000.0 / n;
    let busy = |d: Duration| d.as_secs_f64() / wall;
    println!(
        "throughput: {threads} threads x {per_thread} messages = {} in {wall:.2} s = {rate:.0} msg/s; \
         {} agent processes; {:.1} REST calls per message",
        run.messages,
        agents.len(),
        calls as f64 / n
    );
    println!(
        "  cores busy (of {}): broker {:.2}, agents {:.2}, simulator+driver {:.2}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        busy(broker1 - broker0),
        busy(agents1 - agents0),
        busy(own1 - own0)
    );
    let split: Vec<String> = threads1
        .iter()
        .map(|(name, t1)| {
            let t0 = threads0.get(name).copied().unwrap_or_default();
            format!("{name} {:.3} ms", per_msg_ms(t1.saturating_sub(t0)))
        })
        .collect();
    println!("  broker CPU per message by thread: {}", split.join(", "));
    let store_rows: Vec<Row> = match (commits0, commits1) {
        (Some(before), Some(after)) => vec![Row::new(
            "3. PostgreSQL transactions (round trips) per message",
            "n",
            Summary::single((after - before) as f64 / n),
        )],
        _ => Vec::new(),
    };
    // Ends the broker and drops the run's PostgreSQL database, if any.
    b.stop().await;
    let ms: Vec<f64> = run
        .latencies
        .iter()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    vec![
        Row::new(
            "3. REST calls per second during the run",
            "calls/s",
            Summary::single(calls as f64 / wall),
        ),
        Row::new(
            format!("3. throughput, {threads} threads x {per_thread} msgs"),
            "msg/s",
            Summary::single(rate),
        )
        .budget(">= 500 msg/s", rate >= 500.0),
        Row::new(
            "3. broker CPU per message",
            "ms",
            Summary::single(per_msg_ms(broker1 - broker0)),
        ),
        Row::new(
            "3. agents' CPU per message",
            "ms",
            Summary::single(per_msg_ms(agents1 - agents0)),
        ),
        Row::new(
            "3. simulator+driver CPU per message",
            "ms",
            Summary::single(per_msg_ms(own1 - own0)),
        ),
        Row::new(
            "3. REST calls per message",
            "calls",
            Summary::single(calls as f64 / n),
        ),
        Row::new(
            "3. per message: posted -> answered seen (under load)",
            "ms",
            Summary::of(&ms).expect("samples"),
        ),
    ]
    .into_iter()
    .chain(store_rows)
    .collect()
}
