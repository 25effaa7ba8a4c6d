//! Figure 4: the broker's resident memory (VmRSS; its agent children are
//! separate processes and not counted) idle after READY, then with 50 and
//! 200 live sessions (threads opened by a mention and answered, their echo
//! agents kept alive by the pool).

use std::time::Duration;

use super::Options;
use super::broker::{Broker, Setup};
use super::driver::open_threads;
use super::procfs;
use super::stats::{Row, Summary};

const SETTLE: Duration = Duration::from_millis(500);

async fn rss(b: &Broker) -> f64 {
    tokio::time::sleep(SETTLE).await;
    procfs::rss_kib(b.pid).unwrap_or_else(|| b.fail("no VmRSS")) as f64
}

pub async fn run(options: &Options) -> Vec<Row> {
    let steps: [usize; 2] = if options.smoke { [2, 5] } else { [50, 200] };
    let b = Broker::start(Setup::default()).await;
    let idle = rss(&b).await;
    let (anon, file) = procfs::rss_split_kib(b.pid);
    println!(
        "memory: idle: RSS {:.1} MB = {:.1} MiB (anonymous {:.1} MiB, file-backed {:.1} MiB)",
        idle * 1024.0 / 1e6,
        idle / 1024.0,
        anon as f64 / 1024.0,
        file as f64 / 1024.0
    );
    let mut rows = vec![
        Row::new(
            "4. broker RSS idle after READY",
            "MB",
            Summary::single(idle * 1024.0 / 1e6),
        )
        .budget("< 15 MB", idle * 1024.0 < 15e6),
    ];
    let mut open = 0;
    for sessions in steps {
        open_threads(&b, sessions - open, Duration::from_secs(300)).await;
        open = sessions;
        let now = rss(&b).await;
        let per_session_kb = (now - idle) * 1024.0 / 1e3 / sessions as f64;
        println!(
            "memory: {sessions} sessions: broker RSS {:.1} MB ({} agent processes)",
            now * 1024.0 / 1e6,
            procfs::children(b.pid).len()
        );
        rows.push(Row::new(
            format!("4. broker RSS with {sessions} sessions"),
            "MB",
            Summary::single(now * 1024.0 / 1e6),
        ));
        rows.push(
            Row::new(
                format!("4. added RSS per session, 0 -> {sessions}"),
                "KB",
                Summary::single(per_session_kb),
            )
            .budget("< 200 KB", per_session_kb < 200.0),
        );
    }
    b.stop().await;
    rows
}
