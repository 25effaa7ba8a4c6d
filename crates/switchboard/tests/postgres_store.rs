//! The real binary on a PostgreSQL store (`store.url`): a message is
//! answered and journaled there, a follow-up after `kill -9` and a restart
//! finds its thread restored from it, and the URL's password shows in no
//! log line and no admin response. The server is the store tests' own
//! (`SWITCHBOARD_TEST_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/test`); this test makes a database
//! of its own there and drops it.

mod support;

use sqlx::Connection as _;
use support::Options;
use support::chat::Chat;
use support::postgres::{PASSWORD, TestDatabase, store_lines};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conversation_lives_in_postgresql_across_a_kill_and_a_restart() {
    let db = TestDatabase::create().await;
    let name = db.name.clone();
    let mut chat = Chat::start(Options {
        store: store_lines(&db.url),
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

    let mut conn = db.connect().await;
    let states: Vec<String> = sqlx::query_scalar("SELECT state FROM journal")
        .fetch_all(&mut conn)
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
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(answered, 2);
    let _ = chat.h.get_json("/status").await;
    chat.h.assert_never_shown(PASSWORD);
    chat.h.assert_token_never_shown().await;
    drop(conn);
    chat.h.stop().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_database_left_by_a_failed_test_is_dropped_all_the_same() {
    let db = TestDatabase::create().await;
    let name = db.name.clone();
    let admin_url = db.url.replace(&format!("/{name}"), "/postgres");
    let count = || async {
        let mut conn = sqlx::PgConnection::connect(&admin_url).await.unwrap();
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM pg_database WHERE datname = $1")
            .bind(&name)
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    assert_eq!(count().await, 1);
    // What a panicking test does to it: no drop_it, only Drop.
    drop(db);
    assert_eq!(count().await, 0, "the database outlived its test");
}
