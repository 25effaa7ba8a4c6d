//! Faults the integration tests inject into the real binary, to prove that
//! what watches the pipeline notices: armed only by the environment
//! variable `SWITCHBOARD_TEST_FAULT=<kind>:<marker>` (logged at WARN when
//! armed), triggered by a message whose text contains `marker`.
//!
//! Kinds: `intake_stall` (the intake stops making progress),
//! `intake_panic` (the intake task panics), `store_fail` (every store
//! operation from then on reports a failure), `runtime_block` (every
//! runtime worker is blocked for 15 s), `exit_after_post` (the process
//! exits the moment the answer to that message has posted its first
//! message, before the post's id is recorded: a kill in that window; on
//! the message's first try only, so whoever takes it up answers).
//! Never armed in production: without
//! the variable every check is one `Option` test. A fault fires once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The variable that arms a fault.
pub const ENV: &str = "SWITCHBOARD_TEST_FAULT";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    IntakeStall,
    IntakePanic,
    StoreFail,
    RuntimeBlock,
    ExitAfterPost,
}

#[derive(Clone, Debug)]
struct Armed {
    kind: FaultKind,
    marker: String,
    /// Set once the fault fired (a store fault stays on).
    fired: Arc<AtomicBool>,
}

/// The armed fault, if any. Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct TestFaults(Option<Armed>);

impl TestFaults {
    /// Read [`ENV`]; an unreadable value is logged and ignored.
    pub fn from_env() -> Self {
        let Ok(value) = std::env::var(ENV) else {
            return Self(None);
        };
        let parsed = value.split_once(':').and_then(|(kind, marker)| {
            let kind = match kind {
                "intake_stall" => FaultKind::IntakeStall,
                "intake_panic" => FaultKind::IntakePanic,
                "store_fail" => FaultKind::StoreFail,
                "runtime_block" => FaultKind::RuntimeBlock,
                "exit_after_post" => FaultKind::ExitAfterPost,
                _ => return None,
            };
            (!marker.is_empty()).then(|| (kind, marker.to_owned()))
        });
        match parsed {
            Some((kind, marker)) => {
                tracing::warn!(?kind, %marker, "test fault armed ({ENV}); never set this in production");
                Self(Some(Armed {
                    kind,
                    marker,
                    fired: Arc::new(AtomicBool::new(false)),
                }))
            }
            None => {
                tracing::warn!(%value, "{ENV} not understood (kind:marker); ignored");
                Self(None)
            }
        }
    }

    /// The intake got a message with `text`: fire the fault if it is the
    /// one. `IntakeStall` never returns; the others return after firing.
    pub async fn on_intake(&self, text: &str) {
        let Some(armed) = &self.0 else { return };
        // Once: the bot's own answer may quote the marker.
        if armed.kind == FaultKind::ExitAfterPost
            || !text.contains(&armed.marker)
            || armed.fired.swap(true, Ordering::SeqCst)
        {
            return;
        }
        match armed.kind {
            FaultKind::IntakeStall => {
                tracing::warn!("test fault: the intake stalls");
                std::future::pending::<()>().await;
            }
            FaultKind::IntakePanic => panic!("test fault: the intake panics"),
            FaultKind::RuntimeBlock => {
                tracing::warn!("test fault: every runtime worker blocks for 15 s");
                // Spawned from a thread outside the runtime, the blockers go
                // to the shared queue, so every worker takes one.
                let runtime = tokio::runtime::Handle::current();
                let workers = runtime.metrics().num_workers();
                std::thread::spawn(move || {
                    for _ in 0..workers {
                        runtime.spawn(async { std::thread::sleep(Duration::from_secs(15)) });
                    }
                });
            }
            FaultKind::StoreFail => tracing::warn!("test fault: the store fails from now on"),
            FaultKind::ExitAfterPost => {}
        }
    }

    /// Whether store operations must report failure now.
    pub fn store_failing(&self) -> bool {
        self.0
            .as_ref()
            .is_some_and(|a| a.kind == FaultKind::StoreFail && a.fired.load(Ordering::SeqCst))
    }
}

impl TestFaults {
    /// Whether the turn answering `texts` must exit the process after its
    /// first post ([`FaultKind::ExitAfterPost`]); true once.
    pub fn exits_after_post<'a>(&self, mut texts: impl Iterator<Item = &'a str>) -> bool {
        let Some(armed) = &self.0 else { return false };
        armed.kind == FaultKind::ExitAfterPost
            && texts.any(|text| text.contains(&armed.marker))
            && !armed.fired.swap(true, Ordering::SeqCst)
    }
}

/// End the process at once, as a kill would: no task runs on, nothing is
/// said to the platform or written to the store.
pub fn exit_now(why: &str) -> ! {
    tracing::warn!(why, "test fault: the process exits now");
    std::process::exit(86)
}
