//! The size and start-up cost of a well-used store.
//!
//! Fills 10,000 seen ids, 1,000 threads, 1,000 answered journal entries and
//! 100 cursors, then times a restart (`Store::open` and the start-up
//! queries) and the per-message dedupe claim. Times are printed, never
//! asserted (shared machines make them flaky); the file size is asserted.
//! Run with `--nocapture` to read the figures.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

const SEEN: usize = 10_000;
const THREADS: usize = 1_000;
const JOURNAL: usize = 1_000;
const CURSORS: usize = 100;
const MAX_BYTES: u64 = 10 * 1024 * 1024;

fn snowflake(i: usize) -> String {
    (1_175_928_471_234_567_890_u64 + i as u64 * 4_194_304).to_string()
}

async fn fill(store: &Store) {
    for i in 0..SEEN {
        assert!(
            store
                .first_sighting("discord", &snowflake(i), i as i64)
                .await
                .unwrap()
        );
    }
    for i in 0..THREADS {
        let t = ThreadRecord {
            platform: "discord".into(),
            thread_id: snowflake(SEEN + i),
            channel_id: snowflake(i % 10),
            created_at_ms: i as i64,
            last_active_at_ms: i as i64,
            session_id: Some(format!("sess-{i:08}-0000-0000-0000-000000000000")),
            cwd: Some(format!("/srv/switchboard/work/thread-{i}")),
            supports_load: true,
            context_lost_notified: false,
        };
        store.upsert_thread(&t).await.unwrap();
    }
    for i in 0..JOURNAL {
        let id = snowflake(i);
        let e = JournalEntry {
            platform: "discord".into(),
            message_id: id.clone(),
            thread_id: snowflake(SEEN + i % THREADS),
            channel_id: snowflake(i % 10),
            author_id: snowflake(7),
            author_name: "someone".into(),
            is_bot: false,
            content: "please look at the failing test in crates/foo and fix it ".repeat(4),
            received_at_ms: i as i64,
            state: JournalState::Received,
            reply_message_ids: Vec::new(),
        };
        assert!(store.journal_insert(&e).await.unwrap());
        let replies = vec![snowflake(50_000 + i), snowflake(60_000 + i)];
        store
            .journal_set_reply("discord", &[&id], &replies, i as i64)
            .await
            .unwrap();
        store
            .journal_set_state("discord", &id, JournalState::Answered, i as i64)
            .await
            .unwrap();
    }
    for i in 0..CURSORS {
        store
            .advance_cursor("discord", &snowflake(i), &snowflake(SEEN + i), 1)
            .await
            .unwrap();
    }
}

fn bytes_on_disk(db: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).ok()
        })
        .map(|m| m.len())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_store_stays_small_and_opens_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    let started = Instant::now();
    fill(&store).await;
    let fill_time = started.elapsed();
    let db = store.sqlite_path().unwrap().to_path_buf();
    store.close().await;
    drop(store);
    let size = bytes_on_disk(&db);

    let started = Instant::now();
    let store = Store::open(dir.path()).await.unwrap();
    let open_time = started.elapsed();
    let started = Instant::now();
    let threads = store.threads("discord").await.unwrap();
    let unfinished = store.journal_unfinished("discord").await.unwrap();
    let cursors = store.cursors("discord").await.unwrap();
    let backlog = store.journal_backlog().await.unwrap();
    let queries_time = started.elapsed();
    assert_eq!(threads.len(), THREADS);
    assert!(unfinished.is_empty());
    assert_eq!(cursors.len(), CURSORS);
    assert_eq!(backlog.unanswered, 0);

    let claims = 1_000;
    let started = Instant::now();
    for i in 0..claims {
        assert!(
            !store
                .first_sighting("discord", &snowflake(i), 0)
                .await
                .unwrap()
        );
    }
    let claim_time = started.elapsed() / claims as u32;
    let started = Instant::now();
    let pruned = store.prune_seen(SEEN as i64 / 2).await.unwrap();
    let prune_time = started.elapsed();
    assert_eq!(pruned, SEEN as u64 / 2);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    eprintln!(
        "store figures: {SEEN} seen + {THREADS} threads + {JOURNAL} answered journal \
         entries + {CURSORS} cursors = {size} bytes ({:.2} MiB) on disk; fill {:.0} ms; \
         open {:.2} ms; start-up queries (threads, journal_unfinished, cursors, backlog) \
         {:.2} ms; first_sighting {:.1} us each; prune_seen of {pruned} {:.2} ms",
        size as f64 / (1024.0 * 1024.0),
        ms(fill_time),
        ms(open_time),
        ms(queries_time),
        claim_time.as_secs_f64() * 1e6,
        ms(prune_time),
    );
    assert!(size < MAX_BYTES, "store is {size} bytes, over {MAX_BYTES}");
}
