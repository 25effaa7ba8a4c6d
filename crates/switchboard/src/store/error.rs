//! The store's one error type.
//!
//! Owns the wording an operator reads when the store cannot start (which
//! path or server, and what to do about it) and the context of every failed query
//! (which operation), and the one fact callers decide on: whether an error
//! means the database could not be reached ([`StoreError::is_unavailable`])
//! rather than that it refused this one statement. It must never decide
//! whether an error is fatal for the process: the caller does that (an
//! open error at start-up usually is).

use std::path::PathBuf;

use sqlx::migrate::MigrateError;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `data_dir` could not be created.
    #[error(
        "cannot create the store directory {}: {source}; create it by hand, writable \
         by this user, or set data_dir to a writable directory",
        .path.display()
    )]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The database file could not be opened or created.
    #[error(
        "cannot open the store database {}: {source}; check that its directory exists, \
         is a directory and is writable by this user (SQLite also creates the -wal and \
         -shm files beside it), or set data_dir to a writable directory",
        .path.display()
    )]
    Open { path: PathBuf, source: sqlx::Error },
    /// The schema could not be brought up to date.
    #[error(
        "cannot apply the store migrations to {}: {source}; if the file is read-only or \
         its directory is not writable, fix the permissions or set data_dir elsewhere; \
         if it was written by a newer switchboard, run that version or move the file away",
        .path.display()
    )]
    Migrate { path: PathBuf, source: MigrateError },
    /// The PostgreSQL server could not be reached or refused the login.
    #[error(
        "cannot connect to the PostgreSQL store at {location}: {source}; check that the \
         server is running and reachable from here (pg_isready -h HOST -p PORT), that the \
         database in store.url exists, and that its user and password are right"
    )]
    Connect {
        /// The URL with its password replaced by `***`.
        location: String,
        source: sqlx::Error,
    },
    /// The PostgreSQL schema could not be brought up to date.
    #[error(
        "cannot apply the store migrations to the PostgreSQL store at {location}: {source}; \
         the user in store.url needs the right to create tables in the database; if the \
         schema was written by a newer switchboard, run that version"
    )]
    MigratePostgres {
        /// The URL with its password replaced by `***`.
        location: String,
        source: MigrateError,
    },
    /// The database cancelled a statement (PostgreSQL's `statement_timeout`).
    #[error(
        "store {op} failed: the database cancelled it ({source}); the server is slow or a \
         lock is held too long, or store.statement_timeout is too short"
    )]
    Cancelled {
        op: &'static str,
        source: sqlx::Error,
    },
    /// A query failed.
    #[error("store {op} failed: {source}")]
    Query {
        op: &'static str,
        source: sqlx::Error,
    },
    /// The thread to update is not in the store.
    #[error("store {op}: no thread {thread_id} on {platform}")]
    NoSuchThread {
        op: &'static str,
        platform: String,
        thread_id: String,
    },
    /// Some of the journal entries to update are not in the store; nothing
    /// was changed.
    #[error("store {op}: not every message of {message_ids:?} on {platform} is journaled")]
    NoSuchEntry {
        op: &'static str,
        platform: String,
        message_ids: Vec<String>,
    },
    /// A write under a lease was refused: the lease is no longer the
    /// writer's with that token (another instance took it, or it expired).
    #[error(
        "store {op} refused: the lease {lease} is no longer held with token {token} (another          instance took it over or it expired); this instance stopped acting on it"
    )]
    Fenced {
        op: &'static str,
        lease: String,
        token: i64,
    },
    /// A row holds a value this version cannot read.
    #[error("store {op}: unreadable row: {detail}")]
    Corrupt { op: &'static str, detail: String },
}

impl StoreError {
    /// The database could not be reached, or went away in the middle: no
    /// connection within the acquire timeout, a socket error, the server
    /// shutting down or refusing connections for now. Such a call may
    /// succeed once the database is back; an error the server answered
    /// for the statement itself (a constraint, a value it cannot store, a
    /// statement timeout) would fail again and is not one.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Connect { .. } => true,
            StoreError::Query { source, .. } => unreachable(source),
            _ => false,
        }
    }

    /// A `map_err` adapter that names the failed operation.
    pub(super) fn query(op: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
        move |source| {
            // SQLSTATE 57014 query_canceled: statement_timeout (or an
            // operator's pg_cancel_backend).
            let cancelled = source
                .as_database_error()
                .and_then(|e| e.code())
                .is_some_and(|code| code == "57014");
            if cancelled {
                StoreError::Cancelled { op, source }
            } else {
                StoreError::Query { op, source }
            }
        }
    }
}

/// Whether `error` says the database was not reached (see
/// [`StoreError::is_unavailable`]).
fn unreachable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Class 08: connection exception; 57P01-57P03: the server is
            // shutting down, crashed, or not accepting connections yet.
            code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_name_the_path_and_the_fix() {
        let e = StoreError::CreateDir {
            path: PathBuf::from("/srv/sb"),
            source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        };
        let text = e.to_string();
        assert!(text.contains("/srv/sb"), "{text}");
        assert!(text.contains("data_dir"), "{text}");
    }

    #[test]
    fn only_errors_of_reaching_the_database_are_unavailable() {
        let query = |source| StoreError::query("journal_accept")(source);
        assert!(query(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(
            query(sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())).is_unavailable()
        );
        assert!(!query(sqlx::Error::RowNotFound).is_unavailable());
        assert!(
            !StoreError::Corrupt {
                op: "threads",
                detail: "x".into()
            }
            .is_unavailable()
        );
    }

    #[test]
    fn query_errors_name_the_operation() {
        let e = StoreError::query("first_sighting")(sqlx::Error::PoolClosed);
        assert!(e.to_string().starts_with("store first_sighting failed"));
    }
}
