//! The HTTP client each platform's REST side uses (Discord REST, the Slack
//! Web API): its timeouts and how many idle connections it keeps.
//!
//! Bounded: at most [`IDLE_CONNECTIONS_PER_HOST`] idle keep-alive
//! connections per host, each closed after [`IDLE_CONNECTION_TTL`] unused
//! (reqwest's default keeps every connection a burst opened, for 90 s).
//! Must never carry a token: headers are set per request by the callers.

use std::time::Duration;

/// Idle keep-alive connections kept per host. A burst of concurrent posts
/// (one per thread answering) opens one connection each; past this many,
/// the extra ones close as soon as they are idle, so they do not hold
/// sockets and buffers after the burst.
pub const IDLE_CONNECTIONS_PER_HOST: usize = 8;
/// An idle connection unused this long is closed (reqwest's default).
pub const IDLE_CONNECTION_TTL: Duration = Duration::from_secs(90);

/// A client whose every request (and connect) ends within `timeout`.
pub fn platform_http_client(timeout: Duration) -> reqwest::Client {
    crate::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST)
        .pool_idle_timeout(IDLE_CONNECTION_TTL)
        .build()
        // Only a broken TLS set-up fails here, and the provider was
        // installed just above: a bug, not an input error.
        .expect("the HTTP client for a platform's REST API")
}
