//! The two multi-table writes of a message's life:
//!
//! - [`Store::journal_accept`]: journal an accepted message and record its
//!   id as seen, before the message is acted on;
//! - [`Store::finish_turn`]: move a turn's messages to their final state
//!   with the reply's message ids, and mark the thread active.
//!
//! Each is one round trip to the writer's thread, and all-or-nothing. This file must never decide what is accepted
//! or how a turn ended: callers say so.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use sqlx::pool::PoolConnection;
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::journal::{INSERT_SQL, bind_entry, no_such_entry, push_batch_filter, replies_json};
use super::seen::sighting_sql;
use super::{Backend, JournalEntry, JournalState, Store, StoreError};

/// Accepting a message on SQLite, as one statement list: one round trip to
/// the writer's thread instead of four (begin, two inserts, commit), since
/// it is on the way of every message to its agent. The journal insert
/// returns a row only when it inserted; the seen claim reuses its
/// parameters (`$1` platform, `$2` message id, `$10` time received).
static ACCEPT_SQLITE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "BEGIN; {INSERT_SQL} RETURNING 1; {}; COMMIT;",
        sighting_sql(1, 2, 10)
    )
});

/// The same on PostgreSQL, which takes one statement per round trip with
/// parameters: both inserts as data-modifying `WITH` parts of one
/// statement, all or nothing by itself; a row only when it journaled.
static ACCEPT_POSTGRES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH journaled AS ({INSERT_SQL} RETURNING 1), claimed AS ({}) \
         SELECT 1 FROM journaled",
        sighting_sql(1, 2, 10)
    )
});

/// The writer connection while a statement list with its own BEGIN runs:
/// if that does not finish (an error the rollback cannot undo, or the
/// caller dropping the future mid-way), the connection is closed rather
/// than returned to the pool, and closing rolls back what it began.
struct Unfinished<'c> {
    conn: &'c mut PoolConnection<Sqlite>,
    finished: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.conn.close_on_drop();
        }
    }
}

/// Run [`ACCEPT_SQLITE`] for `entry` on `conn`: whether it inserted, and
/// whether the connection is clean afterwards (no transaction left open).
async fn accept_on(
    conn: &mut SqliteConnection,
    entry: &JournalEntry,
    waiting_for: Option<&str>,
) -> (Result<bool, sqlx::Error>, bool) {
    let query = bind_entry!(sqlx::query(ACCEPT_SQLITE.as_str()), entry, waiting_for);
    match query.fetch_all(&mut *conn).await {
        Ok(rows) => (Ok(rows.len() == 1), true),
        Err(err) => {
            // A statement after BEGIN failed: undo the rest.
            let undone = sqlx::query("ROLLBACK").execute(&mut *conn).await.is_ok();
            (Err(err), undone)
        }
    }
}

/// Two statements in one round trip, answering the first one's rows: a
/// statement list on SQLite, data-modifying `WITH` parts on PostgreSQL.
/// (Text before the first, between the two, after the second.)
fn two_statements(backend: &Backend) -> (&'static str, &'static str, &'static str) {
    match backend {
        Backend::Sqlite(_) => ("", " RETURNING 1; ", ""),
        Backend::Postgres(_) => (
            "WITH first AS (",
            " RETURNING 1), second AS (",
            ") SELECT 1 FROM first",
        ),
    }
}

impl Store {
    /// Journal `entry` and claim its id in `seen`, in one transaction;
    /// `false` (and no change to the journal) if it is journaled already.
    pub async fn journal_accept(&self, entry: &JournalEntry) -> Result<bool, StoreError> {
        self.journal_accept_for(entry, None).await
    }

    /// [`Store::journal_accept`], the entry left for instance `waiting_for`
    /// (the owner of its thread, which takes it: ADR 22) in the same
    /// statement, so no entry is ever journaled unmarked for an owner
    /// that would not look for it.
    pub async fn journal_accept_for(
        &self,
        entry: &JournalEntry,
        waiting_for: Option<&str>,
    ) -> Result<bool, StoreError> {
        const OP: &str = "journal_accept";
        // A fenced store accepts only while its lease may be acted on, by
        // this process's clock (which ends before the database's lease can;
        // `cluster::lease`): no database check in this hot statement.
        self.write_fence(OP)?;
        match &self.backend {
            Backend::Sqlite(sqlite) => {
                let mut conn = sqlite
                    .writer
                    .acquire()
                    .await
                    .map_err(StoreError::query(OP))?;
                let mut guard = Unfinished {
                    conn: &mut conn,
                    finished: false,
                };
                let (result, undone) = accept_on(guard.conn, entry, waiting_for).await;
                guard.finished = undone;
                result.map_err(StoreError::query(OP))
            }
            Backend::Postgres(pg) => {
                let rows = bind_entry!(sqlx::query(ACCEPT_POSTGRES.as_str()), entry, waiting_for)
                    .fetch_all(&pg.pool)
                    .await
                    .map_err(StoreError::query(OP))?;
                Ok(rows.len() == 1)
            }
        }
    }

