//! A PostgreSQL database of the test's own for the real binary's store
//! (`store.url`): made on the store tests' server
//! (`SWITCHBOARD_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), its URL carrying a password
//! (trust auth ignores it) so a test can check it is never shown, and
//! dropped `WITH (FORCE)` by the test at its end, or when the test fails
//! before it (on `Drop`). An unreachable server fails the test with the
//! fix; it never skips it.

use sqlx::{Connection, PgConnection};

/// The password every test database's URL carries.
pub const PASSWORD: &str = "hunter2-pg-secret";

fn server_url() -> String {
    std::env::var("SWITCHBOARD_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

async fn admin() -> PgConnection {
    let url = server_url();
    PgConnection::connect(&url).await.unwrap_or_else(|err| {
        panic!(
            "this test needs PostgreSQL at {url} (trust auth) and cannot reach it: {err}; \
             start it (`pg_ctlcluster 15 main start`) or set SWITCHBOARD_TEST_POSTGRES_URL"
        )
    })
}

/// A fresh, empty database.
pub struct TestDatabase {
    pub name: String,
    /// Its URL, with [`PASSWORD`].
    pub url: String,
    /// Dropped already by [`TestDatabase::drop_it`].
    dropped: bool,
}

impl TestDatabase {
    pub async fn create() -> TestDatabase {
        let name = format!("sb_e2e_{:016x}", rand::random::<u64>());
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin().await)
            .await
            .unwrap();
        let mut url = url::Url::parse(&server_url()).unwrap();
        url.set_path(&name);
        url.set_password(Some(PASSWORD)).unwrap();
        TestDatabase {
            name,
            url: url.to_string(),
            dropped: false,
        }
    }

    /// A connection of the test's own to it.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url).await.unwrap()
    }

    /// Drop it, whoever is still connected.
    pub async fn drop_it(mut self) {
        sqlx::raw_sql(&drop_sql(&self.name))
            .execute(&mut admin().await)
            .await
            .unwrap();
        self.dropped = true;
    }
}

fn drop_sql(name: &str) -> String {
    format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")
}

impl Drop for TestDatabase {
    /// A test that failed before its end leaves no database behind. Runs
    /// on a thread of its own: this may be inside the test's runtime,
    /// which must not be blocked on. Best effort: a failure here is only
    /// a leftover database, never a second panic.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let sql = drop_sql(&self.name);
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            // Bounded: a server that does not answer leaves the database,
            // it does not hang the test's end.
            let drop_it = async {
                let mut admin = PgConnection::connect(&server_url()).await.ok()?;
                sqlx::raw_sql(&sql).execute(&mut admin).await.ok()
            };
            runtime.block_on(async {
                tokio::time::timeout(std::time::Duration::from_secs(10), drop_it)
                    .await
                    .ok()
                    .flatten()
            })
        })
        .join();
    }
}

/// `[store]` lines for the binary: `url = "<url>"`.
pub fn store_lines(url: &str) -> &'static str {
    Box::leak(format!("url = \"{url}\"").into_boxed_str())
}
