//! Retrying one platform write (thread opening, post, edit) a few times.
//!
//! Owns the backoff schedule. Retries only what
//! [`OutboundError::is_transient`] calls transient (5xx, timeouts, resets):
//! a refusal or a rejected credential will not change by waiting. Never
//! retries forever: a write that cannot be made gives up and says why. A
//! post is retried under its one idempotency key, so a retry after an
//! unknown outcome does not post twice.

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

/// Run `call` until it succeeds, fails for good (not transient), or has
/// failed once more than there are backoff steps; returns the last error.
pub async fn with_retry<T, F, Fut>(what: &'static str, mut call: F) -> Result<T, OutboundError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, OutboundError>>,
{
    let mut waits = BACKOFF.iter();
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if !error.is_transient() => return Err(error),
            Err(error) => {
                let Some(&wait) = waits.next() else {
                    return Err(error);
                };
                tracing::warn!(call = what, %error, retry_in_ms = wait.as_millis() as u64, "platform write failed; retrying");
                sleep(wait).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    async fn calls_until(first_errors: Vec<OutboundError>) -> (Result<u32, OutboundError>, u32) {
        let calls = AtomicU32::new(0);
        let errors = std::sync::Mutex::new(first_errors.into_iter());
        let result = with_retry("test", || {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            let next = errors.lock().unwrap().next();
            async move { next.map_or(Ok(n), Err) }
        })
        .await;
        (result, calls.load(Ordering::SeqCst))
    }

    #[tokio::test(start_paused = true)]
    async fn a_transient_error_is_retried_until_it_succeeds() {
        let (result, calls) = calls_until(vec![
            OutboundError::Unavailable("500".into()),
            OutboundError::Unavailable("reset".into()),
        ])
        .await;
        assert_eq!(result.unwrap(), 3);
        assert_eq!(calls, 3);
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_or_a_bad_credential_is_not_retried() {
        let (result, calls) =
            calls_until(vec![OutboundError::Rejected("403: Missing Access".into())]).await;
        assert!(matches!(result, Err(OutboundError::Rejected(_))));
        assert_eq!(calls, 1);
        let (result, calls) = calls_until(vec![OutboundError::Unauthorized]).await;
        assert!(matches!(result, Err(OutboundError::Unauthorized)));
        assert_eq!(calls, 1);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded() {
        let errors = (0..10)
            .map(|_| OutboundError::Unavailable("503".into()))
            .collect();
        let (result, calls) = calls_until(errors).await;
        assert!(matches!(result, Err(OutboundError::Unavailable(_))));
        assert_eq!(calls as usize, BACKOFF.len() + 1);
    }
}
