//! The driver of the turn state-machine test (issue 11, point 1), shared
//! by the test (`tests/turn_property.rs`, a few cases with a fixed seed in
//! CI) and the benchmark (`benches/turn_property.rs`, many cases for
//! longer): random sequences of mentions, follow-ups, `!cancel`, `!reset`,
//! agent crashes (a `[[crash]]` prompt, or SIGKILL to a live agent at any
//! moment), hangs and permission waits that only the idle timeout ends,
//! slow starts, and shutdown + restart, driven through the [`World`].
//!
//! Checked after every step: every busy slot belongs to a thread with a
//! turn under way (a journaled message not yet final; a slot held by a
//! thread with none is a leak), and never more than `max` are busy. At
//! every settle point (no new input; each wait must end by itself within a
//! deadline, or a thread waits without a reason that will end): every
//! journaled message is answered or failed, no slot is busy (0 running
//! turns), and the live agent processes are exactly the pool's live idle
//! sessions. After a shutdown: the drain ended within the grace, no slot is
//! held, no agent process is left, and no message is left `prompted` (it
//! is interrupted, or still received, and the restart takes it up).
//!
//! Owns the random choice of actions and the checks. Must never draw an
//! action from anything but the case's seed, so a failing case replays its
//! steps from the seed (timing, of course, varies from run to run).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::Duration;

use super::{MAX_SESSIONS, SHUTDOWN_GRACE, World, children, live_agents};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use switchboard::store::JournalState;
use tokio::time::Instant;

/// CI's run: a few cases with a fixed seed, in seconds.
pub const DEFAULT_CASES: u64 = 4;
pub const DEFAULT_STEPS: usize = 30;
pub const DEFAULT_SEED: u64 = 0x5b0a_2d11;
/// The longest a settle may take: a few hung turns (each ends after the
/// idle timeout + cancel grace) queued behind two slots, with slow starts.
const SETTLE_DEADLINE: Duration = Duration::from_secs(30);

/// What a prompt asks the demo agent to do.
const SCRIPTS: [&str; 7] = [
    "hello",
    "[[tool]] look around",
    "[[slow:30]][[long:400]]",
    "[[crash]]",
    "[[hang]]",
    "[[wait-for-cancel]] [[permission:edit]]",
    "[[slow:80]][[long:200]] [[permission:execute]]",
];

