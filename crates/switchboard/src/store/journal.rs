//! The journal of accepted inbound messages.
//!
//! Owns the `journal` table. An entry is written BEFORE its message is acted
//! on, then moved along its [`JournalState`]s, with the reply messages sent
//! so far, so that after a crash every message is either finished, or found
//! by [`Store::journal_unfinished`] and finished then. Batch updates are
//! all-or-nothing, each one statement. This file must never delete an
//! unfinished entry, and
//! never reorder entries other than by arrival (received_at, then id order).

use std::collections::BTreeSet;

use sqlx::query::Query;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{QueryBuilder, Row, Sqlite};

use super::id_order::id_order_key;
use super::{Backlog, JournalState, Store, StoreError};

/// One accepted inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalEntry {
    pub platform: String,
    pub message_id: String,
    /// The conversation key (the thread the answer goes to).
    pub thread_id: String,
    /// Where the message was posted.
    pub channel_id: String,
    pub author_id: String,
    pub author_name: String,
    pub is_bot: bool,
    /// The prompt text.
    pub content: String,
    pub received_at_ms: i64,
    pub state: JournalState,
    /// The bot messages of the answer so far (empty: none yet).
    pub reply_message_ids: Vec<String>,
}

const COLUMNS: &str = "platform, message_id, thread_id, channel_id, author_id, author_name, \
                       is_bot, content, received_at, state, reply_message_ids";

fn from_row(row: &SqliteRow, op: &'static str) -> Result<JournalEntry, StoreError> {
    let get = StoreError::query(op);
    let state: String = row.try_get("state").map_err(get)?;
    let state = state
        .parse()
        .map_err(|e: super::UnknownJournalState| StoreError::Corrupt {
            op,
            detail: e.to_string(),
        })?;
    let replies: Option<String> = row
        .try_get("reply_message_ids")
        .map_err(StoreError::query(op))?;
    let reply_message_ids = match replies {
        None => Vec::new(),
        Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
            op,
            detail: format!("reply_message_ids {json:?}: {e}"),
        })?,
    };
    let field = |name: &str| {
        row.try_get::<String, _>(name)
            .map_err(StoreError::query(op))
    };
    Ok(JournalEntry {
        platform: field("platform")?,
        message_id: field("message_id")?,
        thread_id: field("thread_id")?,
        channel_id: field("channel_id")?,
        author_id: field("author_id")?,
        author_name: field("author_name")?,
        is_bot: row.try_get("is_bot").map_err(StoreError::query(op))?,
        content: field("content")?,
        received_at_ms: row.try_get("received_at").map_err(StoreError::query(op))?,
        state,
        reply_message_ids,
    })
}

/// The insert of one entry (13 parameters, see [`bind_entry`]); changes
/// nothing if it is journaled already.
pub(super) const INSERT_SQL: &str = "INSERT INTO journal (platform, message_id, id_key, thread_id, channel_id, \
                          author_id, author_name, is_bot, content, received_at, \
                          state, reply_message_ids, updated_at) \
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
     ON CONFLICT (platform, message_id) DO NOTHING";

/// Bind `e` to the parameters of [`INSERT_SQL`], after those bound so far.
pub(super) fn bind_entry<'q>(
    query: Query<'q, Sqlite, SqliteArguments<'q>>,
    e: &'q JournalEntry,
) -> Query<'q, Sqlite, SqliteArguments<'q>> {
    query
        .bind(&e.platform)
        .bind(&e.message_id)
        .bind(id_order_key(&e.message_id))
        .bind(&e.thread_id)
        .bind(&e.channel_id)
        .bind(&e.author_id)
        .bind(&e.author_name)
        .bind(e.is_bot)
        .bind(&e.content)
        .bind(e.received_at_ms)
        .bind(e.state.as_str())
        .bind(replies_json(&e.reply_message_ids))
        .bind(e.received_at_ms)
}

/// The JSON text stored for a list of reply ids (NULL for none).
pub(super) fn replies_json(reply_ids: &[String]) -> Option<String> {
    (!reply_ids.is_empty())
        .then(|| serde_json::to_string(reply_ids).expect("a list of strings always serializes"))
}

impl Store {
    /// Journal an accepted message; `false` (and no change) if this
    /// `(platform, message_id)` is journaled already.
    pub async fn journal_insert(&self, e: &JournalEntry) -> Result<bool, StoreError> {
        let done = bind_entry(sqlx::query(INSERT_SQL), e)
            .execute(&self.writer)
            .await
            .map_err(StoreError::query("journal_insert"))?;
        Ok(done.rows_affected() == 1)
    }

    /// Move one entry to `state`.
    pub async fn journal_set_state(
        &self,
        platform: &str,
        message_id: &str,
        state: JournalState,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.journal_set_states(platform, &[message_id], state, now_ms)
            .await
    }

    /// Move every entry of a batch to `state`: all or none (`NoSuchEntry`
    /// if any is not journaled).
    pub async fn journal_set_states(
        &self,
        platform: &str,
        message_ids: &[&str],
        state: JournalState,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut update = QueryBuilder::<Sqlite>::new("UPDATE journal SET state = ");
        update.push_bind(state.as_str());
        self.update_entries("journal_set_state", platform, message_ids, update, now_ms)
            .await
    }

