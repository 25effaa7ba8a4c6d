//! Persistence: what must survive a restart so that nothing is lost and
//! nothing is answered twice.
//!
//! One SQLite file, `switchboard.db`, under the configured `data_dir`
//! (default [`DEFAULT_DATA_DIR`], created on first run), opened in WAL mode
//! with `synchronous = NORMAL`, foreign keys on and a busy timeout; the
//! embedded migrations ([`migrations`]) run at every open and are idempotent.
//!
//! Kept off the broker's hot path: every write goes through one writer
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
//! # PostgreSQL later
//! The SQL is kept portable: standard types only (TEXT, BIGINT, BOOLEAN),
//! `INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE ... WHERE`, `CASE`,
//! `COUNT`/`MIN`, no SQLite-only functions, times computed in Rust. Moving
//! to Postgres would change:
//! - placeholders: the hand-written statements use `?`; Postgres needs `$1,
//!   $2, ...` (statements built with `QueryBuilder` already adapt);
//! - the pool and row types (`SqlitePool` -> `PgPool`, or `sqlx::Any`), and
//!   `open`, which sets SQLite pragmas and creates the file;
//! - the `id_key` columns should be declared `COLLATE "C"` so text compares
//!   bytewise as it does in SQLite;
//! - BOOLEAN columns become real booleans (SQLite stores 0/1); no code change.

mod accept;
mod attempts;
mod checkpoint;
mod cursors;
mod error;
mod failure;
mod id_order;
mod journal;
mod journal_state;
mod migrations;
mod seen;
mod threads;
mod usage;

#[cfg(test)]
mod open_tests;
#[cfg(test)]
mod size_tests;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub use cursors::Cursor;
pub use error::StoreError;
pub use id_order::{id_cmp, id_order_key};
pub use journal::JournalEntry;
pub use journal_state::{Backlog, JournalState, UnknownJournalState};
pub use threads::ThreadRecord;
pub use usage::ThreadUsage;

/// Where the store lives when the config names no `data_dir`.
pub const DEFAULT_DATA_DIR: &str = "switchboard-data";
/// The database file inside `data_dir`.
pub const DB_FILE_NAME: &str = "switchboard.db";
/// How long seen ids are kept by default before [`Store::prune_seen`] may
/// drop them.
pub const DEFAULT_SEEN_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);
/// How long a connection waits for a lock held elsewhere (another process,
/// the checkpoint) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Reader connections: WAL lets readers run beside the one writer.
const READERS: u32 = 3;
/// SQLite's page cache per connection, in KiB (SQLite's default is 2,000).
/// The store appends and reads by key, so its working set is a few index
/// paths; a page not cached is read from the OS's file cache, which is not
/// the broker's memory. With the default, the caches of the four
/// connections filled to 8 MB as the journal grew over a long soak, and the
/// broker's RSS grew with the run's length (docs/PERFORMANCE.md, "Soak").
const PAGE_CACHE_KIB: u32 = 512;

/// A handle to the store. Cloning is cheap (pool handles and a path).
#[derive(Clone, Debug)]
pub struct Store {
    /// Reads (and the checkpoint).
    pool: SqlitePool,
    /// Every write: one connection, so writes queue in order here.
    writer: SqlitePool,
    path: Arc<Path>,
    /// Stops the background checkpoint when the last handle is dropped.
    _checkpoint: Arc<checkpoint::Checkpointer>,
}

impl Store {
    /// Create `data_dir` if needed, open (or create) `switchboard.db` in it
    /// in WAL mode and apply the migrations.
    pub async fn open(data_dir: &Path) -> Result<Store, StoreError> {
        tokio::fs::create_dir_all(data_dir)
            .await
            .map_err(|source| StoreError::CreateDir {
                path: data_dir.to_path_buf(),
                source,
            })?;
        let path: PathBuf = data_dir.join(DB_FILE_NAME);
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT)
            .pragma("wal_autocheckpoint", checkpoint::BACKSTOP_PAGES.to_string())
            // Negative: a size in KiB rather than a page count.
            .pragma("cache_size", format!("-{PAGE_CACHE_KIB}"));
        let connect = |max: u32| {
            SqlitePoolOptions::new()
                .max_connections(max)
                // A local file does not go stale; skip the ping on every acquire.
                .test_before_acquire(false)
                .connect_with(options.clone())
        };
        let open_error = |source| StoreError::Open {
            path: path.clone(),
            source,
        };
        let writer = connect(1).await.map_err(open_error)?;
        migrations::run(&writer)
            .await
            .map_err(|source| StoreError::Migrate {
                path: path.clone(),
                source,
            })?;
        let pool = connect(READERS).await.map_err(open_error)?;
        let store = Store {
            _checkpoint: Arc::new(checkpoint::Checkpointer::start(pool.clone())),
            pool,
            writer,
            path: path.into(),
        };
        let mode = store.journal_mode().await?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                path = %store.path.display(),
                journal_mode = %mode,
                "the store could not switch to WAL mode; writes will be slower \
                 (is data_dir on a network filesystem?)"
            );
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// SQLite's journal mode as it reports it (`"wal"` when all is well).
    pub async fn journal_mode(&self) -> Result<String, StoreError> {
        sqlx::query_scalar::<_, String>("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("journal_mode"))
    }

    /// Close every connection, checkpointing the WAL into the main file
    /// and truncating it first (a closing connection's own checkpoint is
    /// skipped when another one still reads, which left a WAL of several
    /// MB behind on a busy machine). Dropping the last handle also closes
    /// it, just without waiting.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Err(err) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.writer)
            .await
        {
            tracing::debug!(%err, "closing store: the final WAL checkpoint failed");
        }
        self.writer.close().await;
    }
}

/// The current time as unix milliseconds, the unit of every store timestamp.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A fresh store in a temporary directory, for the tests of every file.
#[cfg(test)]
async fn temp_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).await.expect("open store");
    (dir, store)
}
