//! PostgreSQL-only tests: the pool's size, the statement timeout, reconnects
//! after the server drops the connections and after an outage (through
//! [`FlakyServer`]), the reach probe against a refused port, several instances migrating one database at once, and
//! errors that name the server but not the password.
//! (The store's behaviour itself is tested on both backends in each file.)

use std::time::Duration;

use sqlx::Connection;

use super::test_proxy::FlakyServer;
use super::test_support::{TestBackend, TestDb, admin_connection};
use super::*;

/// Options with short waits, so that the failures below come quickly.
fn quick(max_connections: u32, statement_timeout_ms: u64) -> PostgresOptions {
    PostgresOptions {
        max_connections,
        statement_timeout: Duration::from_millis(statement_timeout_ms),
        acquire_timeout: Duration::from_millis(500),
    }
}

/// Connections to `db` other than the asking one.
async fn connections_to(db: &TestDb) -> i64 {
    let mut admin = admin_connection().await;
    sqlx::query_scalar("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = $1")
        .bind(db.pg_name())
        .fetch_one(&mut admin)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_pooled_connection_carries_the_statement_timeout() {
    let db = TestDb::new(TestBackend::Postgres).await;
    let store = db.connect(&quick(3, 1_500)).await.unwrap();
    let pool = &store.pg().pool;
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut conn = pool.acquire().await.unwrap();
        let timeout: String = sqlx::query_scalar("SHOW statement_timeout")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(timeout, "1500ms");
        let name: String = sqlx::query_scalar("SHOW application_name")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(name, "switchboard");
        held.push(conn);
    }
    assert_eq!(connections_to(&db).await, 3);
    // The pool is full: a fourth caller waits acquire_timeout and fails.
    let err = pool.acquire().await.unwrap_err();
    assert!(matches!(err, sqlx::Error::PoolTimedOut), "{err}");
    let err = store.first_sighting("discord", "1", 1).await.unwrap_err();
    assert!(err.to_string().contains("first_sighting"), "{err}");
    drop(held);
    assert!(store.first_sighting("discord", "1", 1).await.unwrap());
}

#[tokio::test]
async fn a_statement_over_the_timeout_is_cancelled_with_a_clear_error() {
    let db = TestDb::new(TestBackend::Postgres).await;
    let store = db.connect(&quick(2, 300)).await.unwrap();
    // Hold a lock that every claim must wait for, longer than the timeout.
    let mut locker = sqlx::PgConnection::connect(db.pg_url()).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE seen IN ACCESS EXCLUSIVE MODE;")
        .execute(&mut locker)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let err = store.first_sighting("discord", "1", 1).await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(
            err,
            StoreError::Cancelled {
                op: "first_sighting",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.is_unavailable(), "the server answered: {err}");
    let text = err.to_string();
    assert!(text.contains("statement timeout"), "{text}");
    assert!(text.contains("store.statement_timeout"), "{text}");
    assert!(
        waited < Duration::from_secs(5),
        "cancelled after {waited:?}"
    );
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut locker)
        .await
        .unwrap();
    assert!(store.first_sighting("discord", "1", 1).await.unwrap());
}

#[tokio::test]
async fn a_value_the_server_refuses_is_not_an_outage() {
    let db = TestDb::new(TestBackend::Postgres).await;
    let store = db.connect(&quick(2, 5_000)).await.unwrap();
    // PostgreSQL's text cannot hold a NUL: this entry fails every time,
    // however often it is tried, while the server is fine.
    let entry = JournalEntry {
        platform: "discord".into(),
        message_id: "1".into(),
        thread_id: "1".into(),
        channel_id: "c".into(),
        author_id: "u".into(),
        author_name: "Ada".into(),
        is_bot: false,
        content: "nul \0 inside".into(),
        received_at_ms: 1,
        state: JournalState::Received,
        reply_message_ids: Vec::new(),
    };
    let err = store.journal_accept(&entry).await.unwrap_err();
    assert!(!err.is_unavailable(), "{err}");
    store.ping().await.unwrap();
}

#[tokio::test]
async fn calls_succeed_again_after_the_server_drops_every_connection() {
    let db = TestDb::new(TestBackend::Postgres).await;
    let store = db.connect(&quick(4, 5_000)).await.unwrap();
    // Leave a few connections idle in the pool.
    let claims: Vec<_> = (0..4)
        .map(|i| store.first_sighting("discord", ["a", "b", "c", "d"][i], 1))
        .collect();
    for claimed in futures_util::future::join_all(claims).await {
        assert!(claimed.unwrap());
    }
    assert!(connections_to(&db).await >= 1);

    // What a server restart does to them, from a separate connection.
    let mut admin = admin_connection().await;
    let killed: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()) AS terminated",
    )
    .bind(db.pg_name())
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(killed >= 1, "no connection was terminated");

    // Every call after it succeeds: dead connections are replaced.
    for i in 0..8 {
        let id = format!("after-{i}");
        assert!(store.first_sighting("discord", &id, 2).await.unwrap());
    }
    assert!(!store.first_sighting("discord", "a", 3).await.unwrap());
    assert_eq!(store.threads("discord").await.unwrap(), []);
}

