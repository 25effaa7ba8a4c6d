//! The turn state-machine property test (issue 11, point 1) run for longer
//! than CI runs it: by default 40 cases x 60 steps from a random seed,
//! printed first so that a failure replays. The driver and its checks are
//! the test's own (`tests/turn_world/property.rs`), included here, not
//! copied.
//!
//! Run: `cargo bench -p switchboard --bench turn_property`
//! (`-- --seed N --cases N --steps N` to replay or resize). A broken rule
//! panics with the case's seed and its steps so far; the process then
//! exits non-zero.

#[path = "../tests/turn_world/mod.rs"]
mod turn_world;

use std::time::Instant;

use turn_world::property::run_cases;

const CASES: u64 = 40;
const STEPS: usize = 60;

fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let i = args.iter().position(|a| a == name)?;
    let value = args.get(i + 1)?;
    match value.parse() {
        Ok(v) => Some(v),
        Err(_) => panic!("{name} {value:?} is not a number"),
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cases = flag(&args, "--cases").unwrap_or(CASES);
    let steps = flag(&args, "--steps").unwrap_or(STEPS);
    let seed = flag(&args, "--seed").unwrap_or_else(rand::random::<u64>);
    println!(
        "turn property: {cases} cases x {steps} steps, seed {seed} (replay: cargo bench -p \
         switchboard --bench turn_property -- --seed {seed} --cases {cases} --steps {steps})"
    );
    let started = Instant::now();
    let took = run_cases(cases, steps, seed).await;
    let longest = took.iter().max().copied().unwrap_or_default();
    println!(
        "turn property: passed, {cases} cases x {steps} steps, seed {seed}, in {:.1} s \
         (longest case {:.1} s)",
        started.elapsed().as_secs_f64(),
        longest.as_secs_f64()
    );
}
