//! `[cluster]`: this instance's name and the leases it takes when several
//! instances of one bot share a PostgreSQL store (issue 14). Owns the
//! defaults and their reasons; never reads the store.
//!
//! The keys apply with `store.url` only: on the embedded SQLite store one
//! instance runs and holds everything, as before.

use std::time::Duration;

use super::error::ConfigError;
use super::raw::RawCluster;
use super::validate_bridge::duration;

/// Default `cluster.lease_ttl`.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
/// The shortest `cluster.lease_ttl`: renewals run every third of it, and a
/// database round trip must fit in that many times over.
pub const MIN_LEASE_TTL: Duration = Duration::from_millis(500);

/// `[cluster]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// `cluster.instance_id`: this instance's name in the store; `None`:
    /// the host's name and the process id (`host-1234`).
    pub instance_id: Option<String>,
    /// `cluster.lease_ttl`: how long a lease lasts without renewal; a
    /// holder renews every third of it and stops acting before it ends.
    pub lease_ttl: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self {
            instance_id: None,
            lease_ttl: DEFAULT_LEASE_TTL,
        }
    }
}

pub(super) fn cluster(
    raw: Option<RawCluster>,
    postgres: bool,
    file: &str,
) -> Result<ClusterConfig, ConfigError> {
    let Some(raw) = raw else {
        return Ok(ClusterConfig::default());
    };
    if !postgres {
        return Err(ConfigError::invalid(
            file,
            "cluster",
            "applies when several instances share a PostgreSQL store; set store.url = \
             \"postgres://...\" or remove [cluster] (one instance on the SQLite store holds \
             everything)",
        ));
    }
    let instance_id = match raw.instance_id {
        None => None,
        Some(id) if valid_instance_id(&id) => Some(id),
        Some(id) => {
            return Err(ConfigError::invalid(
                file,
                "cluster.instance_id",
                format!(
                    "is {id:?}; use 1 to 100 characters of letters, digits, '-', '_' and '.' \
                     (or leave it out: the host's name and the process id)"
                ),
            ));
        }
    };
    let lease_ttl = duration(
        file,
        "cluster.lease_ttl",
        raw.lease_ttl.as_deref(),
        DEFAULT_LEASE_TTL,
    )?;
    if lease_ttl < MIN_LEASE_TTL {
        return Err(ConfigError::invalid(
            file,
            "cluster.lease_ttl",
            format!(
                "is {lease_ttl:?}; use at least {MIN_LEASE_TTL:?} (leases are renewed every \
                 third of it, a database round trip each)"
            ),
        ));
    }
    Ok(ClusterConfig {
        instance_id,
        lease_ttl,
    })
}

/// Letters, digits, `-`, `_`, `.`; 1 to 100 characters.
pub fn valid_instance_id(id: &str) -> bool {
    (1..=100).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}
