//! The real binary on a PostgreSQL store (`store.url`): a message is
//! answered and journaled there, a follow-up after `kill -9` and a restart
//! finds its thread restored from it, and the URL's password shows in no
//! log line and no admin response. The server is the store tests' own
//! (`SWITCHBOARD_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`); this test makes a database
//! of its own there and drops it.

mod support;

use sqlx::{Connection, PgConnection};
use support::Options;
use support::chat::Chat;

const PASSWORD: &str = "hunter2-pg-secret";

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

/// A fresh database; its URL carries [`PASSWORD`] (trust auth ignores it).
async fn fresh_database() -> (String, String) {
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

async fn drop_database(name: &str) {
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin().await)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_lives_in_postgresql_across_a_kill_and_a_restart() {
    let (name, url) = fresh_database().await;
    let store: &'static str = Box::leak(format!("url = \"{url}\"").into_boxed_str());
    let mut chat = Chat::start(Options {
        store,
        ..Options::default()
    })
    .await;
    let thread = chat.ask("hello");
    chat.done(chat.channel, thread).await;

    let (status, body) = chat.h.get_json("/status").await;
    assert_eq!(status, 200);
    let location = body["store"]["location"].as_str().expect("store.location");
    assert!(location.contains(&name), "{location}");
    assert!(location.contains(":***@"), "{location}");

    let mut db = PgConnection::connect(&url).await.unwrap();
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM journal")
        .fetch_all(&mut db)
        .await
        .unwrap();
    assert_eq!(states, ["answered"]);

    chat.h.kill9().await;
    chat.h.restart().await;
    chat.h.wait_ready().await;
    // No mention: only a thread restored from the store is listened to.
    let follow_up = chat.say(thread, "and again");
    chat.done(thread, follow_up).await;
    let answered: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM journal WHERE state = 'answered'")
        .fetch_one(&mut db)
        .await
        .unwrap();
    assert_eq!(answered, 2);
    let _ = chat.h.get_json("/status").await;
    chat.h.assert_never_shown(PASSWORD);
    chat.h.assert_token_never_shown().await;
    drop(db);
    chat.h.stop().await;
    drop_database(&name).await;
}