#[tokio::test]
async fn after_a_restart_calls_succeed_and_while_down_they_fail_promptly() {
    let db = TestDb::new(TestBackend::Postgres).await;
    let (server, url) = FlakyServer::in_front_of(db.pg_url()).await;
    let store = Store::connect_postgres(&url, &quick(4, 5_000))
        .await
        .unwrap();
    // Several connections idle in the pool.
    let claims = ["a", "b", "c", "d"].map(|id| store.first_sighting("discord", id, 1));
    for claimed in futures_util::future::join_all(claims).await {
        assert!(claimed.unwrap());
    }

    // A quick restart between two calls: every call after it succeeds.
    server.go_down();
    server.come_back();
    for i in 0..6 {
        let id = format!("after-restart-{i}");
        assert!(store.first_sighting("discord", &id, 2).await.unwrap());
    }

    // An outage: every connection cut, none taken meanwhile.
    server.go_down();
    for id in ["e", "f"] {
        let started = std::time::Instant::now();
        let err = store.first_sighting("discord", id, 2).await.unwrap_err();
        assert!(matches!(err, StoreError::Query { .. }), "{err}");
        assert!(err.is_unavailable(), "{err}");
        assert!(store.ping().await.unwrap_err().is_unavailable());
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "a call while the database is down took {:?}",
            started.elapsed()
        );
    }

    // Back: the very next calls succeed on new connections.
    server.come_back();
    for id in ["e", "f", "g"] {
        assert!(store.first_sighting("discord", id, 3).await.unwrap());
    }

    // A server that takes connections and never answers: calls fail once
    // acquire_timeout has passed, never hang.
    server.go_silent();
    let started = std::time::Instant::now();
    let err = store.first_sighting("discord", "h", 4).await.unwrap_err();
    assert!(matches!(err, StoreError::Query { .. }), "{err}");
    assert!(err.is_unavailable(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "a call to a silent server took {:?}",
        started.elapsed()
    );
    server.come_back();
    store.ping().await.unwrap();
    assert!(store.first_sighting("discord", "h", 5).await.unwrap());
    assert!(!store.first_sighting("discord", "a", 3).await.unwrap());
}

#[tokio::test]
async fn the_reach_probe_fails_at_once_when_the_server_refuses_connections() {
    let db = TestDb::new(TestBackend::Postgres).await;
    let (server, url) = FlakyServer::in_front_of(db.pg_url()).await;
    let options = PostgresOptions {
        acquire_timeout: Duration::from_secs(2),
        ..PostgresOptions::default()
    };
    let store = Store::connect_postgres(&url, &options).await.unwrap();
    let mut reach = store.reach_probe();
    reach.check().await.unwrap();
    reach.check().await.unwrap();

    // The server goes away as a stopped one does: its connections end and
    // its port refuses new ones.
    drop(server);
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let err = reach.check().await.unwrap_err();
        assert!(err.is_unavailable(), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "the probe took {:?} to fail",
            started.elapsed()
        );
    }
    // The pool, by contrast, retries a refused connection until its
    // acquire timeout: a probe through it would call the server reachable
    // for that long.
    let started = std::time::Instant::now();
    assert!(store.ping().await.unwrap_err().is_unavailable());
    assert!(started.elapsed() >= Duration::from_millis(1_500));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_instances_may_open_a_fresh_database_at_once() {
    let db = TestDb::new(TestBackend::Postgres).await;
    let options = PostgresOptions::default();
    let opens: Vec<_> = (0..4).map(|_| db.connect(&options)).collect();
    let stores: Vec<Store> = futures_util::future::join_all(opens)
        .await
        .into_iter()
        .map(|opened| opened.expect("every instance opens"))
        .collect();
    let applied = stores[0]
        .test_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE $1 <> ''", "x")
        .await;
    assert_eq!(
        applied,
        super::migrations::POSTGRES_MIGRATION_COUNT as i64,
        "each migration applied once"
    );
    let winners = futures_util::future::join_all(
        stores
            .iter()
            .map(|store| store.first_sighting("discord", "same", 1)),
    )
    .await;
    assert_eq!(
        winners.into_iter().filter(|w| *w.as_ref().unwrap()).count(),
        1
    );
}

#[tokio::test]
async fn an_unreachable_server_is_named_without_the_password() {
    let url = "postgres://sb:hunter2-secret@127.0.0.1:1/switchboard";
    let err = Store::connect_postgres(url, &quick(2, 1_000))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err}");
    let text = err.to_string();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("127.0.0.1:1/switchboard"), "{text}");
    assert!(text.contains("pg_isready"), "{text}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

#[tokio::test]
async fn a_missing_database_is_named_in_the_error() {
    let mut url = url::Url::parse(&super::test_support::admin_url()).unwrap();
    url.set_path("sb_no_such_database");
    let err = Store::connect_postgres(url.as_str(), &quick(2, 1_000))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("sb_no_such_database"), "{text}");
    assert!(text.contains("exists"), "{text}");
}

#[tokio::test]
async fn the_location_hides_the_password() {
    let db = TestDb::new(TestBackend::Postgres).await;
    let mut url = url::Url::parse(db.pg_url()).unwrap();
    // Trust auth: the server does not ask for it, the URL still holds it.
    url.set_password(Some("hunter2-secret")).unwrap();
    let store = Store::connect_postgres(url.as_str(), &PostgresOptions::default())
        .await
        .unwrap();
    let location = store.location();
    assert!(!location.contains("hunter2"), "{location}");
    assert!(location.contains(db.pg_name()), "{location}");
    assert_eq!(store.sqlite_path(), None);
    assert!(!format!("{store:?}").contains("hunter2"));
}
