//! The value rules of `[store]`: the SQLite `data_dir`, or PostgreSQL's
//! `url` with `max_connections` and `statement_timeout`, and
//! `prune_after`. Part of `validate`.
//!
//! Owns which keys go with which backend and what a store URL must look
//! like. It must never put `store.url` or its password into a message:
//! a message names the URL only as `redacted_url` shows it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::bridge::{PostgresStoreConfig, StoreConfig};
use super::raw::RawStore;
use super::validate_bridge::duration;
use super::{ConfigError, Secret};
use crate::store::redacted_url;

/// `store.max_connections` when not set.
pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
/// The largest `store.max_connections` accepted.
const MAX_MAX_CONNECTIONS: i64 = 100;
/// `store.statement_timeout` when not set.
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// The URL schemes that select PostgreSQL.
const SCHEMES: [&str; 2] = ["postgres", "postgresql"];

/// `[store]`; a relative `data_dir` is resolved against `base`.
pub(super) fn store(raw: RawStore, file: &str, base: &Path) -> Result<StoreConfig, ConfigError> {
    let postgres = match raw.url.as_deref() {
        Some(url) => Some(postgres(&raw, url, file)?),
        None => {
            for (key, set) in [
                ("store.max_connections", raw.max_connections.is_some()),
                ("store.statement_timeout", raw.statement_timeout.is_some()),
            ] {
                if set {
                    return Err(ConfigError::invalid(
                        file,
                        key,
                        "applies to a PostgreSQL store only; set store.url = \
                         \"postgres://...\" as well, or remove this key (the SQLite \
                         store in store.data_dir has no pool)",
                    ));
                }
            }
            None
        }
    };
    let data_dir = match raw.data_dir.as_deref().map(str::trim) {
        Some(_) if postgres.is_some() => {
            return Err(ConfigError::invalid(
                file,
                "store.data_dir",
                "is the SQLite store's folder, but store.url selects PostgreSQL; remove one \
                 of the two",
            ));
        }
        None => base.join(crate::store::DEFAULT_DATA_DIR),
        Some("") => {
            return Err(ConfigError::invalid(
                file,
                "store.data_dir",
                "is empty; name a directory switchboard may create and write, e.g. \"./switchboard-data\"",
            ));
        }
        Some(dir) if Path::new(dir).is_absolute() => PathBuf::from(dir),
        Some(dir) => base.join(dir),
    };
    Ok(StoreConfig {
        data_dir,
        postgres,
        prune_after: duration(
            file,
            "store.prune_after",
            raw.prune_after.as_deref(),
            super::bridge::DEFAULT_PRUNE_AFTER,
        )?,
        allow_inside_agent_cwd: raw.allow_inside_agent_cwd,
    })
}

/// `store.url` and the keys that go with it.
fn postgres(raw: &RawStore, url: &str, file: &str) -> Result<PostgresStoreConfig, ConfigError> {
    const KEY: &str = "store.url";
    const FORM: &str = "postgres://USER:PASSWORD@HOST:PORT/DATABASE";
    let url = url.trim();
    if url.is_empty() {
        return Err(ConfigError::invalid(
            file,
            KEY,
            format!(
                "is empty; write {FORM}, or leave store.url out for the embedded SQLite \
                 store in store.data_dir"
            ),
        ));
    }
    // The parser's reason only: the text itself may hold a password.
    let parsed = url::Url::parse(url).map_err(|reason| {
        ConfigError::invalid(file, KEY, format!("is not a URL ({reason}); write {FORM}"))
    })?;
    if !SCHEMES.contains(&parsed.scheme()) {
        return Err(ConfigError::invalid(
            file,
            KEY,
            format!(
                "uses the scheme {:?}; the store speaks PostgreSQL only: postgres://... or \
                 postgresql://... ({FORM}), or leave store.url out for the embedded SQLite \
                 store in store.data_dir",
                parsed.scheme()
            ),
        ));
    }
    let max_connections = match raw.max_connections {
        None => DEFAULT_MAX_CONNECTIONS,
        Some(n) if (1..=MAX_MAX_CONNECTIONS).contains(&n) => {
            u32::try_from(n).expect("within 1..=100")
        }
        Some(n) => {
            return Err(ConfigError::invalid(
                file,
                "store.max_connections",
                format!(
                    "is {n}; use between 1 and {MAX_MAX_CONNECTIONS} (connections to \
                     {}; the default {DEFAULT_MAX_CONNECTIONS} is plenty for one broker)",
                    redacted_url(url)
                ),
            ));
        }
    };
    Ok(PostgresStoreConfig {
        url: Secret::new(url.to_owned()),
        max_connections,
        statement_timeout: duration(
            file,
            "store.statement_timeout",
            raw.statement_timeout.as_deref(),
            DEFAULT_STATEMENT_TIMEOUT,
        )?,
    })
}

/// The password in a store URL (user part as written, or a `password=`
/// parameter), for the redactor.
pub(super) fn password_in(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url.trim()).ok()?;
    if let Some(password) = parsed.password() {
        return Some(password.to_owned());
    }
    parsed
        .query_pairs()
        .find(|(key, _)| key.eq_ignore_ascii_case("password"))
        .map(|(_, value)| value.into_owned())
}
