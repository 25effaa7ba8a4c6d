//! What the store's tests share: a fresh, empty database on either backend,
//! removed when the test ends.
//!
//! SQLite: a temporary directory. PostgreSQL: a new database
//! (`CREATE DATABASE sb_<random>`, ICU collation en-US) on the server at
//! `SWITCHBOARD_TEST_POSTGRES_URL` (default [`DEFAULT_TEST_POSTGRES_URL`]),
//! dropped `WITH (FORCE)` at the end, so tests run in parallel without
//! seeing each other. A server that cannot be reached fails the test with
//! the fix; it must never skip it.

use sqlx::{Connection, PgConnection};

use super::{PostgresOptions, Store};

/// The server the PostgreSQL tests use when the environment names none
/// (the development machines' and CI's: trust auth, database `test`).
pub(crate) const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TestBackend {
    Sqlite,
    Postgres,
}

/// The URL of a database on the test server, from which databases are
/// created and dropped.
pub(crate) fn admin_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned())
}

/// A connection to [`admin_url`]; panics with the fix when there is none.
pub(crate) async fn admin_connection() -> PgConnection {
    let url = admin_url();
    match PgConnection::connect(&url).await {
        Ok(conn) => conn,
        Err(err) => panic!(
            "the store's PostgreSQL tests need a server at {url} (trust auth), and it cannot \
             be reached: {err}. Start it (`pg_ctlcluster 15 main start`, or \
             `pg_ctlcluster --skip-systemctl-redirect 15 main start` without systemd), or set \
             SWITCHBOARD_TEST_POSTGRES_URL to a server where this user may create databases"
        ),
    }
}

/// A fresh, empty database for one test; dropped with it.
pub(crate) struct TestDb {
    backend: TestBackend,
    dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the database's name and URL.
    pg: Option<(String, String)>,
}

impl TestDb {
    pub(crate) async fn new(backend: TestBackend) -> TestDb {
        match backend {
            TestBackend::Sqlite => TestDb {
                backend,
                dir: Some(tempfile::tempdir().expect("tempdir")),
                pg: None,
            },
            TestBackend::Postgres => {
                let name = format!("sb_{:016x}", rand::random::<u64>());
                let mut admin = admin_connection().await;
                // A locale's collation (ICU en-US), not the server's
                // default (often C): a comparison the schema forgets to make
                // bytewise then differs from SQLite's and a test sees it.
                let create = format!(
                    "CREATE DATABASE {name} TEMPLATE template0 \
                     LOCALE_PROVIDER icu ICU_LOCALE 'en-US'"
                );
                sqlx::raw_sql(&create)
                    .execute(&mut admin)
                    .await
                    .unwrap_or_else(|err| {
                        panic!("{create} failed: {err} (PostgreSQL 15+ built with ICU is needed)")
                    });
                let _ = admin.close().await;
                let mut url = url::Url::parse(&admin_url()).expect("the test URL parses");
                url.set_path(&name);
                TestDb {
                    backend,
                    dir: None,
                    pg: Some((name, url.to_string())),
                }
            }
        }
    }

    /// Open the store on this database (again: a restart).
    pub(crate) async fn open(&self) -> Store {
        match self.backend {
            TestBackend::Sqlite => Store::open(self.dir.as_ref().expect("a dir").path())
                .await
                .expect("open store"),
            TestBackend::Postgres => self
                .connect(&PostgresOptions::default())
                .await
                .expect("connect the PostgreSQL store"),
        }
    }

    /// Connect a PostgreSQL store to this database with `options`.
    pub(crate) async fn connect(
        &self,
        options: &PostgresOptions,
    ) -> Result<Store, super::StoreError> {
        Store::connect_postgres(self.pg_url(), options).await
    }

    /// PostgreSQL: the database's name.
    pub(crate) fn pg_name(&self) -> &str {
        &self.pg.as_ref().expect("a PostgreSQL test database").0
    }

    /// PostgreSQL: the database's URL.
    pub(crate) fn pg_url(&self) -> &str {
        &self.pg.as_ref().expect("a PostgreSQL test database").1
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((name, _)) = self.pg.take() else {
            return;
        };
        // Drop is not async and may run inside a runtime: a thread of its
        // own with a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url()).await?;
                sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("the test database could not be dropped: {dropped:?}");
        }
    }
}

/// A fresh store on `backend`; keep the [`TestDb`] for as long as the store.
pub(crate) async fn temp_store(backend: TestBackend) -> (TestDb, Store) {
    let db = TestDb::new(backend).await;
    let store = db.open().await;
    (db, store)
}

impl Store {
    /// The SQLite backend (the test is SQLite-only).
    pub(super) fn sqlite(&self) -> &super::sqlite::SqliteBackend {
        match &self.backend {
            super::Backend::Sqlite(backend) => backend,
            super::Backend::Postgres(_) => panic!("a SQLite store was expected"),
        }
    }

    /// The PostgreSQL backend (the test is PostgreSQL-only).
    pub(super) fn pg(&self) -> &super::postgres::PgBackend {
        match &self.backend {
            super::Backend::Postgres(backend) => backend,
            super::Backend::Sqlite(_) => panic!("a PostgreSQL store was expected"),
        }
    }

    /// One `i64` from `sql` with one text parameter (`$1`), on a reader.
    pub(crate) async fn test_scalar(&self, sql: &str, param: &str) -> i64 {
        on_backend!(self, reader, |pool| {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(param)
                .fetch_one(pool)
                .await
        })
        .expect("test query")
    }

    /// Run `sql` (no parameters, maybe several statements) on the writer.
    pub(crate) async fn test_exec(&self, sql: &str) {
        on_backend!(self, writer, |pool| {
            sqlx::raw_sql(sql).execute(pool).await.map(drop)
        })
        .expect("test statement")
    }
}

/// A journal entry of thread `t1` received at 1,000 ms, for store tests.
pub(crate) fn journal_entry(id: &str) -> super::JournalEntry {
    use super::{JournalEntry, JournalState};
    JournalEntry {
        platform: "discord".into(),
        message_id: id.into(),
        thread_id: "t1".into(),
        channel_id: "t1".into(),
        author_id: "u1".into(),
        author_name: "alice".into(),
        is_bot: false,
        content: "hello".into(),
        received_at_ms: 1_000,
        state: JournalState::Received,
        reply_message_ids: Vec::new(),
    }
}
