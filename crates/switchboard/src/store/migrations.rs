//! The schema, embedded in the binary and applied at every open.
//!
//! Owns the list of migration files (`crates/switchboard/migrations/*.sql`,
//! included at compile time, so no file is read at run time and no
//! `DATABASE_URL` is needed) and running them through sqlx's migrator, which
//! records what it applied in `_sqlx_migrations` and skips it next time.
//! A new migration is a new file plus one line in [`MIGRATIONS`]; an applied
//! file must never be edited (its checksum is recorded; the next open would
//! fail).

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;

use sqlx::SqlitePool;
use sqlx::error::BoxDynError;
use sqlx::migrate::{MigrateError, Migration, MigrationSource, MigrationType, Migrator};

/// (version, description, SQL), in version order.
const MIGRATIONS: &[(i64, &str, &str)] = &[
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
];

/// The embedded migrations as a sqlx migration source.
#[derive(Debug)]
struct Embedded;

impl MigrationSource<'static> for Embedded {
    fn resolve(
        self,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<Migration>, BoxDynError>> + Send + 'static>> {
        Box::pin(async {
            Ok(MIGRATIONS
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
                .collect())
        })
    }
}

/// Apply every migration not applied yet (each in its own transaction).
pub(super) async fn run(pool: &SqlitePool) -> Result<(), MigrateError> {
    Migrator::new(Embedded).await?.run(pool).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_ascend() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[tokio::test]
    async fn migrations_are_idempotent() {
        let (_dir, store) = super::super::temp_store().await;
        run(&store.pool).await.expect("second run");
        run(&store.pool).await.expect("third run");
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&store.pool)
            .await
            .expect("count");
        assert_eq!(applied, MIGRATIONS.len() as i64);
    }
}