    /// End a turn in one round trip: every message of the batch to `state`
    /// with `reply_ids` recorded, and `thread_id`'s last activity moved to
    /// `now_ms` (if the thread is stored: a missing thread row must not keep
    /// the messages unfinished). Nothing changes if a message is not
    /// journaled (`NoSuchEntry`).
    pub async fn finish_turn(
        &self,
        platform: &str,
        message_ids: &[&str],
        state: JournalState,
        reply_ids: &[String],
        thread_id: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        const OP: &str = "finish_turn";
        let ids: BTreeSet<&str> = message_ids.iter().copied().collect();
        if ids.is_empty() {
            return Ok(());
        }
        // Two statements, each all or nothing by the batch filter; the
        // journal update reports a row per entry it moved.
        let fence = self.write_fence(OP)?;
        let (before, between, after) = two_statements(&self.backend);
        let moved = on_backend!(self, writer, |pool| {
            let mut sql = QueryBuilder::new(before);
            sql.push("UPDATE journal SET state = ")
                .push_bind(state.as_str());
            sql.push(", reply_message_ids = ")
                .push_bind(replies_json(reply_ids));
            sql.push(", updated_at = ").push_bind(now_ms);
            push_batch_filter!(&mut sql, platform, &ids);
            if let Some(fence) = &fence {
                super::leases::push_fence(&mut sql, &self.backend, fence);
            }
            sql.push(between);
            sql.push("UPDATE threads SET last_active_at = CASE WHEN last_active_at < ")
                .push_bind(now_ms)
                .push(" THEN ")
                .push_bind(now_ms)
                .push(" ELSE last_active_at END WHERE platform = ")
                .push_bind(platform)
                .push(" AND thread_id = ")
                .push_bind(thread_id)
                .push(" AND EXISTS (SELECT 1 FROM journal");
            push_batch_filter!(&mut sql, platform, &ids);
            sql.push(")").push(after);
            sql.build().fetch_all(pool).await.map(|rows| rows.len())
        })
        .map_err(StoreError::query(OP))?;
        if moved != ids.len() {
            let missing = no_such_entry(OP, platform, &ids);
            return Err(match &fence {
                Some(fence) => self.fenced_or(OP, fence, missing).await,
                None => missing,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::ThreadRecord;
    use super::super::test_support::{TestBackend, temp_store};
    use super::*;

    both_backends!(
        accepting_journals_and_claims_the_id_once,
        an_accept_dropped_mid_way_leaves_no_transaction_open,
        a_failed_accept_changes_nothing_and_the_writer_goes_on,
        a_seen_id_can_still_be_journaled,
        finishing_a_turn_sets_state_replies_and_activity_together,
        finishing_changes_nothing_when_a_message_is_missing,
        a_missing_thread_row_does_not_keep_a_turn_unfinished,
    );

    fn entry(id: &str) -> JournalEntry {
        super::super::test_support::journal_entry(id)
    }

    fn thread() -> ThreadRecord {
        ThreadRecord {
            platform: "discord".into(),
            thread_id: "t1".into(),
            channel_id: "c1".into(),
            created_at_ms: 1,
            last_active_at_ms: 1,
            session_id: None,
            cwd: None,
            supports_load: false,
            context_lost_notified: false,
        }
    }

    async fn accepting_journals_and_claims_the_id_once(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        assert!(store.journal_accept(&entry("10")).await.unwrap());
        let stored = store.journal_entry("discord", "10").await.unwrap();
        assert_eq!(stored, Some(entry("10")));
        // The id is seen too, at the time received, so a later plain
        // sighting is a duplicate.
        let seen_at = store
            .test_scalar("SELECT seen_at FROM seen WHERE message_id = $1", "10")
            .await;
        assert_eq!(seen_at, 1_000);
        assert!(!store.first_sighting("discord", "10", 2_000).await.unwrap());
        // A second accept (a replay) changes nothing.
        let mut replay = entry("10");
        replay.content = "changed".into();
        assert!(!store.journal_accept(&replay).await.unwrap());
        let stored = store.journal_entry("discord", "10").await.unwrap().unwrap();
        assert_eq!(stored.content, "hello");
    }

    async fn an_accept_dropped_mid_way_leaves_no_transaction_open(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        for i in 0..20 {
            let id = i.to_string();
            let e = entry(&id);
            // Poll once (the statements are sent), then drop it.
            let mut accept = Box::pin(store.journal_accept(&e));
            let _ = futures_util::poll!(accept.as_mut());
            drop(accept);
            // Whatever became of it, the writer still commits: a reader on
            // another connection sees the next write.
            let next = format!("after-{i}");
            assert!(store.first_sighting("discord", &next, 1).await.unwrap());
            let seen = store
                .test_scalar("SELECT COUNT(*) FROM seen WHERE message_id = $1", &next)
                .await;
            assert_eq!(seen, 1, "a write after a dropped accept was not committed");
            // And the accepted message is journaled at most once.
            let _ = store.journal_accept(&e).await.unwrap();
            assert!(store.journal_entry("discord", &id).await.unwrap().is_some());
        }
    }

    async fn a_failed_accept_changes_nothing_and_the_writer_goes_on(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        // Make the seen claim fail after the journal insert has run inside
        // the transaction (SQLite) or the statement (PostgreSQL).
        store
            .test_exec(match backend {
                TestBackend::Sqlite => {
                    "CREATE TRIGGER refuse_seen BEFORE INSERT ON seen \
                     BEGIN SELECT RAISE(ABORT, 'refused'); END;"
                }
                TestBackend::Postgres => {
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql \
                     AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$; \
                     CREATE TRIGGER refuse_seen BEFORE INSERT ON seen \
                     FOR EACH ROW EXECUTE FUNCTION refuse();"
                }
            })
            .await;
        let err = store.journal_accept(&entry("1")).await.unwrap_err();
        assert!(err.to_string().contains("refused"), "{err}");
        assert_eq!(store.journal_entry("discord", "1").await.unwrap(), None);
        store
            .test_exec(match backend {
                TestBackend::Sqlite => "DROP TRIGGER refuse_seen",
                TestBackend::Postgres => "DROP TRIGGER refuse_seen ON seen",
            })
            .await;
        assert!(store.journal_accept(&entry("1")).await.unwrap());
        assert!(store.journal_entry("discord", "1").await.unwrap().is_some());
    }

    async fn a_seen_id_can_still_be_journaled(backend: TestBackend) {
        // A message first ignored (seen), then accepted, is journaled.
        let (_db, store) = temp_store(backend).await;
        assert!(store.first_sighting("discord", "11", 1).await.unwrap());
        assert!(store.journal_accept(&entry("11")).await.unwrap());
    }

    async fn finishing_a_turn_sets_state_replies_and_activity_together(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        store.upsert_thread(&thread()).await.unwrap();
        for id in ["1", "2"] {
            store.journal_accept(&entry(id)).await.unwrap();
        }
        let replies = vec!["r1".to_owned(), "r2".to_owned()];
        store
            .finish_turn(
                "discord",
                &["1", "2"],
                JournalState::Answered,
                &replies,
                "t1",
                5_000,
            )
            .await
            .unwrap();
        for id in ["1", "2"] {
            let e = store.journal_entry("discord", id).await.unwrap().unwrap();
            assert_eq!(
                (e.state, e.reply_message_ids),
                (JournalState::Answered, replies.clone())
            );
        }
        let t = store.thread("discord", "t1").await.unwrap().unwrap();
        assert_eq!(t.last_active_at_ms, 5_000);
    }

    async fn finishing_changes_nothing_when_a_message_is_missing(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        store.upsert_thread(&thread()).await.unwrap();
        store.journal_accept(&entry("1")).await.unwrap();
        let err = store
            .finish_turn("discord", &["1", "404"], JournalState::Failed, &[], "t1", 9)
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NoSuchEntry { .. }), "{err}");
        let e = store.journal_entry("discord", "1").await.unwrap().unwrap();
        assert_eq!(e.state, JournalState::Received);
        let t = store.thread("discord", "t1").await.unwrap().unwrap();
        assert_eq!(t.last_active_at_ms, 1, "the thread was not touched");
    }

    async fn a_missing_thread_row_does_not_keep_a_turn_unfinished(backend: TestBackend) {
        let (_db, store) = temp_store(backend).await;
        store.journal_accept(&entry("1")).await.unwrap();
        store
            .finish_turn("discord", &["1"], JournalState::Answered, &[], "t1", 9)
            .await
            .unwrap();
        let e = store.journal_entry("discord", "1").await.unwrap().unwrap();
        assert_eq!(e.state, JournalState::Answered);
    }
}
