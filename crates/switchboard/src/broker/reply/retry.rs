//! Retrying one platform write (post or edit) a few times.
//!
//! Owns the backoff schedule. Must never retry a rejected credential
//! (`Unauthorized`: nothing will change by waiting) and never retry
//! forever: a reply that cannot be written gives up and says why.

use std::future::Future;
use std::time::Duration;

use tokio::time::sleep;

use crate::chat::OutboundError;

/// Waits before the second, third and fourth attempts.
pub const BACKOFF: [Duration; 3] = [
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_secs(2),
];

/// Run `call` until it succeeds, fails with `Unauthorized`, or has failed
/// once more than there are backoff steps; returns the last error.
pub async fn with_retry<T, F, Fut>(what: &'static str, mut call: F) -> Result<T, OutboundError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OutboundError>>,
{
    let mut waits = BACKOFF.iter();
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(OutboundError::Unauthorized) => return Err(OutboundError::Unauthorized),
            Err(error) => {
                let Some(&wait) = waits.next() else {
                    return Err(error);
                };
                tracing::warn!(call = what, %error, retry_in_ms = wait.as_millis() as u64, "reply write failed; retrying");
                sleep(wait).await;
            }
        }
    }
}
