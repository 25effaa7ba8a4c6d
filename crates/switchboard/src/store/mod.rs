//! Persistence: what must survive a restart so that nothing is lost and
//! nothing is answered twice.
//!
//! By default one SQLite file, `switchboard.db`, under the configured
//! `data_dir` (default [`DEFAULT_DATA_DIR`], created on first run), opened in
//! WAL mode with `synchronous = NORMAL`, foreign keys on and a busy timeout;
//! or a PostgreSQL database (`store.url`, see "Two backends" below). The
//! embedded migrations ([`migrations`]) run at every open and are idempotent.
//!
//! Kept off the broker's hot path: on SQLite every write goes through one writer
//! connection (writers queue in order in the pool, instead of colliding in
//! SQLite's lock and sleeping in its busy handler), reads through a few
//! reader connections beside it, and the WAL is copied back into the main
//! file by a background checkpoint ([`checkpoint`]) rather than by whichever
//! write happens to cross SQLite's automatic threshold (a checkpoint fsyncs,
//! the writes themselves do not); that threshold stays as the backstop under
//! sustained load.
//!
//! What it keeps, one file per idea:
//! - [`seen`]: processed inbound message ids (dedupe across restarts).
//! - [`threads`]: the threads switchboard owns or has answered in, with the
//!   agent session that serves each.
//! - [`journal`]: accepted inbound messages, written before they are acted
//!   on, with their progress (received -> prompted -> answered | failed |
//!   interrupted, [`journal_state`]) and the reply messages sent so far.
//! - [`cursors`]: the catch-up cursor per channel or thread, which only moves
//!   forward; ids are ordered by [`id_order_key`] ([`id_order`]).
//! - [`accept`]: the writes of accepting a message and of finishing a turn,
//!   each in one transaction.
//! - [`instances`], [`leases`], [`gateway_sessions`]: several instances of
//!   one bot (issue 14): heartbeats and load, leases with fencing tokens on
//!   the database's clock, and the Discord session a standby resumes.
//!
//! [`Store`] is a cheap `Clone` handle over the connection pools. Every method
//! is async (sqlx runs SQLite on its own worker threads), so store access
//! never blocks the runtime; the only filesystem call outside sqlx is the
//! directory creation in [`Store::open`], done with `tokio::fs`. Every method
//! returns `Result<_, StoreError>` naming the operation that failed.
//!
//! This module must never decide policy (what to dedupe, when to prune,
//! whether to answer): callers pass ids and timestamps (unix milliseconds,
//! from [`now_ms`] or their own clock) and get facts back. It must never hold
//! a lock across an `.await` (it holds none) and never import `broker`,
//! `chat` or `agent`.
//!
//! # Two backends
//! [`Store::open`] opens the embedded SQLite file (the default);
//! [`Store::connect_postgres`] connects to PostgreSQL (`store.url`). Both
//! serve the same API with the same SQL text: every statement numbers its
//! parameters (`$1, $2, ...`), which SQLite's driver binds by number too,
//! and each method runs its statement through `on_backend!` (below), which
//! monomorphises the body once per backend. Where the two cannot share a
//! statement (several statements in one round trip: SQLite runs a list,
//! PostgreSQL a data-modifying `WITH`), the method says so beside both.
//! Each backend has its own migration list ([`migrations`]); PostgreSQL's
//! declares the `id_key` columns `COLLATE "C"` so text compares bytewise
//! as in SQLite, and BOOLEAN columns are real booleans there. SQLite-only:
//! the pragmas, WAL and its checkpoint ([`sqlite`], [`checkpoint`]).
//! PostgreSQL-only: the pool size, statement timeout and reconnects
//! ([`postgres`]).

/// Run `$body` with `$pool` bound to the backend's pool: `reader` (SQLite's
/// reader pool) or `writer` (SQLite's one writer connection); PostgreSQL has
/// one pool for both. The body is compiled once per backend, so one
/// statement text and one chain of binds serve both; it must evaluate to
/// the same type on both (map rows and results inside it).
macro_rules! on_backend {
    ($store:expr, reader, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite(backend) => {
                let $pool = &backend.pool;
                $body
            }
            $crate::store::Backend::Postgres(backend) => {
                let $pool = &backend.pool;
                $body
            }
        }
    };
    ($store:expr, writer, |$pool:ident| $body:expr) => {
        match &$store.backend {
            $crate::store::Backend::Sqlite(backend) => {
                let $pool = &backend.writer;
                $body
            }
            $crate::store::Backend::Postgres(backend) => {
                let $pool = &backend.pool;
                $body
            }
        }
    };
}

