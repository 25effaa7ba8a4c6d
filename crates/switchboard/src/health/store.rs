//! The durable store's figures as the operator sees them in /status and
//! /metrics: location, journal backlog, catch-up count, errors.

use std::sync::{Arc, Mutex};

use serde::Serialize;

/// The durable store as the operator sees it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StoreFigures {
    /// The SQLite file, or the PostgreSQL server and database (never its
    /// password).
    pub location: String,
    /// Accepted messages not yet answered (received, prompted, interrupted).
    pub journal_backlog: u64,
    /// Age of the oldest of them.
    pub oldest_unanswered_age_ms: Option<u64>,
    /// Messages fetched by catch-up after downtime and acted on.
    pub caught_up_total: u64,
    /// Store operations that failed (each also logged at WARN).
    pub errors_total: u64,
    pub last_error: Option<String>,
}

/// Shared, updatable [`StoreFigures`].
#[derive(Clone, Debug, Default)]
pub struct StoreHealth {
    inner: Arc<Mutex<Option<StoreFigures>>>,
}

impl StoreHealth {
    fn with(&self, f: impl FnOnce(&mut StoreFigures)) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        f(inner.get_or_insert_with(StoreFigures::default));
    }

    pub fn set_location(&self, location: &str) {
        self.with(|f| f.location = location.to_owned());
    }

    pub fn record_error(&self, error: &str) {
        self.with(|f| {
            f.errors_total += 1;
            f.last_error = Some(error.to_owned());
        });
    }

    pub fn record_caught_up(&self) {
        self.with(|f| f.caught_up_total += 1);
    }

    pub fn set_backlog(&self, unanswered: u64, oldest_age_ms: Option<u64>) {
        self.with(|f| {
            f.journal_backlog = unanswered;
            f.oldest_unanswered_age_ms = oldest_age_ms;
        });
    }

    /// `None` until a store is in use.
    pub fn figures(&self) -> Option<StoreFigures> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
