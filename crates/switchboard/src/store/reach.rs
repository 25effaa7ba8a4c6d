//! Whether the store's server can be reached right now, asked on a
//! connection of the asker's own (ADR 21's probe).
//!
//! Not through the pool: the pool retries a refused connection until its
//! acquire timeout (5 s by default) and only then fails, so a server that
//! is stopped or restarting would show as reachable for that long, and a
//! pool busy with the broker's work would make a healthy server look slow.
//! On PostgreSQL a [`ReachProbe`] keeps one connection outside the pool
//! between checks: a restart terminates it, so the next check fails at
//! once; after any failure the next check connects anew, and a refused or
//! not-yet-ready server fails that at once too. On SQLite (a file, nothing
//! to reach) a check is [`Store::ping`].
//!
//! Owns that one connection; it must never be used for the broker's work,
//! and a check dropped mid-way (its caller's deadline) drops the connection
//! with it, so a half-answered one is never reused.

use sqlx::{ConnectOptions, PgConnection};

use super::{Backend, Store, StoreError};

/// A reachability check with a connection of its own (see the module doc).
pub struct ReachProbe {
    store: Store,
    /// PostgreSQL: the connection the last successful check used.
    own: Option<PgConnection>,
}

impl Store {
    /// A probe of this store's reachability, for one asker.
    pub fn reach_probe(&self) -> ReachProbe {
        ReachProbe {
            store: self.clone(),
            own: None,
        }
    }
}

impl ReachProbe {
    /// One round trip to the server (`SELECT 1`). Unbounded when the
    /// server accepted the connection and went silent: the caller puts a
    /// deadline on it.
    pub async fn check(&mut self) -> Result<(), StoreError> {
        let Backend::Postgres(backend) = &self.store.backend else {
            return self.store.ping().await;
        };
        let mut conn = match self.own.take() {
            Some(conn) => conn,
            None => backend
                .pool
                .connect_options()
                .connect()
                .await
                .map_err(StoreError::query("reach probe connect"))?,
        };
        sqlx::query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(StoreError::query("reach probe"))?;
        self.own = Some(conn);
        Ok(())
    }
}
