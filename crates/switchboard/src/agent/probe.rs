//! One-off start of an agent for `switchboard check --agent`: spawn it
//! exactly as a conversation would ([`AgentSession::start`]: the same
//! command, cleared environment, process group, `initialize` and
//! `session/new`), read what it says about itself, and stop it again.
//!
//! Owns: the probe's deadline and what a failed start reports (the error
//! plus the agent's last stderr lines).
//!
//! Must never: send a prompt (that would spend the operator's tokens), or
//! return while a process of the agent's group may still run.

use std::time::Duration;

use super::process::ProcessState;
use super::session::AgentSession;
use super::stderr_tail::StderrTail;
use super::{AgentCommand, AgentError, AgentInfo, SessionOptions};

/// Deadline for spawn + `initialize` + `session/new` in a probe.
pub const PROBE_DEADLINE: Duration = Duration::from_secs(30);

/// After a failed start, how long the agent's stderr may take to close
/// (it normally closes at once: the whole group was killed).
const STDERR_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What a probe learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeReport {
    /// What the agent said in `initialize` and `session/new`.
    pub info: AgentInfo,
    /// How the process ended when it was stopped (e.g. "killed by
    /// signal 9").
    pub ended: String,
}

/// Why a probe failed.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
pub struct ProbeFailure {
    /// The start error.
    pub error: AgentError,
    /// The last lines the agent wrote to stderr, oldest first.
    pub stderr: Vec<String>,
}

/// Start the agent with `options` (whose `start_timeout` is replaced by
/// [`PROBE_DEADLINE`]), complete `initialize` and `session/new`, then kill
/// its process group and reap it.
pub async fn probe(
    command: &AgentCommand,
    options: SessionOptions,
) -> Result<ProbeReport, ProbeFailure> {
    let options = SessionOptions {
        start_timeout: PROBE_DEADLINE,
        ..options
    };
    let tail = StderrTail::new();
    match AgentSession::start_observed(command, options, None, Some(tail.clone())).await {
        Ok(session) => {
            let info = session.info().clone();
            let state = session.state_watch();
            session.shutdown().await;
            let ended = state.borrow().clone();
            match ended {
                ProcessState::Ended { status } => Ok(ProbeReport {
                    info,
                    ended: status,
                }),
                ProcessState::Running { pid } => Err(ProbeFailure {
                    error: AgentError::Protocol(format!(
                        "the agent (pid {pid}) was not reaped after its process group was killed"
                    )),
                    stderr: tail.lines(),
                }),
            }
        }
        Err(error) => {
            // A process that never started wrote nothing.
            if !matches!(error, AgentError::Spawn { .. } | AgentError::Options(_)) {
                tail.wait_closed(STDERR_CLOSE_WAIT).await;
            }
            Err(ProbeFailure {
                error,
                stderr: tail.lines(),
            })
        }
    }
}
