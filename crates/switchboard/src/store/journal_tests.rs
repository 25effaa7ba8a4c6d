//! Tests of the journal: lifecycle, recovery order, backlog, pruning.

use super::super::test_support::{TestBackend, TestDb, temp_store};
use super::*;

both_backends!(
    lifecycle_survives_a_restart,
    unfinished_in_arrival_order_then_id_order,
    batch_updates_are_all_or_nothing,
    backlog_counts_unfinished_over_all_platforms,
    prune_drops_only_old_finished_entries,
    the_latest_thread_of_a_user_in_a_channel,
);

async fn the_latest_thread_of_a_user_in_a_channel(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    let write = |id: &str, thread: &str, channel: &str, author: &str, at: i64| JournalEntry {
        thread_id: thread.into(),
        channel_id: channel.into(),
        author_id: author.into(),
        ..entry("slack", id, at)
    };
    for e in [
        write("1", "t1", "c1", "u1", 1_000),
        write("2", "t2", "c1", "u1", 3_000),
        write("3", "t3", "c1", "u2", 4_000),
        write("4", "t4", "c2", "u1", 5_000),
        write("5", "t1", "c1", "u1", 2_000),
    ] {
        assert!(store.journal_insert(&e).await.unwrap());
    }
    let latest = |channel: &'static str, author: &'static str| {
        let store = store.clone();
        async move {
            store
                .journal_latest_thread("slack", channel, author)
                .await
                .unwrap()
        }
    };
    assert_eq!(latest("c1", "u1").await.as_deref(), Some("t2"));
    assert_eq!(latest("c1", "u2").await.as_deref(), Some("t3"));
    assert_eq!(latest("c2", "u1").await.as_deref(), Some("t4"));
    assert_eq!(latest("c2", "u2").await, None);
    assert_eq!(
        store
            .journal_latest_thread("discord", "c1", "u1")
            .await
            .unwrap(),
        None
    );
}

fn entry(platform: &str, message_id: &str, received_at_ms: i64) -> JournalEntry {
    JournalEntry {
        platform: platform.into(),
        message_id: message_id.into(),
        thread_id: "t1".into(),
        channel_id: "c1".into(),
        author_id: "u1".into(),
        author_name: "Ada".into(),
        is_bot: false,
        content: format!("prompt {message_id}"),
        received_at_ms,
        state: JournalState::Received,
        reply_message_ids: Vec::new(),
    }
}

fn ids(entries: &[JournalEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.message_id.as_str()).collect()
}

