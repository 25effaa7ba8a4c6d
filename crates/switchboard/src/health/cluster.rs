//! This instance among several (issue 14), for /status: its id, the
//! leases it holds now with their fencing tokens (the Discord shard), and
//! how many threads it owns (ADR 22; a count, not the list).
//!
//! Owns only figures; it never takes or renews a lease. Bounded: one entry
//! per shard lease this instance holds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// What /status shows under `cluster` (absent on the embedded store).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ClusterFigures {
    pub instance: String,
    /// Lease name -> fencing token, for the shard leases held now.
    pub leases: BTreeMap<String, i64>,
    /// Threads whose lease this instance holds now.
    pub threads_owned: usize,
}

/// Reads how many threads this instance owns, at /status time.
pub type ThreadCount = Arc<dyn Fn() -> usize + Send + Sync>;

#[derive(Clone, Default)]
pub struct ClusterHealth {
    inner: Arc<Mutex<Option<ClusterFigures>>>,
    threads: Arc<Mutex<Option<ThreadCount>>>,
}

impl std::fmt::Debug for ClusterHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterHealth")
            .field("figures", &self.figures())
            .finish()
    }
}

impl ClusterHealth {
    fn with(&self, f: impl FnOnce(&mut Option<ClusterFigures>)) {
        f(&mut self.inner.lock().unwrap_or_else(|e| e.into_inner()));
    }

    /// This process runs as instance `id` of several.
    pub fn set_instance(&self, id: &str) {
        self.with(|figures| {
            *figures = Some(ClusterFigures {
                instance: id.to_owned(),
                leases: BTreeMap::new(),
                threads_owned: 0,
            });
        });
    }

    /// Lease `name` is held with `token` (`None`: not held any more).
    pub fn set_lease(&self, name: &str, token: Option<i64>) {
        self.with(|figures| {
            if let Some(figures) = figures {
                match token {
                    Some(token) => figures.leases.insert(name.to_owned(), token),
                    None => figures.leases.remove(name),
                };
            }
        });
    }

    /// Where the count of threads owned is read.
    pub fn count_threads_with(&self, count: ThreadCount) {
        *self.threads.lock().unwrap_or_else(|e| e.into_inner()) = Some(count);
    }

    /// `None` when this process is not one of several.
    pub fn figures(&self) -> Option<ClusterFigures> {
        let mut figures = self
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()?;
        if let Some(count) = &*self.threads.lock().unwrap_or_else(|e| e.into_inner()) {
            figures.threads_owned = count();
        }
        Some(figures)
    }
}
