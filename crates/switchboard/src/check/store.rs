//! `switchboard check --online`, the store: with `store.url` set, connect
//! to PostgreSQL once and report the server and its schema against this
//! build's migrations (the SQLite default has no server to reach).
//!
//! Owns the store line's wording: what `run` will do with the schema, or
//! what stops it (an unreachable server named with the fix, a schema from a
//! newer or another build). Must never apply a migration or write anything
//! (`run` migrates), and never print the URL's password.

use std::time::Duration;

use super::CheckLine;
use crate::config::PostgresStoreConfig;
use crate::store::{SchemaState, inspect_postgres};

/// How long connecting may take.
const CONNECT_DEADLINE: Duration = Duration::from_secs(10);

pub(super) async fn verify(postgres: &PostgresStoreConfig) -> CheckLine {
    let schema = match inspect_postgres(postgres.url.expose(), CONNECT_DEADLINE).await {
        Ok(schema) => schema,
        Err(err) => return CheckLine::failed("store", err.to_string()),
    };
    let server = format!("{}: PostgreSQL {}", schema.location, schema.server_version);
    let latest = schema.latest;
    match schema.state {
        SchemaState::Empty => CheckLine::ok(
            "store",
            format!(
                "ok ({server}; no schema yet: `switchboard run` creates it, migration {latest})"
            ),
        ),
        SchemaState::Known { version } if version == latest => CheckLine::ok(
            "store",
            format!("ok ({server}; schema at migration {version}, this build's latest)"),
        ),
        SchemaState::Known { version } => CheckLine::ok(
            "store",
            format!(
                "ok ({server}; schema at migration {version}: `switchboard run` applies up to \
                 {latest})"
            ),
        ),
        SchemaState::Newer { version } => CheckLine::failed(
            "store",
            format!(
                "{server}: the schema has migration {version}, newer than this build knows \
                 ({latest}): run the switchboard version that wrote it"
            ),
        ),
        SchemaState::Differs { version, why } => CheckLine::failed(
            "store",
            format!(
                "{server}: migration {version} {why}: this database was migrated by another \
                 build; use that build, or a fresh database"
            ),
        ),
    }
}