async fn lifecycle_survives_a_restart(backend: TestBackend) {
    let db = TestDb::new(backend).await;
    let store = db.open().await;
    let e = entry("discord", "100", 1_000);
    assert!(store.journal_insert(&e).await.unwrap());
    assert!(!store.journal_insert(&e).await.unwrap(), "journaled twice");
    assert_eq!(
        store.journal_entry("discord", "100").await.unwrap(),
        Some(e.clone())
    );

    store
        .journal_set_state("discord", "100", JournalState::Prompted, 1_100)
        .await
        .unwrap();
    let half = vec!["900".to_owned(), "901".to_owned()];
    store
        .journal_set_reply("discord", &["100"], &half, 1_200)
        .await
        .unwrap();
    drop(store); // crash mid-answer

    let store = db.open().await;
    let unfinished = store.journal_unfinished("discord").await.unwrap();
    assert_eq!(
        unfinished,
        [JournalEntry {
            state: JournalState::Prompted,
            reply_message_ids: half,
            ..e
        }]
    );
    store
        .journal_set_state("discord", "100", JournalState::Answered, 1_300)
        .await
        .unwrap();
    assert!(
        store
            .journal_unfinished("discord")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn unfinished_in_arrival_order_then_id_order(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    for e in [
        entry("discord", "100", 20),
        entry("discord", "99", 20), // same ms: "99" is older than "100"
        entry("discord", "5", 10),
        entry("discord", "7", 30),
        entry("discord", "8", 5),
        entry("slack", "1700000000.000100", 1),
    ] {
        assert!(store.journal_insert(&e).await.unwrap());
    }
    store
        .journal_set_state("discord", "7", JournalState::Interrupted, 40)
        .await
        .unwrap();
    store
        .journal_set_state("discord", "8", JournalState::Failed, 40)
        .await
        .unwrap();
    let got = store.journal_unfinished("discord").await.unwrap();
    assert_eq!(ids(&got), ["5", "99", "100", "7"]);
    assert_eq!(got[3].state, JournalState::Interrupted);
    let slack = store.journal_unfinished("slack").await.unwrap();
    assert_eq!(ids(&slack), ["1700000000.000100"]);
}

async fn batch_updates_are_all_or_nothing(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    store
        .journal_insert(&entry("discord", "1", 1))
        .await
        .unwrap();
    store
        .journal_insert(&entry("discord", "2", 2))
        .await
        .unwrap();

    let reply = vec!["r1".to_owned()];
    store
        .journal_set_reply("discord", &["1", "2", "2"], &reply, 3)
        .await
        .unwrap();
    store
        .journal_set_states("discord", &["1", "2"], JournalState::Prompted, 4)
        .await
        .unwrap();
    for id in ["1", "2"] {
        let e = store.journal_entry("discord", id).await.unwrap().unwrap();
        assert_eq!(
            (e.state, e.reply_message_ids),
            (JournalState::Prompted, reply.clone())
        );
    }

    let err = store
        .journal_set_states("discord", &["1", "ghost"], JournalState::Answered, 5)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NoSuchEntry { .. }), "{err}");
    assert!(err.to_string().contains("ghost"), "{err}");
    let e = store.journal_entry("discord", "1").await.unwrap().unwrap();
    assert_eq!(
        e.state,
        JournalState::Prompted,
        "a failed batch changed nothing"
    );
    store
        .journal_set_reply("discord", &[], &reply, 6)
        .await
        .unwrap();
}

async fn backlog_counts_unfinished_over_all_platforms(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    assert_eq!(store.journal_backlog().await.unwrap(), Backlog::default());
    store
        .journal_insert(&entry("discord", "1", 50))
        .await
        .unwrap();
    store
        .journal_insert(&entry("discord", "2", 70))
        .await
        .unwrap();
    store
        .journal_insert(&entry("slack", "3.1", 60))
        .await
        .unwrap();
    store
        .journal_set_state("discord", "1", JournalState::Answered, 80)
        .await
        .unwrap();
    store
        .journal_set_state("slack", "3.1", JournalState::Interrupted, 80)
        .await
        .unwrap();
    let backlog = store.journal_backlog().await.unwrap();
    assert_eq!(
        backlog,
        Backlog {
            unanswered: 2,
            oldest_unanswered_ms: Some(60)
        }
    );
}

async fn prune_drops_only_old_finished_entries(backend: TestBackend) {
    let (_db, store) = temp_store(backend).await;
    for (id, state, updated) in [
        ("old-answered", JournalState::Answered, 100),
        ("old-failed", JournalState::Failed, 100),
        ("new-answered", JournalState::Answered, 300),
        ("old-prompted", JournalState::Prompted, 100),
    ] {
        store
            .journal_insert(&entry("discord", id, 1))
            .await
            .unwrap();
        store
            .journal_set_state("discord", id, state, updated)
            .await
            .unwrap();
    }
    assert_eq!(store.prune_journal(200).await.unwrap(), 2);
    assert!(
        store
            .journal_entry("discord", "old-answered")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .journal_entry("discord", "new-answered")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        ids(&store.journal_unfinished("discord").await.unwrap()),
        ["old-prompted"]
    );
    // Pruned ids may be journaled again (dedupe is `seen`'s job).
    assert!(
        store
            .journal_insert(&entry("discord", "old-failed", 2))
            .await
            .unwrap()
    );
}
