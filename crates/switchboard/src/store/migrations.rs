//! The schema, embedded in the binary and applied at every open.
//!
//! Owns the two lists of migration files, one per backend (SQLite:
//! `crates/switchboard/migrations/*.sql`; PostgreSQL:
//! `crates/switchboard/migrations/postgres/*.sql`), included at compile
//! time, so no file is read at run time and no `DATABASE_URL` is needed, and
//! running them through sqlx's migrator, which records what it applied in
//! `_sqlx_migrations` and skips it next time (on PostgreSQL under an
//! advisory lock, so instances starting together take turns). A schema
//! change is a new file in each list plus one line in [`MIGRATIONS`] and
//! [`POSTGRES_MIGRATIONS`]; an applied file must never be edited (its
//! checksum is recorded; the next open would fail).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};
use sqlx::{PgConnection, SqlitePool};

/// (version, description, SQL), in version order.
type List = &'static [(i64, &'static str, &'static str)];

/// SQLite's migrations.
const MIGRATIONS: List = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "journal attempts",
        include_str!("../../migrations/0002_journal_attempts.sql"),
    ),
    (
        3,
        "journal failure reason",
        include_str!("../../migrations/0003_journal_failure_reason.sql"),
    ),
    (
        4,
        "thread usage",
        include_str!("../../migrations/0004_thread_usage.sql"),
    ),
    (
        5,
        "cluster",
        include_str!("../../migrations/0005_cluster.sql"),
    ),
    (
        6,
        "thread owners",
        include_str!("../../migrations/0006_thread_owners.sql"),
    ),
];

/// PostgreSQL's migrations: its 0001 is the whole schema of SQLite's
/// 0001-0004, its 0002 SQLite's 0005, its 0003 SQLite's 0006.
const POSTGRES_MIGRATIONS: List = &[
    (
        1,
        "init",
        include_str!("../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "cluster",
        include_str!("../../migrations/postgres/0002_cluster.sql"),
    ),
    (
        3,
        "thread owners",
        include_str!("../../migrations/postgres/0003_thread_owners.sql"),
    ),
];

/// How many migrations PostgreSQL's list has (tests check each applied once).
#[cfg(test)]
pub(super) const POSTGRES_MIGRATION_COUNT: usize = POSTGRES_MIGRATIONS.len();

/// One list of embedded migrations as a sqlx migration source.
#[derive(Debug)]
struct Embedded(List);

impl Embedded {
    /// The list as sqlx's migrations (with their checksums).
    fn migrations(&self) -> Vec<Migration> {
        self.0
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    Cow::Borrowed(description),
                    MigrationType::Simple,
                    Cow::Borrowed(sql),
                    false,
                )
            })
            .collect()
    }
}

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async move { Ok(self.migrations()) })
    }
}

/// PostgreSQL's migrations as this build would apply them.
/// The newest migration of PostgreSQL's list (what `check --online` calls
/// "this build's latest").
pub fn postgres_latest() -> i64 {
    POSTGRES_MIGRATIONS.last().map_or(0, |m| m.0)
}

pub(super) fn postgres_migrations() -> Vec<Migration> {
    Embedded(POSTGRES_MIGRATIONS).migrations()
}

/// Apply every SQLite migration not applied yet (each in its own
/// transaction).
pub(super) async fn run_sqlite(pool: &SqlitePool) -> Result<(), MigrateError> {
    Migrator::new(Embedded(MIGRATIONS)).await?.run(pool).await
}

/// Apply every PostgreSQL migration not applied yet, on `conn`, holding the
/// migrator's advisory lock on the database meanwhile.
pub(super) async fn run_postgres(conn: &mut PgConnection) -> Result<(), MigrateError> {
    // `run_direct`, not `run(conn)`: with a `&mut PgConnection` the latter
    // makes the caller's future fail rustc's `Send` check ("not general
    // enough"); sqlx's own `run` calls it the same way.
    Migrator::new(Embedded(POSTGRES_MIGRATIONS))
        .await?
        .run_direct(conn)
        .await
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestBackend, temp_store};
    use super::*;

    #[test]
    fn versions_ascend() {
        for list in [MIGRATIONS, POSTGRES_MIGRATIONS] {
            assert!(list.windows(2).all(|w| w[0].0 < w[1].0));
        }
    }

    both_backends!(migrations_are_idempotent);

    async fn migrations_are_idempotent(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        for _ in 0..2 {
            match backend {
                TestBackend::Sqlite => run_sqlite(&store.sqlite().writer).await,
                TestBackend::Postgres => {
                    let mut conn = store.pg().pool.acquire().await.expect("a connection");
                    run_postgres(&mut conn).await
                }
            }
            .expect("another run changes nothing");
        }
        let applied = store
            .test_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE $1 <> ''", "x")
            .await;
        let expected = match backend {
            TestBackend::Sqlite => MIGRATIONS.len(),
            TestBackend::Postgres => POSTGRES_MIGRATIONS.len(),
        };
        assert_eq!(applied, expected as i64);
    }
}
