//! This instance among several (issue 14), for /status: its id and the
//! leases it holds now, with their fencing tokens.
//!
//! Owns only figures; it never takes or renews a lease. Bounded: one entry
//! per lease this instance holds (a shard per platform today).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;

/// What /status shows under `cluster` (absent on the embedded store).
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct ClusterFigures {
    pub instance: String,
    /// Lease name -> fencing token, for the leases held now.
    pub leases: BTreeMap<String, i64>,
}

#[derive(Clone, Debug, Default)]
pub struct ClusterHealth {
    inner: Arc<Mutex<Option<ClusterFigures>>>,
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

    /// `None` when this process is not one of several.
    pub fn figures(&self) -> Option<ClusterFigures> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