/// Turn test functions `async fn name(backend: TestBackend)` into two
/// tests each, `name::sqlite` and `name::postgres` (`multi_thread:` first:
/// on a two-thread runtime).
#[cfg(test)]
macro_rules! both_backends {
    (@one $name:ident, #[$test:meta]) => {
        mod $name {
            use $crate::store::test_support::TestBackend;

            #[$test]
            async fn sqlite() {
                super::$name(TestBackend::Sqlite).await
            }

            #[$test]
            async fn postgres() {
                super::$name(TestBackend::Postgres).await
            }
        }
    };
    (multi_thread: $($name:ident),+ $(,)?) => {
        $(both_backends!(@one $name, #[tokio::test(flavor = "multi_thread", worker_threads = 2)]);)+
    };
    ($($name:ident),+ $(,)?) => {
        $(both_backends!(@one $name, #[tokio::test]);)+
    };
}

mod accept;
mod attempts;
mod checkpoint;
mod cursors;
mod error;
mod failure;
mod forwarded;
mod gateway_sessions;
mod id_order;
mod instances;
mod journal;
mod journal_state;
mod leases;
mod migrations;
mod postgres;
mod reach;
mod schema;
mod seen;
mod sqlite;
mod thread_leases;
mod threads;
mod usage;
mod wake;

#[cfg(test)]
mod open_tests;
#[cfg(test)]
mod pg_tests;
#[cfg(test)]
mod size_tests;
#[cfg(test)]
#[path = "../../tests/support/flaky_server.rs"]
pub(crate) mod test_proxy;
#[cfg(test)]
pub(crate) mod test_support;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use cursors::Cursor;
pub use error::StoreError;
pub use forwarded::ForwardedInput;
pub use gateway_sessions::GatewaySession;
pub use id_order::{id_cmp, id_order_key};
pub use instances::InstanceRecord;
pub use journal::JournalEntry;
pub use journal_state::{Backlog, JournalState, UnknownJournalState};
pub use leases::{Fence, FenceSource, LeaseRecord};
pub use migrations::postgres_latest as postgres_latest_migration;
pub use postgres::{PostgresOptions, redacted_url};
pub use reach::ReachProbe;
pub use schema::{PgSchema, SchemaState, inspect_postgres};
pub use thread_leases::{THREAD_LEASE_PREFIX, thread_lease_name};
pub use threads::ThreadRecord;
pub use usage::ThreadUsage;
pub use wake::{WAKE_CHANNEL, Wakeup, Wakeups};

/// Where the store lives when the config names no `data_dir`.
pub const DEFAULT_DATA_DIR: &str = "switchboard-data";
/// The database file inside `data_dir`.
pub const DB_FILE_NAME: &str = "switchboard.db";
/// How long seen ids are kept by default before [`Store::prune_seen`] may
/// drop them.
pub const DEFAULT_SEEN_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A handle to the store. Cloning is cheap (pool handles and a few `Arc`s).
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
    /// Set by [`Store::fenced_by`]: the journal's state writes carry this
    /// lease's fence (issue 14).
    fence: Option<leases::FenceSource>,
}

/// The database behind a [`Store`].
#[derive(Clone, Debug)]
enum Backend {
    Sqlite(sqlite::SqliteBackend),
    Postgres(postgres::PgBackend),
}

impl Store {
    /// Create `data_dir` if needed, open (or create) `switchboard.db` in it
    /// in WAL mode and apply the migrations (the embedded default).
    pub async fn open(data_dir: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Sqlite(sqlite::SqliteBackend::open(data_dir).await?),
            fence: None,
        })
    }

    /// Connect to the PostgreSQL database at `url` (`postgres://` or
    /// `postgresql://`) and apply the migrations; several instances may
    /// do so at once (the migrator takes an advisory lock).
    pub async fn connect_postgres(
        url: &str,
        options: &PostgresOptions,
    ) -> Result<Store, StoreError> {
        Ok(Store {
            backend: Backend::Postgres(postgres::PgBackend::connect(url, options).await?),
            fence: None,
        })
    }

    /// Where the data lives, for logs and /status: the database file, or
    /// the PostgreSQL server and database (its password never shown).
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Sqlite(backend) => backend.path.display().to_string(),
            Backend::Postgres(backend) => backend.location.to_string(),
        }
    }

    /// The database file, for the SQLite backend only.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.backend {
            Backend::Sqlite(backend) => Some(&backend.path),
            Backend::Postgres(_) => None,
        }
    }

    /// One round trip on the connection writes go through (SQLite's writer,
    /// a connection from PostgreSQL's pool): whether the store can take a
    /// write now. Answers within the pool's acquire timeout when the
    /// server is unreachable; the caller bounds a server that accepted the
    /// connection and then went silent.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_backend!(self, writer, |pool| {
            sqlx::query("SELECT 1").execute(pool).await.map(|_| ())
        })
        .map_err(StoreError::query("ping"))
    }

    /// Close every connection (SQLite: checkpointing the WAL into the main
    /// file first, see [`sqlite::SqliteBackend::close`]). Dropping the last
    /// handle also closes the store, just without waiting.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(backend) => backend.close().await,
            Backend::Postgres(backend) => backend.pool.close().await,
        }
    }
}

/// The current time as unix milliseconds, the unit of every store timestamp.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}
