//! State-machine test of issue 11, point 1: random sequences of turn
//! faults through the real bridge, thread actors and session pool, real
//! demo-agent processes and a real SQLite journal (the platform is a
//! recording fake). The driver and its checks are in
//! `turn_world/property.rs`, shared with the benchmark
//! `benches/turn_property.rs`, which runs more cases for longer.
//!
//! CI runs a few cases with a fixed seed; `SWITCHBOARD_PROPTEST_CASES`,
//! `SWITCHBOARD_PROPTEST_STEPS` and `SWITCHBOARD_PROPTEST_SEED` override
//! the defaults.

mod turn_world;

use turn_world::property::{DEFAULT_CASES, DEFAULT_SEED, DEFAULT_STEPS, env_or, run_cases};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sequence_of_turn_faults_leaks_a_slot_or_wedges_a_thread() {
    let cases = env_or("SWITCHBOARD_PROPTEST_CASES", DEFAULT_CASES);
    let steps = env_or("SWITCHBOARD_PROPTEST_STEPS", DEFAULT_STEPS);
    let seed = env_or("SWITCHBOARD_PROPTEST_SEED", DEFAULT_SEED);
    if let Ok(path) = std::env::var("SWITCHBOARD_PROPTEST_LOG") {
        let file = std::fs::File::create(path).unwrap();
        tracing_subscriber::fmt()
            .with_env_filter("switchboard=debug")
            .with_writer(std::sync::Mutex::new(file))
            .with_ansi(false)
            .init();
    }
    run_cases(cases, steps, seed).await;
}
