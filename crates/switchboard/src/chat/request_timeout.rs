//! How long one platform HTTP request may take before its outcome counts as
//! unknown (and the call is retried under its idempotency key).
//!
//! Each platform has a default; an environment variable may override it
//! (like `SWITCHBOARD_DISCORD_GLOBAL_LIMIT`): `SWITCHBOARD_DISCORD_REQUEST_TIMEOUT_MS`
//! and `SWITCHBOARD_SLACK_REQUEST_TIMEOUT_MS`, in milliseconds. They are
//! there for tests (which make a slow response outlive the client) and for
//! operators behind a slow proxy; not config keys, because nobody should
//! need them. Owns the reading only; must never panic on a bad value (it
//! logs and keeps the default).

use std::time::Duration;

/// Overrides Discord's REST request timeout (milliseconds).
pub const DISCORD_VAR: &str = "SWITCHBOARD_DISCORD_REQUEST_TIMEOUT_MS";
/// Overrides Slack's Web API request timeout (milliseconds).
pub const SLACK_VAR: &str = "SWITCHBOARD_SLACK_REQUEST_TIMEOUT_MS";

/// `default`, unless the environment variable `var` holds a number of
/// milliseconds (at least 1).
pub fn request_timeout(var: &str, default: Duration) -> Duration {
    match std::env::var(var) {
        Err(_) => default,
        Ok(value) => parse_millis(&value).unwrap_or_else(|| {
            tracing::error!(
                variable = var,
                value = %value,
                default_ms = default.as_millis() as u64,
                "not a number of milliseconds (at least 1); using the default request timeout"
            );
            default
        }),
    }
}

fn parse_millis(value: &str) -> Option<Duration> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_number_of_milliseconds_or_nothing() {
        assert_eq!(parse_millis("1500"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_millis(" 20 "), Some(Duration::from_millis(20)));
        assert_eq!(parse_millis("0"), None);
        assert_eq!(parse_millis("1s"), None);
        assert_eq!(parse_millis("-3"), None);
    }

    #[test]
    fn an_unset_variable_keeps_the_default() {
        let default = Duration::from_secs(7);
        assert_eq!(
            request_timeout("SWITCHBOARD_TEST_SURELY_UNSET_TIMEOUT", default),
            default
        );
    }
}
