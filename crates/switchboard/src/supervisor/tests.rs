//! Supervisor loop tests with a scripted connection and paused time.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use super::*;

#[derive(Debug, Clone)]
enum Script {
    Transient,
    Fatal(&'static str),
    InvalidSession,
    /// Stay connected until shutdown.
    Hold,
}

struct Cause(Script);

impl Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl DisconnectCause for Cause {
    fn verdict(&self) -> Verdict {
        match self.0 {
            Script::Fatal(fix) => Verdict::Fatal {
                fix: fix.to_owned(),
            },
            _ => Verdict::Transient,
        }
    }
    fn min_delay(&self) -> Duration {
        match self.0 {
            Script::InvalidSession => Duration::from_secs(3),
            _ => Duration::ZERO,
        }
    }
}

struct Scripted {
    script: VecDeque<Script>,
    started: Arc<Mutex<Vec<Instant>>>,
}

impl Connection for Scripted {
    type Cause = Cause;

    async fn run_once(&mut self, shutdown: &CancellationToken) -> RunEnd<Cause> {
        self.started.lock().unwrap().push(Instant::now());
        match self.script.pop_front().unwrap_or(Script::Hold) {
            Script::Hold => {
                shutdown.cancelled().await;
                RunEnd::Shutdown
            }
            other => RunEnd::Lost {
                cause: Cause(other),
                healthy_for: Duration::ZERO,
            },
        }
    }
}

fn config() -> SupervisorConfig {
    SupervisorConfig::default()
}

fn start(script: Vec<Script>) -> (Scripted, Arc<Mutex<Vec<Instant>>>) {
    let started = Arc::new(Mutex::new(Vec::new()));
    (
        Scripted {
            script: script.into(),
            started: started.clone(),
        },
        started,
    )
}

fn gaps(started: &[Instant]) -> Vec<Duration> {
    started.windows(2).map(|w| w[1] - w[0]).collect()
}

#[tokio::test(start_paused = true)]
async fn transient_ends_are_retried_with_growing_delays_forever() {
    let script = vec![Script::Transient; 6];
    let (conn, started) = start(script);
    let health = ConnectionHealth::new("test", "c0");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let health = health.clone();
        let shutdown = shutdown.clone();
        async move { supervise(conn, health, config(), shutdown).await }
    });
    tokio::time::sleep(Duration::from_secs(120)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    let gaps = gaps(&started.lock().unwrap());
    assert_eq!(gaps.len(), 6, "6 transient ends, then a held connection");
    assert!(
        gaps[0] < Duration::from_millis(10),
        "first retry immediate: {gaps:?}"
    );
    for (gap, base) in gaps[1..].iter().zip([1u64, 2, 4, 8, 16]) {
        let base = Duration::from_secs(base);
        assert!(
            *gap >= base.mul_f64(0.8) && *gap <= base.mul_f64(1.2),
            "{gap:?} vs {base:?}"
        );
    }
    assert_eq!(health.snapshot().reconnects_total, 6);
}

#[tokio::test(start_paused = true)]
async fn fatal_cause_stops_with_its_fix_and_marks_health() {
    let (conn, started) = start(vec![Script::Transient, Script::Fatal("reset the token")]);
    let health = ConnectionHealth::new("test", "c0");
    let err = supervise(conn, health.clone(), config(), CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(err.fix, "reset the token");
    assert!(err.to_string().contains("Fix: reset the token"));
    assert_eq!(started.lock().unwrap().len(), 2);
    assert_eq!(health.state().name(), "fatally_closed");
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_a_long_backoff_returns_at_once() {
    let script = vec![Script::Transient; 10];
    let (conn, _) = start(script);
    let health = ConnectionHealth::new("test", "c0");
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let health = health.clone();
        let shutdown = shutdown.clone();
        async move { supervise(conn, health, config(), shutdown).await }
    });
    // Attempts at 0, 0, 1, 3, 7, 15, 31 s: at 40 s it sleeps towards ~63 s.
    tokio::time::sleep(Duration::from_secs(40)).await;
    assert_eq!(health.state().name(), "backing_off");
    let cancelled_at = Instant::now();
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert!(Instant::now() - cancelled_at < Duration::from_millis(1));
    assert_eq!(health.state(), ConnectionState::Stopped);
}

#[tokio::test(start_paused = true)]
async fn a_cause_can_raise_the_delay_floor() {
    let (conn, started) = start(vec![Script::InvalidSession]);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn({
        let shutdown = shutdown.clone();
        async move { supervise(conn, ConnectionHealth::new("t", "c"), config(), shutdown).await }
    });
    tokio::time::sleep(Duration::from_secs(10)).await;
    shutdown.cancel();
    task.await.unwrap().unwrap();
    assert_eq!(gaps(&started.lock().unwrap()), vec![Duration::from_secs(3)]);
}
