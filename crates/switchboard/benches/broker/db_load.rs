//! Figure 10: the database's load per message on PostgreSQL, by statement.
//! The broker is told to log every statement it sends (`sqlx::query` at
//! DEBUG, for this run only), a closed loop of messages runs, and the
//! statements logged meanwhile are counted by kind (sqlx's summary of the
//! statement: its first words) and divided by the messages. What runs
//! without messages (the heartbeat, lease renewals, the 1 s poll for
//! unattended threads) is counted over an idle stretch afterwards and
//! reported per second. PostgreSQL only (`SWITCHBOARD_BENCH_POSTGRES`).

use std::collections::BTreeMap;
use std::time::Duration;

use super::Options;
use super::broker::{Broker, Setup};
use super::driver::{closed_loop, open_threads};
use super::stats::{Row, Summary};

/// How long the idle stretch lasts.
const IDLE: Duration = Duration::from_secs(10);

pub async fn run(options: &Options) -> Vec<Row> {
    if std::env::var("SWITCHBOARD_BENCH_POSTGRES")
        .unwrap_or_default()
        .is_empty()
    {
        println!("  db_load: skipped (set SWITCHBOARD_BENCH_POSTGRES to a PostgreSQL server)");
        return Vec::new();
    }
    let (threads, per_thread) = if options.smoke { (2, 2) } else { (20, 10) };
    let b = Broker::start(Setup {
        env: vec![("RUST_LOG".to_owned(), "warn,sqlx::query=debug".to_owned())],
        ..Setup::default()
    })
    .await;
    let ids = open_threads(&b, threads, Duration::from_secs(120)).await;
    let before = b.log().len();
    let commits0 = b.pg_commits().await;
    let run = closed_loop(
        &b,
        &ids,
        per_thread,
        |t, i| format!("t{t} m{i}"),
        Duration::from_secs(300),
    )
    .await;
    // The turn's end is written after the done reaction: let it land.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = b.log().len();
    let commits1 = b.pg_commits().await;
    tokio::time::sleep(IDLE).await;
    let idle_end = b.log().len();
    let log = b.log();
    let messages = run.messages as f64;
    let busy = statement_kinds(&log[before..after]);
    let idle = statement_kinds(&log[after..idle_end]);
    let total: usize = busy.values().sum();
    let idle_total: usize = idle.values().sum();
    let busy_secs = run.wall.as_secs_f64() + 1.0;
    // What ran in the background during the loop, by the idle rate.
    let background = idle_total as f64 / IDLE.as_secs_f64() * busy_secs;
    let mut rows = vec![
        Row::new(
            format!(
                "10. statements per message, {} messages (all logged)",
                run.messages
            ),
            "n",
            Summary::single(total as f64 / messages),
        ),
        Row::new(
            "10. statements per message, less the background's share",
            "n",
            Summary::single((total as f64 - background) / messages),
        ),
        Row::new(
            "10. background statements per second (idle, 1 instance)",
            "n/s",
            Summary::single(idle_total as f64 / IDLE.as_secs_f64()),
        ),
    ];
    if let (Some(c0), Some(c1)) = (commits0, commits1) {
        rows.push(Row::new(
            "10. transactions (round trips) per message, same run",
            "n",
            Summary::single((c1 - c0) as f64 / messages),
        ));
    }
    let mut kinds: Vec<(&String, &usize)> = busy.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(a.1));
    for (kind, count) in kinds {
        rows.push(Row::new(
            format!("10.  per message: {kind}"),
            "n",
            Summary::single(*count as f64 / messages),
        ));
    }
    for (kind, count) in &idle {
        println!(
            "  idle, per second: {kind}: {:.2}",
            *count as f64 / IDLE.as_secs_f64()
        );
    }
    b.stop().await;
    rows
}

/// Statements in `log` (sqlx's DEBUG lines), counted by their summary.
fn statement_kinds(log: &str) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for line in log.lines().filter(|l| l.contains("sqlx::query")) {
        let kind = summary_of(line).unwrap_or("(no summary)");
        *kinds.entry(kind.to_owned()).or_insert(0) += 1;
    }
    kinds
}

/// The `summary` field of a log line, in the text or the JSON format.
fn summary_of(line: &str) -> Option<&str> {
    let start = line
        .find("summary=\"")
        .map(|i| i + "summary=\"".len())
        .or_else(|| {
            line.find("\"summary\":\"")
                .map(|i| i + "\"summary\":\"".len())
        })?;
    let rest = &line[start..];
    let end = rest.find('"')?;
    Some(rest[..end].trim_end_matches('…').trim())
}
