//! The keep-a-connection-alive loop, the same for every platform.
//!
//! Build, run, classify, repeat: a connection runs until it ends; the end's
//! cause decides, through its one policy method [`DisconnectCause::verdict`],
//! whether the process must stop (fatal: the operator has to act) or the
//! connection is rebuilt after a backoff delay (everything else, forever).
//! A "clean" end is a disconnect like any other. Shutdown cancels every wait,
//! backoff sleeps included. This module knows nothing of any platform.

mod backoff;
pub mod summary;

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use backoff::{Backoff, jitter};

use crate::config::SupervisorConfig;
use crate::health::{ConnectionHealth, ConnectionState};

/// What the policy says about why a connection ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Reconnect after a backoff delay.
    Transient,
    /// Stop: the operator must act. `fix` tells them how.
    Fatal { fix: String },
}

/// Why a connection ended, with the policy that classifies it.
pub trait DisconnectCause: Display + Send {
    /// The one place that decides fatal versus transient.
    fn verdict(&self) -> Verdict;

    /// A floor under the backoff delay that the protocol asks for (Discord
    /// wants 1-5 s before identifying after an invalid session).
    fn min_delay(&self) -> Duration {
        Duration::ZERO
    }
}

/// How one run of a connection ended.
#[derive(Debug)]
pub enum RunEnd<C> {
    /// Shutdown was requested and the connection closed for good.
    Shutdown,
    /// The connection was lost. `healthy_for` is how long it had been live
    /// (zero if it never got there): long enough resets the backoff.
    Lost { cause: C, healthy_for: Duration },
}

/// A platform connection that can be (re)built and run to its end.
pub trait Connection: Send {
    type Cause: DisconnectCause;

    /// Connect, serve until the connection ends or `shutdown` fires, and say
    /// why it ended. Must itself honour `shutdown` and bound every wait.
    fn run_once(
        &mut self,
        shutdown: &CancellationToken,
    ) -> impl Future<Output = RunEnd<Self::Cause>> + Send;
}

/// A connection that ended for a reason the operator must fix.
#[derive(Debug, thiserror::Error)]
#[error("{platform} connection closed fatally: {cause}. Fix: {fix}")]
pub struct FatalError {
    pub platform: &'static str,
    pub cause: String,
    pub fix: String,
}

/// Apply the policy: `Some` when `cause` is fatal. The caller that stops
/// the process logs it, once.
pub fn fatal_error(platform: &'static str, cause: &impl DisconnectCause) -> Option<FatalError> {
    let Verdict::Fatal { fix } = cause.verdict() else {
        return None;
    };
    Some(FatalError {
        platform,
        cause: cause.to_string(),
        fix,
    })
}

/// Keep `connection` alive until shutdown (`Ok`) or a fatal cause (`Err`).
pub async fn supervise<C: Connection>(
    mut connection: C,
    health: ConnectionHealth,
    config: SupervisorConfig,
    shutdown: CancellationToken,
) -> Result<(), FatalError> {
    let platform = health.platform();
    let mut backoff = Backoff::new(
        config.backoff_initial,
        config.backoff_max,
        config.healthy_reset,
    );
    loop {
        health.transition(ConnectionState::Connecting);
        let (cause, healthy_for) = match connection.run_once(&shutdown).await {
            RunEnd::Shutdown => {
                health.transition(ConnectionState::Stopped);
                return Ok(());
            }
            RunEnd::Lost { cause, healthy_for } => (cause, healthy_for),
        };
        let cause_text = cause.to_string();
        health.record_disconnect(&cause_text);

        if let Some(fatal) = fatal_error(platform, &cause) {
            health.transition(ConnectionState::FatallyClosed { cause: cause_text });
            return Err(fatal);
        }
        if shutdown.is_cancelled() {
            health.transition(ConnectionState::Stopped);
            return Ok(());
        }

        let (attempt, base) = backoff.on_disconnect(healthy_for);
        let delay = jitter(base, config.backoff_max, rand::random::<f64>()).max(cause.min_delay());
        let until = Instant::now() + delay;
        tracing::warn!(
            platform,
            connection = health.name(),
            attempt,
            delay_ms = delay.as_millis() as u64,
            cause = %cause_text,
            "reconnecting"
        );
        health.transition(ConnectionState::BackingOff { attempt, until });
        tokio::select! {
            biased;
            // Shutdown first: a backoff sleep must never delay exit.
            () = shutdown.cancelled() => {
                health.transition(ConnectionState::Stopped);
                return Ok(());
            }
            () = tokio::time::sleep_until(until) => {}
        }
    }
}

#[cfg(test)]
mod tests;
