//! Keeps the broker benchmark (`benches/broker`) from rotting: runs every
//! scenario in its smoke mode (tiny sizes, a few seconds) in the test
//! profile. Only checks that each scenario ran and produced its figures;
//! the budgets are judged by the full release run (docs/PERFORMANCE.md),
//! not here, where debug code shares the machine with the other tests.

#[path = "../benches/broker/main.rs"]
mod broker_bench;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_benchmark_scenario_runs_in_smoke_mode() {
    let options = broker_bench::Options {
        smoke: true,
        ..broker_bench::Options::default()
    };
    let rows = broker_bench::run(&options).await;
    for prefix in ["1.", "2.", "3.", "4.", "5.", "6.", "7.", "8."] {
        assert!(
            rows.iter().any(|r| r.figure.starts_with(prefix)),
            "no figure {prefix} in {rows:#?}"
        );
    }
    for row in &rows {
        assert!(row.summary.n > 0 && row.summary.min.is_finite(), "{row:?}");
    }
    // Correctness, not speed: no identify after the first, every message
    // posted during the outage answered exactly once.
    let by_name = |name: &str| {
        rows.iter()
            .find(|r| r.figure.contains(name))
            .unwrap_or_else(|| panic!("no {name:?} row"))
    };
    assert_eq!(by_name("identifies across").summary.max, 0.0);
    assert_eq!(
        by_name("answered once after it").verdict,
        broker_bench::Verdict::Met
    );
}
