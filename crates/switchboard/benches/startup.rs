//! Start-up benchmark: time from spawning `switchboard run` to the gateway's
//! READY, with an empty store and with a store holding 10,000 processed ids
//! and 1,000 threads (plus 1,000 answered journal entries). Prints min /
//! median / max over several runs and the database size.
//!
//! Run: `cargo bench -p switchboard --bench startup` (add `-- --runs N`).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use discord_sim::{DiscordSim, ReadyKind, SimConfig};
use switchboard::store::{JournalEntry, JournalState, Store, ThreadRecord, now_ms};

const IDS: usize = 10_000;
const THREADS: usize = 1_000;

fn config(dir: &Path, sim: &DiscordSim) -> String {
    format!(
        "[discord]\ntoken = \"${{DISCORD_BOT_TOKEN}}\"\nallowed_channels = [\"{}\"]\nallow_all_users = true\n\
         api_url = \"{}\"\ngateway_url = \"{}\"\n\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[log]\nlevel = \"warn\"\n\n\
         [agent]\ncommand = \"true\"\n\n[store]\ndata_dir = {:?}\nallow_inside_agent_cwd = true\n",
        sim.channel_ids()[0],
        sim.http_url(),
        sim.gateway_url(),
        dir.join("data").display().to_string(),
    )
}

async fn fill(dir: &Path) {
    let store = Store::open(&dir.join("data")).await.expect("store opens");
    let now = now_ms();
    for i in 0..IDS {
        store
            .first_sighting(
                "discord",
                &format!("{}", 1_300_000_000_000_000_000u64 + i as u64),
                now,
            )
            .await
            .unwrap();
    }
    for i in 0..THREADS {
        let id = format!("{}", 1_200_000_000_000_000_000u64 + i as u64);
        let record = ThreadRecord {
            platform: "discord".into(),
            thread_id: id.clone(),
            channel_id: "1100000000000000003".into(),
            created_at_ms: now,
            last_active_at_ms: now,
            session_id: Some(format!("session-{i}")),
            cwd: Some("/tmp".into()),
            supports_load: i % 2 == 0,
            context_lost_notified: false,
        };
        store.upsert_thread(&record).await.unwrap();
        let entry = JournalEntry {
            platform: "discord".into(),
            message_id: id.clone(),
            thread_id: id,
            channel_id: "1100000000000000003".into(),
            author_id: "7".into(),
            author_name: "alice".into(),
            is_bot: false,
            content: "a question".into(),
            received_at_ms: now,
            state: JournalState::Received,
            reply_message_ids: vec![],
        };
        store.journal_insert(&entry).await.unwrap();
        store
            .journal_set_state("discord", &entry.message_id, JournalState::Answered, now)
            .await
            .unwrap();
    }
    store.close().await;
}

/// Spawn switchboard on `dir` and time spawn -> READY sent by the simulator.
async fn time_to_ready(dir: &Path) -> Duration {
    let sim = DiscordSim::start(SimConfig::default()).await.unwrap();
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, config(dir, &sim)).unwrap();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["run", "--config"])
        .arg(&path)
        .env("DISCORD_BOT_TOKEN", sim.token())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    sim.wait_until(Duration::from_secs(30), |s| {
        s.ready_sent()
            .iter()
            .any(|r| r.kind == ReadyKind::Ready)
            .then_some(())
    })
    .await
    .expect("READY within 30 s");
    let took = started.elapsed();
    // SAFETY: kill(2) on our child.
    unsafe { libc::kill(child.id().unwrap() as i32, libc::SIGTERM) };
    let _ = child.wait().await;
    took
}

fn summary(name: &str, mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let median = samples[samples.len() / 2];
    println!(
        "{name:<28} min {:7.1} ms   median {:7.1} ms   max {:7.1} ms   ({} runs)",
        ms(samples[0]),
        ms(median),
        ms(*samples.last().unwrap()),
        samples.len()
    );
    median
}

#[tokio::main]
async fn main() {
    switchboard::install_crypto_provider();
    let args: Vec<String> = std::env::args().collect();
    let runs = args
        .iter()
        .position(|a| a == "--runs")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(7);
    let empty = tempfile::tempdir().unwrap();
    let full = tempfile::tempdir().unwrap();
    let filling = Instant::now();
    fill(full.path()).await;
    println!(
        "filled {IDS} ids + {THREADS} threads + {THREADS} journal entries in {:.1} s",
        filling.elapsed().as_secs_f64()
    );
    let mut with_empty = Vec::new();
    let mut with_full = Vec::new();
    for _ in 0..runs {
        with_empty.push(time_to_ready(empty.path()).await);
        with_full.push(time_to_ready(full.path()).await);
    }
    let a = summary("spawn -> READY, empty store", with_empty);
    let b = summary("spawn -> READY, full store", with_full);
    println!(
        "added by the full store (median): {:.1} ms",
        (b.as_secs_f64() - a.as_secs_f64()) * 1000.0
    );
    let db = full.path().join("data").join("switchboard.db");
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!("database file: {size} bytes ({:.2} MB)", size as f64 / 1e6);
}
