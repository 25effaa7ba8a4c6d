//! The SQLite backend: one file in `data_dir`, WAL, a reader pool beside
//! one writer connection, and the background checkpoint.
//!
//! Owns opening the file (directory, pragmas, migrations, the WAL check)
//! and closing it with a final checkpoint. It must never be reached for by
//! a store method directly: those go through `on_backend!`, so that every
//! statement also runs on PostgreSQL.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::{DB_FILE_NAME, StoreError, checkpoint, migrations};

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
pub(super) const PAGE_CACHE_KIB: u32 = 512;

/// The SQLite file's pools.
#[derive(Clone, Debug)]
pub(super) struct SqliteBackend {
    /// Reads (and the checkpoint).
    pub(super) pool: SqlitePool,
    /// Every write: one connection, so writes queue in order here.
    pub(super) writer: SqlitePool,
    pub(super) path: Arc<Path>,
    /// Stops the background checkpoint when the last handle is dropped.
    pub(super) _checkpoint: Arc<checkpoint::Checkpointer>,
}

impl SqliteBackend {
    /// Create `data_dir` if needed, open (or create) `switchboard.db` in it
    /// in WAL mode and apply the migrations.
    pub(super) async fn open(data_dir: &Path) -> Result<SqliteBackend, StoreError> {
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
        migrations::run_sqlite(&writer)
            .await
            .map_err(|source| StoreError::Migrate {
                path: path.clone(),
                source,
            })?;
        let pool = connect(READERS).await.map_err(open_error)?;
        let backend = SqliteBackend {
            _checkpoint: Arc::new(checkpoint::Checkpointer::start(pool.clone())),
            pool,
            writer,
            path: path.into(),
        };
        let mode = backend.journal_mode().await?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                path = %backend.path.display(),
                journal_mode = %mode,
                "the store could not switch to WAL mode; writes will be slower \
                 (is data_dir on a network filesystem?)"
            );
        }
        Ok(backend)
    }

    /// SQLite's journal mode as it reports it (`"wal"` when all is well).
    pub(super) async fn journal_mode(&self) -> Result<String, StoreError> {
        sqlx::query_scalar::<_, String>("PRAGMA journal_mode")
            .fetch_one(&self.pool)
            .await
            .map_err(StoreError::query("journal_mode"))
    }

    /// Close every connection, checkpointing the WAL into the main file
    /// and truncating it first (a closing connection's own checkpoint is
    /// skipped when another one still reads, which left a WAL of several
    /// MB behind on a busy machine).
    pub(super) async fn close(&self) {
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
