//! A PostgreSQL store as `switchboard check --online` reports it, read
//! without changing anything: can it be reached, which server it is, and
//! whether the migrations recorded in `_sqlx_migrations` are this build's.
//!
//! Owns the comparison of what a database has applied with the build's
//! list. It must never apply a migration, take the migrator's lock or
//! write anything (`run` migrates), and never show the URL's password: the
//! server is named by [`redacted_url`].

use std::time::Duration;

use sqlx::Connection;

use super::postgres::{PostgresOptions, first_connection, redacted_url};
use super::{StoreError, migrations};

/// What was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PgSchema {
    /// The URL without its password.
    pub location: String,
    /// `SHOW server_version`.
    pub server_version: String,
    pub state: SchemaState,
    /// The newest migration this build has.
    pub latest: i64,
}

/// The database's migrations against this build's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SchemaState {
    /// Nothing applied yet: `run` creates the schema.
    Empty,
    /// Every applied migration is this build's, up to `version`.
    Known { version: i64 },
    /// Migration `version` was applied, and this build does not have it
    /// (a newer switchboard wrote the schema).
    Newer { version: i64 },
    /// Migration `version` is not the one this build has (its checksum
    /// differs) or did not complete.
    Differs { version: i64, why: &'static str },
}

/// Connect once to `url` (within `deadline`), read the server's version
/// and the applied migrations, and close.
pub async fn inspect_postgres(url: &str, deadline: Duration) -> Result<PgSchema, StoreError> {
    let options = PostgresOptions {
        acquire_timeout: deadline,
        ..PostgresOptions::default()
    };
    let (_, mut conn) = first_connection(url, &options).await?;
    let query = |source| StoreError::Query {
        op: "inspect schema",
        source,
    };
    let server_version: String = sqlx::query_scalar("SHOW server_version")
        .fetch_one(&mut conn)
        .await
        .map_err(query)?;
    let recorded: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut conn)
        .await
        .map_err(query)?;
    let applied: Vec<(i64, bool, Vec<u8>)> = if recorded {
        sqlx::query_as("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut conn)
            .await
            .map_err(query)?
    } else {
        Vec::new()
    };
    if let Err(err) = conn.close().await {
        tracing::debug!(%err, "closing the check's connection failed");
    }
    let ours = migrations::postgres_migrations();
    Ok(PgSchema {
        location: redacted_url(url),
        server_version,
        state: compare(&applied, &ours),
        latest: ours.last().map_or(0, |m| m.version),
    })
}

/// `applied` (version, success, checksum) against this build's list.
fn compare(applied: &[(i64, bool, Vec<u8>)], ours: &[sqlx::migrate::Migration]) -> SchemaState {
    let mut state = SchemaState::Empty;
    for (version, success, checksum) in applied {
        let version = *version;
        let Some(known) = ours.iter().find(|m| m.version == version) else {
            return SchemaState::Newer { version };
        };
        if !success {
            return SchemaState::Differs {
                version,
                why: "did not complete (recorded as failed)",
            };
        }
        if known.checksum.as_ref() != checksum.as_slice() {
            return SchemaState::Differs {
                version,
                why: "differs from this build's file (checksum)",
            };
        }
        state = SchemaState::Known { version };
    }
    state
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestBackend, TestDb};
    use super::*;

    #[test]
    fn applied_migrations_are_compared_with_the_builds() {
        let ours = migrations::postgres_migrations();
        let good = |m: &sqlx::migrate::Migration| (m.version, true, m.checksum.to_vec());
        assert_eq!(compare(&[], &ours), SchemaState::Empty);
        let all: Vec<_> = ours.iter().map(good).collect();
        let latest = ours.last().unwrap().version;
        assert_eq!(compare(&all, &ours), SchemaState::Known { version: latest });
        let mut newer = all.clone();
        newer.push((latest + 1, true, vec![1, 2, 3]));
        assert_eq!(
            compare(&newer, &ours),
            SchemaState::Newer {
                version: latest + 1
            }
        );
        let mut edited = all.clone();
        edited[0].2 = vec![0; 48];
        assert!(matches!(
            compare(&edited, &ours),
            SchemaState::Differs { version: 1, .. }
        ));
        let mut failed = all;
        failed[0].1 = false;
        assert!(matches!(
            compare(&failed, &ours),
            SchemaState::Differs { version: 1, .. }
        ));
    }

    #[tokio::test]
    async fn a_fresh_database_is_empty_and_a_migrated_one_is_this_builds() {
        let db = TestDb::new(TestBackend::Postgres).await;
        let deadline = Duration::from_secs(5);
        let fresh = inspect_postgres(db.pg_url(), deadline).await.unwrap();
        assert_eq!(fresh.state, SchemaState::Empty);
        assert!(!fresh.server_version.is_empty());
        let store = db.connect(&PostgresOptions::default()).await.unwrap();
        let migrated = inspect_postgres(db.pg_url(), deadline).await.unwrap();
        assert_eq!(
            migrated.state,
            SchemaState::Known {
                version: migrated.latest
            }
        );
        store.close().await;
    }
}