    /// Record the bot messages of the answer so far on every message of the
    /// batch it answers: all or none (`NoSuchEntry` if any is missing).
    pub async fn journal_set_reply(
        &self,
        platform: &str,
        message_ids: &[&str],
        reply_ids: &[String],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut update = QueryBuilder::<Sqlite>::new("UPDATE journal SET reply_message_ids = ");
        update.push_bind(replies_json(reply_ids));
        self.update_entries("journal_set_reply", platform, message_ids, update, now_ms)
            .await
    }

    /// Finish `update` (an `UPDATE journal SET ...` with its assignments)
    /// with `updated_at` and the all-or-nothing batch filter
    /// ([`push_batch_filter`]) and run it: one statement, one round trip.
    pub(super) async fn update_entries<'a>(
        &self,
        op: &'static str,
        platform: &'a str,
        message_ids: &[&'a str],
        mut update: QueryBuilder<'a, Sqlite>,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let unique: BTreeSet<&'a str> = message_ids.iter().copied().collect();
        if unique.is_empty() {
            return Ok(());
        }
        update.push(", updated_at = ").push_bind(now_ms);
        push_batch_filter(&mut update, platform, &unique);
        let done = update
            .build()
            .execute(&self.writer)
            .await
            .map_err(StoreError::query(op))?;
        if done.rows_affected() != unique.len() as u64 {
            return Err(no_such_entry(op, platform, &unique));
        }
        Ok(())
    }

    /// One entry, if journaled.
    pub async fn journal_entry(
        &self,
        platform: &str,
        message_id: &str,
    ) -> Result<Option<JournalEntry>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM journal WHERE platform = ? AND message_id = ?");
        let row = sqlx::query(&sql)
            .bind(platform)
            .bind(message_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::query("journal_entry"))?;
        row.map(|row| from_row(&row, "journal_entry")).transpose()
    }

    /// The entries of `platform` still needing work (received, prompted,
    /// interrupted), oldest first: by received_at, then by id order.
    pub async fn journal_unfinished(
        &self,
        platform: &str,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let [a, b, c] = JournalState::UNFINISHED;
        let sql = format!(
            "SELECT {COLUMNS} FROM journal WHERE platform = ? AND state IN (?, ?, ?) \
             ORDER BY received_at, id_key, message_id"
        );
        let rows = sqlx::query(&sql)
            .bind(platform)
            .bind(a.as_str())
            .bind(b.as_str())
            .bind(c.as_str())
            .fetch_all(&self.pool)
            .await
            .map_err(StoreError::query("journal_unfinished"))?;
        rows.iter()
            .map(|row| from_row(row, "journal_unfinished"))
            .collect()
    }

    /// How many entries are unfinished over all platforms, and since when.
    pub async fn journal_backlog(&self) -> Result<Backlog, StoreError> {
        let [a, b, c] = JournalState::UNFINISHED;
        let (count, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(received_at) FROM journal WHERE state IN (?, ?, ?)",
        )
        .bind(a.as_str())
        .bind(b.as_str())
        .bind(c.as_str())
        .fetch_one(&self.pool)
        .await
        .map_err(StoreError::query("journal_backlog"))?;
        Ok(Backlog {
            unanswered: u64::try_from(count).unwrap_or(0),
            oldest_unanswered_ms: oldest,
        })
    }

    /// Delete finished entries (answered, failed) last updated before
    /// `older_than_ms`; returns how many. Unfinished entries are never
    /// pruned, however old.
    pub async fn prune_journal(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        let [a, b] = JournalState::FINISHED;
        let done = sqlx::query("DELETE FROM journal WHERE state IN (?, ?) AND updated_at < ?")
            .bind(a.as_str())
            .bind(b.as_str())
            .bind(older_than_ms)
            .execute(&self.writer)
            .await
            .map_err(StoreError::query("prune_journal"))?;
        Ok(done.rows_affected())
    }
}

/// ` WHERE` the entry is one of `ids` of `platform` `AND` every one of them
/// is journaled: a single statement that changes all of the batch or none
/// of it (the count is taken before any row changes), so a batch update
/// needs no transaction of its own.
pub(super) fn push_batch_filter<'a>(
    query: &mut QueryBuilder<'a, Sqlite>,
    platform: &'a str,
    ids: &BTreeSet<&'a str>,
) {
    let push_ids = |query: &mut QueryBuilder<'a, Sqlite>| {
        query.push(" AND message_id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(")");
    };
    query.push(" WHERE platform = ").push_bind(platform);
    push_ids(query);
    query
        .push(" AND (SELECT COUNT(*) FROM journal WHERE platform = ")
        .push_bind(platform);
    push_ids(query);
    query.push(") = ").push_bind(ids.len() as i64);
}

/// The error of a batch update that matched not every id.
pub(super) fn no_such_entry(op: &'static str, platform: &str, ids: &BTreeSet<&str>) -> StoreError {
    StoreError::NoSuchEntry {
        op,
        platform: platform.to_owned(),
        message_ids: ids.iter().map(|id| (*id).to_owned()).collect(),
    }
}

#[cfg(test)]
#[path = "journal_tests.rs"]
mod tests;
