//! The broker benchmark: the real `switchboard` binary between an in-process
//! discord-sim and real echo-agent child processes, all on loopback.
//! Measures the broker's own latency in and out, throughput and CPU per
//! message, memory, recovery of the gateway connection, REST economy,
//! Slack's envelope ack latency and a soak of thousands of conversations
//! (resources flat at the end), the latency of a permission button's click,
//! and prints one table (min / median / p99 / max, budget, verdict).
//!
//! Run: `cargo bench -p switchboard --bench broker` (about 9 minutes);
//! `-- --smoke` runs every scenario tiny (seconds); `-- --only a,b` runs
//! some of: latency, throughput, memory, recovery, economy, slack_acks,
//! soak, interaction, failover, db_load (PostgreSQL's statements per
//! message, by kind; with the variable below only); `-- --messages N` sets the messages per thread of
//! the throughput run, `-- --conversations N` the conversations of the
//! soak.
//! `tests/bench_smoke.rs` runs the smoke mode under `cargo test`.
//! `SWITCHBOARD_BENCH_POSTGRES=postgres://USER@HOST:PORT/DB` puts the
//! broker's store in a fresh PostgreSQL database on that server (dropped
//! after the run) instead of the SQLite file.
//!
//! Modules: `broker` (the process under test), `driver` (simulated users),
//! `clock` (one monotonic clock across processes), `agentlog` (the agents'
//! timestamps), `procfs` (RSS and CPU), `probe` (/proc and /metrics in one
//! look), `stats` (summaries and the table), and one module per figure.

#![allow(dead_code)]

mod agentlog;
mod broker;
mod clock;
mod db_load;
mod driver;
mod economy;
mod failover;
mod interaction;
mod latency;
mod memory;
mod probe;
mod procfs;
mod recovery;
mod slack_acks;
mod soak;
mod stats;
mod throughput;

pub use stats::{Row, Verdict};

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Every scenario, tiny.
    pub smoke: bool,
    /// Only these scenarios (all when empty).
    pub only: Vec<String>,
    /// Messages per thread in the throughput run.
    pub messages: Option<usize>,
    /// Conversations in the soak.
    pub conversations: Option<usize>,
}

impl Options {
    pub fn from_args(args: &[String]) -> Options {
        let only = args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1))
            .map(|list| list.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        let number = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .and_then(|n| n.parse().ok())
        };
        Options {
            smoke: args.iter().any(|a| a == "--smoke"),
            only,
            messages: number("--messages"),
            conversations: number("--conversations"),
        }
    }

    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

/// The machine and build, for the report.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "rustc unknown".into());
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    format!(
        "{} cores ({cpu}), {rustc}, {profile} build",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    )
}

/// Run the selected scenarios; every row, in order.
pub async fn run(options: &Options) -> Vec<Row> {
    switchboard::install_crypto_provider();
    let mut rows = Vec::new();
    let mut done = |name: &str, new: Vec<Row>| {
        // Printed as they come, so a long run shows its progress.
        print!("{name}:\n{}", stats::table(&new));
        rows.extend(new);
    };
    if options.wants("latency") {
        done("latency", latency::run(options).await);
    }
    if options.wants("throughput") {
        done("throughput", throughput::run(options).await);
    }
    if options.wants("memory") {
        done("memory", memory::run(options).await);
    }
    if options.wants("recovery") {
        done("recovery", recovery::run(options).await);
    }
    if options.wants("economy") {
        done("economy", economy::run(options).await);
    }
    if options.wants("slack_acks") {
        done("slack_acks", slack_acks::run(options).await);
    }
    if options.wants("soak") {
        done("soak", soak::run(options).await);
    }
    if options.wants("interaction") {
        done("interaction", interaction::run(options).await);
    }
    if options.wants("failover") {
        done("failover", failover::run(options).await);
    }
    if options.wants("db_load") {
        done("db_load", db_load::run(options).await);
    }
    rows
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let options = Options::from_args(&args);
    println!("machine: {}", machine());
    let started = std::time::Instant::now();
    let rows = run(&options).await;
    println!();
    print!("{}", stats::table(&rows));
    let missed = rows.iter().filter(|r| r.verdict == Verdict::Missed).count();
    println!(
        "\n{} figures, {missed} budgets missed; took {:.0} s",
        rows.len(),
        started.elapsed().as_secs_f64()
    );
}
