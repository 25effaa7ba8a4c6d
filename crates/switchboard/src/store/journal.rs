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
use std::sync::LazyLock;

use sqlx::QueryBuilder;

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

pub(super) const COLUMNS: &str = "platform, message_id, thread_id, channel_id, author_id, author_name, \
                       is_bot, content, received_at, state, reply_message_ids";

/// A `journal` row as stored ([`COLUMNS`]).
#[derive(sqlx::FromRow)]
pub(super) struct JournalRow {
    platform: String,
    message_id: String,
    thread_id: String,
    channel_id: String,
    author_id: String,
    author_name: String,
    is_bot: bool,
    content: String,
    received_at: i64,
    state: String,
    reply_message_ids: Option<String>,
}

impl JournalRow {
    pub(super) fn into_entry(self, op: &'static str) -> Result<JournalEntry, StoreError> {
        let state = self
            .state
            .parse()
            .map_err(|e: super::UnknownJournalState| StoreError::Corrupt {
                op,
                detail: e.to_string(),
            })?;
        let reply_message_ids = match self.reply_message_ids {
            None => Vec::new(),
            Some(json) => serde_json::from_str(&json).map_err(|e| StoreError::Corrupt {
                op,
                detail: format!("reply_message_ids {json:?}: {e}"),
            })?,
        };
        Ok(JournalEntry {
            platform: self.platform,
            message_id: self.message_id,
            thread_id: self.thread_id,
            channel_id: self.channel_id,
            author_id: self.author_id,
            author_name: self.author_name,
            is_bot: self.is_bot,
            content: self.content,
            received_at_ms: self.received_at,
            state,
            reply_message_ids,
        })
    }
}

/// The insert of one entry (13 parameters, see [`bind_entry!`]); changes
/// nothing if it is journaled already. `$1` is the platform, `$2` the
/// message id and `$10` the time received (journal_accept's seen claim
/// reuses them).
pub(super) const INSERT_SQL: &str = "INSERT INTO journal (platform, message_id, id_key, thread_id, channel_id, \
                          author_id, author_name, is_bot, content, received_at, \
                          state, reply_message_ids, updated_at, waiting_for) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) \
     ON CONFLICT (platform, message_id) DO NOTHING";

/// Bind a `&JournalEntry` and the instance it is left for (`$14`, an
/// `Option<&str>`: ADR 22) to the parameters of [`INSERT_SQL`], after
/// those bound so far (a macro: the query's database is the backend's).
macro_rules! bind_entry {
    ($query:expr, $e:expr, $waiting_for:expr) => {{
        let e: &$crate::store::JournalEntry = $e;
        let waiting_for: Option<&str> = $waiting_for;
        $query
            .bind(&e.platform)
            .bind(&e.message_id)
            .bind($crate::store::id_order_key(&e.message_id))
            .bind(&e.thread_id)
            .bind(&e.channel_id)
            .bind(&e.author_id)
            .bind(&e.author_name)
            .bind(e.is_bot)
            .bind(&e.content)
            .bind(e.received_at_ms)
            .bind(e.state.as_str())
            .bind($crate::store::journal::replies_json(&e.reply_message_ids))
            .bind(e.received_at_ms)
            .bind(waiting_for)
    }};
}
pub(super) use bind_entry;

/// The JSON text stored for a list of reply ids (NULL for none).
pub(super) fn replies_json(reply_ids: &[String]) -> Option<String> {
    (!reply_ids.is_empty())
        .then(|| serde_json::to_string(reply_ids).expect("a list of strings always serializes"))
}

static ENTRY_SQL: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {COLUMNS} FROM journal WHERE platform = $1 AND message_id = $2")
});

static UNFINISHED_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {COLUMNS} FROM journal WHERE platform = $1 AND state IN ($2, $3, $4) \
         ORDER BY received_at, id_key, message_id"
    )
});

