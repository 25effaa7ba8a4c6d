//! A database of a test's own on the PostgreSQL server the tests use
//! (`SWITCHBOARD_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`), dropped when the test is done.

use sqlx::{Connection, PgConnection};

/// The password every test URL carries (trust auth ignores it), so tests
/// can check it never shows.
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

/// A fresh database: (name, URL with [`PASSWORD`]).
pub async fn fresh_database() -> (String, String) {
    let name = format!("sb_e2e_{:016x}", rand::random::<u64>());
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin().await)
        .await
        .unwrap();
    let mut url = url::Url::parse(&server_url()).unwrap();
    url.set_path(&name);
    url.set_password(Some(PASSWORD)).unwrap();
    (name, url.to_string())
}

pub async fn drop_database(name: &str) {
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin().await)
        .await
        .unwrap();
}

/// `[store]` lines for `url`, leaked for `Options::store`.
pub fn store_lines(url: &str) -> &'static str {
    Box::leak(format!("url = \"{url}\"").into_boxed_str())
}
