//! The PostgreSQL backend: one pool of connections to the database named
//! by `store.url`.
//!
//! Owns connecting (one first connection that reports the real reason a
//! server cannot be reached, runs the migrations under the migrator's
//! advisory lock, then the pool), the settings every connection carries
//! (`statement_timeout`, `application_name`) and the pool's behaviour when
//! the server restarts: every connection is pinged before it is handed out
//! (`test_before_acquire`), so a dead socket left by a restart is replaced
//! rather than failing a call, and an acquire gives up after
//! `acquire_timeout`, so a database that is down fails calls promptly
//! instead of hanging them. It must never print the URL's password: every
//! text names the server by [`redacted_url`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use super::{StoreError, migrations};

/// How a PostgreSQL store's pool behaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresOptions {
    /// The most connections open at once (`store.max_connections`).
    pub max_connections: u32,
    /// Sent as `statement_timeout` on every connection: a statement running
    /// longer is cancelled by the server (`store.statement_timeout`).
    pub statement_timeout: Duration,
    /// How long a call waits for a connection (a free one, or a new one
    /// while the server is unreachable) before it fails.
    pub acquire_timeout: Duration,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions {
            max_connections: 10,
            statement_timeout: Duration::from_secs(30),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// The PostgreSQL database's pool.
#[derive(Clone, Debug)]
pub(super) struct PgBackend {
    /// Reads and writes alike: the server orders concurrent writers.
    pub(super) pool: PgPool,
    /// The URL without its password, for logs, errors and /status.
    pub(super) location: Arc<str>,
}

impl PgBackend {
    /// Connect, migrate, then open the pool.
    pub(super) async fn connect(
        url: &str,
        options: &PostgresOptions,
    ) -> Result<PgBackend, StoreError> {
        let location: Arc<str> = redacted_url(url).into();
        let (connect, mut first) = first_connection(url, options).await?;
        migrations::run_postgres(&mut first)
            .await
            .map_err(|source| StoreError::MigratePostgres {
                location: location.to_string(),
                source,
            })?;
        if let Err(err) = first.close().await {
            tracing::debug!(%err, "closing the store's first connection failed");
        }
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            // A server restart leaves dead sockets in the pool: ping each
            // connection before handing it out, and replace it if it fails.
            .test_before_acquire(true)
            .connect_lazy_with(connect);
        Ok(PgBackend { pool, location })
    }
}

/// The options every connection to `url` is made with, and one plain
/// connection made with them within `options.acquire_timeout`. Plain, not
/// from a pool: a pool retries a refused connection until its timeout and
/// then reports only that it timed out. Errors name the server by
/// [`redacted_url`].
pub(super) async fn first_connection(
    url: &str,
    options: &PostgresOptions,
) -> Result<(PgConnectOptions, PgConnection), StoreError> {
    let connect_error = |source| StoreError::Connect {
        location: redacted_url(url),
        source,
    };
    let connect = PgConnectOptions::from_str(url)
        .map_err(connect_error)?
        .application_name("switchboard")
        .options([(
            "statement_timeout",
            options.statement_timeout.as_millis().to_string(),
        )]);
    let first = tokio::time::timeout(options.acquire_timeout, connect.connect())
        .await
        .map_err(|_| {
            connect_error(sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {:?}", options.acquire_timeout),
            )))
        })?
        .map_err(connect_error)?;
    Ok((connect, first))
}

/// `url` as it may be shown: a password (in the user part or as a
/// `password=` parameter) replaced by `***`; a URL that does not parse is
/// not shown at all.
pub fn redacted_url(url: &str) -> String {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return "<a URL that does not parse>".to_owned();
    };
    if parsed.password().is_some() {
        // Only fails for URLs that cannot have a password (no host).
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let value = if key.eq_ignore_ascii_case("password") {
                    "***".to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redacted_url("postgres://sb:hunter2@db.internal:5433/switchboard"),
            "postgres://sb:***@db.internal:5433/switchboard"
        );
        assert_eq!(
            redacted_url("postgresql://sb@db/sb?password=hunter2&sslmode=disable"),
            "postgresql://sb@db/sb?password=***&sslmode=disable"
        );
        assert_eq!(
            redacted_url("postgres://127.0.0.1/test"),
            "postgres://127.0.0.1/test"
        );
        let odd = redacted_url("postgres://sb:hunter2@[bad");
        assert!(!odd.contains("hunter2"), "{odd}");
    }
}