impl Store {
    /// Journal an accepted message; `false` (and no change) if this
    /// `(platform, message_id)` is journaled already.
    pub async fn journal_insert(&self, e: &JournalEntry) -> Result<bool, StoreError> {
        let inserted = on_backend!(self, writer, |pool| {
            bind_entry!(sqlx::query(INSERT_SQL), e, None)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("journal_insert"))?;
        Ok(inserted == 1)
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
        let set = ("state", Some(state.as_str().to_owned()));
        self.update_entries("journal_set_state", platform, message_ids, set, now_ms)
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
        let set = ("reply_message_ids", replies_json(reply_ids));
        self.update_entries("journal_set_reply", platform, message_ids, set, now_ms)
            .await
    }

    /// Set `column` to `value` (and `updated_at` to `now_ms`) on every
    /// entry of the batch, under the all-or-nothing batch filter
    /// ([`push_batch_filter`]): one statement, one round trip.
    pub(super) async fn update_entries(
        &self,
        op: &'static str,
        platform: &str,
        message_ids: &[&str],
        (column, value): (&'static str, Option<String>),
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let unique: BTreeSet<&str> = message_ids.iter().copied().collect();
        if unique.is_empty() {
            return Ok(());
        }
        let fence = self.write_fence(op)?;
        let updated = on_backend!(self, writer, |pool| {
            let mut update = QueryBuilder::new(format!("UPDATE journal SET {column} = "));
            update.push_bind(value);
            update.push(", updated_at = ").push_bind(now_ms);
            push_batch_filter!(&mut update, platform, &unique);
            if let Some(fence) = &fence {
                super::leases::push_fence(&mut update, &self.backend, fence);
            }
            update
                .build()
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query(op))?;
        if updated != unique.len() as u64 {
            let missing = no_such_entry(op, platform, &unique);
            return Err(match &fence {
                Some(fence) => self.fenced_or(op, fence, missing).await,
                None => missing,
            });
        }
        Ok(())
    }

    /// One entry, if journaled.
    pub async fn journal_entry(
        &self,
        platform: &str,
        message_id: &str,
    ) -> Result<Option<JournalEntry>, StoreError> {
        let row: Option<JournalRow> = on_backend!(self, reader, |pool| {
            sqlx::query_as(&ENTRY_SQL)
                .bind(platform)
                .bind(message_id)
                .fetch_optional(pool)
                .await
        })
        .map_err(StoreError::query("journal_entry"))?;
        row.map(|row| row.into_entry("journal_entry")).transpose()
    }

    /// The entries of `platform` still needing work (received, prompted,
    /// interrupted), oldest first: by received_at, then by id order.
    pub async fn journal_unfinished(
        &self,
        platform: &str,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let [a, b, c] = JournalState::UNFINISHED;
        let rows: Vec<JournalRow> = on_backend!(self, reader, |pool| {
            sqlx::query_as(&UNFINISHED_SQL)
                .bind(platform)
                .bind(a.as_str())
                .bind(b.as_str())
                .bind(c.as_str())
                .fetch_all(pool)
                .await
        })
        .map_err(StoreError::query("journal_unfinished"))?;
        rows.into_iter()
            .map(|row| row.into_entry("journal_unfinished"))
            .collect()
    }

    /// The thread `author_id` last wrote in (a journaled message) in
    /// `channel_id`: which thread a Slack command means when several
    /// instances heard the user's messages.
    pub async fn journal_latest_thread(
        &self,
        platform: &str,
        channel_id: &str,
        author_id: &str,
    ) -> Result<Option<String>, StoreError> {
        on_backend!(self, reader, |pool| {
            sqlx::query_scalar(
                "SELECT thread_id FROM journal WHERE platform = $1 AND channel_id = $2 \
                 AND author_id = $3 ORDER BY received_at DESC, id_key DESC LIMIT 1",
            )
            .bind(platform)
            .bind(channel_id)
            .bind(author_id)
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query("journal_latest_thread"))
    }

    /// How many entries are unfinished over all platforms, and since when.
    pub async fn journal_backlog(&self) -> Result<Backlog, StoreError> {
        let [a, b, c] = JournalState::UNFINISHED;
        let (count, oldest): (i64, Option<i64>) = on_backend!(self, reader, |pool| {
            sqlx::query_as(
                "SELECT COUNT(*), MIN(received_at) FROM journal WHERE state IN ($1, $2, $3)",
            )
            .bind(a.as_str())
            .bind(b.as_str())
            .bind(c.as_str())
            .fetch_one(pool)
            .await
        })
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
        on_backend!(self, writer, |pool| {
            sqlx::query("DELETE FROM journal WHERE state IN ($1, $2) AND updated_at < $3")
                .bind(a.as_str())
                .bind(b.as_str())
                .bind(older_than_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("prune_journal"))
    }
}

/// ` WHERE` the entry is one of `ids` of `platform` `AND` every one of them
/// is journaled: a single statement that changes all of the batch or none
/// of it (the count is taken before any row changes), so a batch update
/// needs no transaction of its own. Arguments: a `&mut QueryBuilder` of
/// the backend's database (which numbers the placeholders its way), the
/// platform and a `&BTreeSet<&str>` of ids. A macro, like
/// [`bind_entry!`]: it expands inside `on_backend!`'s arms, once per
/// database, with no `Encode`/`Type` bounds to spell out.
macro_rules! push_batch_filter {
    ($query:expr, $platform:expr, $ids:expr) => {{
        let query = $query;
        let ids: &std::collections::BTreeSet<&str> = $ids;
        let platform: &str = $platform;
        query.push(" WHERE platform = ").push_bind(platform);
        query.push(" AND message_id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(")");
        query
            .push(" AND (SELECT COUNT(*) FROM journal WHERE platform = ")
            .push_bind(platform);
        query.push(" AND message_id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(")");
        query.push(") = ").push_bind(ids.len() as i64);
    }};
}
pub(super) use push_batch_filter;

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