#[derive(Debug, Clone)]
enum Action {
    Mention(&'static str),
    FollowUp(usize, &'static str),
    Cancel(usize),
    Reset(usize),
    /// SIGKILL the n-th live agent (modulo), whatever it is doing.
    KillAgent(usize),
    /// The next agents start this slowly.
    SlowStarts(u64),
    Pause(u64),
    Settle,
    Restart,
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn pick(rng: &mut StdRng, threads: usize, restarts: &mut u32) -> Action {
    let script = SCRIPTS[rng.random_range(0..SCRIPTS.len())];
    let thread = rng.random_range(0..threads.max(1));
    match rng.random_range(0..100) {
        _ if threads == 0 => Action::Mention(script),
        0..12 if threads < 5 => Action::Mention(script),
        0..37 => Action::FollowUp(thread, script),
        37..52 => Action::Cancel(thread),
        52..60 => Action::Reset(thread),
        60..68 => Action::KillAgent(rng.random_range(0..8)),
        68..74 => Action::SlowStarts(*[0, 0, 150, 400, 700].get(rng.random_range(0..5)).unwrap()),
        74..94 => Action::Pause(rng.random_range(0..150)),
        94..98 => Action::Settle,
        _ if *restarts < 2 => {
            *restarts += 1;
            Action::Restart
        }
        _ => Action::Settle,
    }
}

struct Case {
    world: World,
    threads: Vec<String>,
    trace: String,
}

impl Case {
    fn fail(&self, what: &str) -> ! {
        panic!("{what}\nsteps so far:\n{}", self.trace);
    }

    async fn apply(&mut self, action: &Action) {
        match *action {
            Action::Mention(script) => {
                let id = self.world.mention(script).await;
                self.threads.push(id);
            }
            Action::FollowUp(i, script) => {
                let thread = self.threads[i].clone();
                self.world.say(&thread, script).await;
            }
            Action::Cancel(i) => {
                let thread = self.threads[i].clone();
                self.world.say(&thread, "!cancel").await;
            }
            Action::Reset(i) => {
                let thread = self.threads[i].clone();
                self.world.say(&thread, "!reset").await;
            }
            Action::KillAgent(n) => {
                let agents = live_agents(&self.world.agent_dir());
                if let Some(pid) = agents.get(n % agents.len().max(1)) {
                    // SAFETY: kill(2) on an agent process of this test.
                    unsafe { libc::kill(*pid, libc::SIGKILL) };
                }
            }
            Action::SlowStarts(ms) => self.world.set_start_delay(Duration::from_millis(ms)),
            Action::Pause(ms) => tokio::time::sleep(Duration::from_millis(ms)).await,
            Action::Settle => self.settle().await,
            Action::Restart => {
                let took = self.world.shut_down().await;
                self.after_shutdown(took).await;
                self.world.restart().await;
            }
        }
    }

    /// Every busy slot belongs to a thread with a turn under way, and no
    /// more than `max` are busy. The journal is read first: input comes
    /// only from this task, so a thread whose messages were all final then
    /// has no turn to hold a slot for afterwards.
    async fn check_step(&self) {
        let pending: BTreeSet<String> = self
            .world
            .unfinished()
            .await
            .into_iter()
            .map(|e| e.thread_id)
            .collect();
        let busy = self.world.pool().busy_keys();
        if let Some(leaked) = busy.iter().find(|k| !pending.contains(*k)) {
            self.fail(&format!(
                "slot of thread {leaked} is busy but the thread has no turn under way (busy {busy:?}, pending {pending:?})"
            ));
        }
        if busy.len() > MAX_SESSIONS {
            self.fail(&format!("{} slots busy, max {MAX_SESSIONS}", busy.len()));
        }
    }

    /// Wait until nothing is under way; then every message is final, no
    /// slot is busy, and the live agents are the pool's idle sessions.
    async fn settle(&mut self) {
        let deadline = Instant::now() + SETTLE_DEADLINE;
        loop {
            self.check_step().await;
            let unfinished = self.world.unfinished().await;
            let busy = self.world.pool().busy_keys();
            if unfinished.is_empty() && busy.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                let waiting: Vec<String> = unfinished
                    .iter()
                    .map(|e| format!("{} in {} ({})", e.message_id, e.thread_id, e.state.as_str()))
                    .collect();
                let posts: Vec<String> = self
                    .threads
                    .iter()
                    .map(|t| format!("{t}: {:?}", self.world.outbound.posts_in(t)))
                    .collect();
                self.fail(&format!(
                    "not settled within {SETTLE_DEADLINE:?}: waiting {waiting:?}, busy {busy:?}\nposts:\n{}",
                    posts.join("\n")
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let idle = self
            .wait_agents(None, "the pool's live idle sessions")
            .await;
        let _ = writeln!(self.trace, "  settled: {idle} idle sessions");
    }

    /// Wait (briefly: a killed agent is reaped, and its session seen dead,
    /// in milliseconds) until the live agent processes number `n`, or with
    /// `None` the pool's live idle sessions (read anew each time: an agent
    /// killed just before is still counted until its exit is seen).
    async fn wait_agents(&self, n: Option<usize>, what: &str) -> usize {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let agents = live_agents(&self.world.agent_dir());
            let n = n.unwrap_or_else(|| self.world.pool().stats().idle);
            if agents.len() == n {
                return n;
            }
            if Instant::now() > deadline {
                self.fail(&format!(
                    "live agents {agents:?}, expected {n} ({what}); children: {:#?}",
                    children()
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn after_shutdown(&mut self, took: Duration) {
        let _ = writeln!(self.trace, "  drained in {took:?}");
        if took > SHUTDOWN_GRACE + Duration::from_secs(1) {
            self.fail(&format!("shutdown took {took:?}"));
        }
        self.wait_agents(Some(0), "after shutdown").await;
        let left: Vec<String> = self
            .world
            .unfinished()
            .await
            .into_iter()
            .filter(|e| e.state == JournalState::Prompted)
            .map(|e| e.message_id)
            .collect();
        if !left.is_empty() {
            self.fail(&format!("left prompted after shutdown: {left:?}"));
        }
    }
}

/// One case: `steps` random actions from `seed`, then the final settle
/// and shutdown checks. Panics with the steps so far on a broken rule.
pub async fn run_case(seed: u64, steps: usize) -> Duration {
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut case = Case {
        world: World::start().await,
        threads: Vec::new(),
        trace: format!("seed {seed}\n"),
    };
    let mut restarts = 0;
    for _ in 0..steps {
        let action = pick(&mut rng, case.threads.len(), &mut restarts);
        let _ = writeln!(case.trace, "{action:?}");
        case.apply(&action).await;
        case.check_step().await;
    }
    let _ = writeln!(case.trace, "Settle (final)");
    case.settle().await;
    for id in &case.threads {
        let entry = case.world.entry(id).await;
        if !matches!(entry.state, JournalState::Answered | JournalState::Failed) {
            case.fail(&format!("{id} ended {}", entry.state.as_str()));
        }
    }
    let took = case.world.shut_down().await;
    case.after_shutdown(took).await;
    started.elapsed()
}

/// `cases` cases, case `i` from seed `seed + i`; each case's seed and
/// duration are printed as it ends. Returns the durations.
pub async fn run_cases(cases: u64, steps: usize, seed: u64) -> Vec<Duration> {
    let mut took = Vec::new();
    for case in 0..cases {
        let case_seed = seed.wrapping_add(case);
        let t = run_case(case_seed, steps).await;
        eprintln!("case {case} (seed {case_seed}): {t:?}");
        took.push(t);
    }
    took
}
