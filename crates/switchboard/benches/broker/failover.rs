//! Figure 9 (issue 14): failover of the Discord shard between instances of
//! one bot on a PostgreSQL store (`SWITCHBOARD_BENCH_POSTGRES`; skipped
//! without it). Two instances, the default `cluster.lease_ttl` (10 s): the
//! holder is killed with SIGKILL and the standby's RESUME of its session is
//! timed, from the kill to the RESUMED the simulator sends; a new standby
//! is started after each kill. Also counted: identifies after the first
//! (a failover must not identify anew).

use std::path::PathBuf;
use std::time::Duration;

use discord_sim::ReadyKind;
use tokio::process::Child;
use tokio::time::Instant;

use super::Options;
use super::broker::{Broker, Setup};
use super::stats::{Row, Summary};

/// Wait until `path` (a process's stderr) holds `text`.
async fn logged(path: &PathBuf, text: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|log| log.contains(text)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

pub async fn run(options: &Options) -> Vec<Row> {
    if std::env::var("SWITCHBOARD_BENCH_POSTGRES")
        .unwrap_or_default()
        .is_empty()
    {
        println!("failover: skipped (set SWITCHBOARD_BENCH_POSTGRES=postgres://... to run it)");
        return Vec::new();
    }
    let kills = if options.smoke { 2 } else { 20 };
    let mut b = Broker::start(Setup::default()).await;
    let dir = b.dir().to_path_buf();
    let standby_log = |n: usize| dir.join(format!("peer-{n}.stderr"));
    let mut peers: Vec<(Child, PathBuf)> = Vec::new();
    let first = standby_log(0);
    peers.push((b.spawn_peer(&first), first.clone()));
    if !logged(
        &first,
        "standby: another instance holds the Discord shard",
        Duration::from_secs(30),
    )
    .await
    {
        b.fail("the second instance never stood by");
    }
    let identifies = b.sim.identifies().len();
    let mut took = Vec::new();
    // The holder: None = the broker's own first process, Some(i) = peers[i].
    let mut holder: Option<usize> = None;
    for n in 1..=kills {
        let killed = Instant::now();
        match holder {
            None => b.kill9().await,
            Some(i) => {
                let _ = peers[i].0.kill().await;
            }
        }
        let resumed = b
            .sim
            .wait_until(Duration::from_secs(30), |s| {
                s.ready_sent()
                    .iter()
                    .find(|r| r.kind == ReadyKind::Resumed && r.at >= killed)
                    .map(|r| r.at)
            })
            .await
            .unwrap_or_else(|| b.fail("no RESUMED within 30 s of a kill"));
        took.push(resumed.duration_since(killed).as_secs_f64() * 1000.0);
        // The standby that resumed holds now (its log says so, a moment
        // after the simulator's record); then start the next standby.
        let deadline = Instant::now() + Duration::from_secs(5);
        holder = loop {
            let found = peers.iter().enumerate().position(|(j, (_, log))| {
                Some(j) != holder
                    && std::fs::read_to_string(log).is_ok_and(|l| l.contains("session taken over"))
            });
            if found.is_some() {
                break found;
            }
            if Instant::now() >= deadline {
                for (_, log) in &peers {
                    let text = std::fs::read_to_string(log).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(8).collect();
                    eprintln!("{}:\n{}", log.display(), tail.join("\n"));
                }
                b.fail("no instance logged taking the session over");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let log = standby_log(n);
        peers.push((b.spawn_peer(&log), log.clone()));
        if !logged(
            &log,
            "standby: another instance holds the Discord shard",
            Duration::from_secs(30),
        )
        .await
        {
            b.fail("a new instance never stood by");
        }
        // A dead holder's log keeps its mark: empty it, so the next
        // takeover is found in the new holder's log only.
        for (j, (_, log)) in peers.iter().enumerate() {
            if Some(j) != holder
                && std::fs::read_to_string(log).is_ok_and(|l| l.contains("session taken over"))
            {
                let _ = std::fs::write(log, "");
            }
        }
    }
    let extra_identifies = b.sim.identifies().len() - identifies;
    for (mut child, _) in peers {
        let _ = child.kill().await;
    }
    b.stop().await;
    let summary = Summary::of(&took).expect("kills");
    let p50_ok = summary.median < 12_000.0;
    vec![
        Row::new(
            format!(
                "9.  failover: holder killed -> standby RESUMED ({kills} kills, lease_ttl 10 s)"
            ),
            "ms",
            summary.clone(),
        )
        .budget("max < ttl + 2 s = 12 s", summary.max < 12_000.0 && p50_ok),
        Row::new(
            "9.  identifies after the first, over the kills",
            "n",
            Summary::single(extra_identifies as f64),
        )
        .budget("0", extra_identifies == 0),
    ]
}
