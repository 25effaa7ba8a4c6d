//! Threads' owners (issue 14, point 5; ADR 22): a thread's turns run on
//! the instance holding the lease `thread:<platform>:<thread id>`, an
//! ordinary row of `leases` (same tokens, same fence).
//!
//! Owns the queries the owners and the placers ask: every lease of one
//! holder renewed by one statement (an instance renews all its threads at
//! once, and learns in the same answer which threads another instance
//! placed on it), the journal entries waiting for an owner, and the threads
//! whose unfinished entries have nobody (no lease, or an expired one). It
//! must never choose an owner: placement is the cluster's business.

use std::sync::LazyLock;
use std::time::Duration;

use super::journal::{COLUMNS, JournalRow};
use super::{JournalEntry, JournalState, Store, StoreError};

/// What every thread lease's name starts with.
pub const THREAD_LEASE_PREFIX: &str = "thread:";

/// The lease of `thread_id` on `platform`.
pub fn thread_lease_name(platform: &str, thread_id: &str) -> String {
    format!("{THREAD_LEASE_PREFIX}{platform}:{thread_id}")
}

/// The thread lease's name as SQL over a `journal` row aliased `j`.
const LEASE_OF_ROW: &str = "'thread:' || j.platform || ':' || j.thread_id";

/// The thread lease of the `journal` row being updated, held by `$holder`
/// unexpired (`{now}`: the database's clock).
fn lease_held_by(holder: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM leases l WHERE l.name = \
         'thread:' || journal.platform || ':' || journal.thread_id \
         AND l.holder = {holder} AND l.expires_at > {{now}})"
    )
}

static TAKE_WAITING_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE journal SET waiting_for = NULL \
         WHERE platform = $1 AND waiting_for = $2 AND state = $3 AND {} \
         AND message_id IN (SELECT message_id FROM journal WHERE platform = $1 \
         AND waiting_for = $2 ORDER BY received_at, id_key LIMIT $4) \
         RETURNING {}",
        lease_held_by("$2"),
        COLUMNS
    )
});

static TAKE_THREAD_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE journal SET waiting_for = NULL \
         WHERE platform = $1 AND thread_id = $2 AND state IN ($4, $5, $6) AND {} \
         RETURNING {}",
        lease_held_by("$3"),
        COLUMNS
    )
});

static UNATTENDED_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT j.thread_id, MIN(j.received_at) AS since FROM journal j \
         LEFT JOIN leases l ON l.name = {LEASE_OF_ROW} \
         WHERE j.platform = $1 AND j.state IN ($2, $3, $4) \
         AND (l.name IS NULL OR l.expires_at <= {{now}}) \
         GROUP BY j.thread_id ORDER BY since, j.thread_id LIMIT $5"
    )
});

impl Store {
    /// Extend every unexpired lease of `holder` whose name starts with
    /// `prefix` to `ttl` from now, in one statement: the (name, token) of
    /// each one renewed. A lease it held and that is missing from the
    /// answer is lost (expired, or another's now); one it did not know of
    /// was placed on it by another instance.
    pub async fn leases_renew_all(
        &self,
        holder: &str,
        prefix: &str,
        ttl: Duration,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let now = self.backend.now_sql();
        let sql = format!(
            "UPDATE leases SET expires_at = {now} + $3 \
             WHERE holder = $1 AND substr(name, 1, length($2)) = $2 AND expires_at > {now} \
             RETURNING name, token"
        );
        let ttl = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2);
        on_backend!(self, writer, |pool| {
            sqlx::query_as::<_, (String, i64)>(&sql)
                .bind(holder)
                .bind(prefix)
                .bind(ttl)
                .fetch_all(pool)
                .await
        })
        .map_err(StoreError::query("leases_renew_all"))
    }

    /// Take the `received` entries of `platform` left for `holder` in
    /// threads whose lease it holds, unexpired: at most `limit`, oldest
    /// first, each taken once (the statement clears their mark, so a
    /// second take, or a racing one, does not see them again).
    pub async fn journal_take_waiting(
        &self,
        holder: &str,
        platform: &str,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let sql = TAKE_WAITING_SQL.replace("{now}", self.backend.now_sql());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<JournalRow> = on_backend!(self, writer, |pool| {
            sqlx::query_as(&sql)
                .bind(platform)
                .bind(holder)
                .bind(JournalState::Received.as_str())
                .bind(limit)
                .fetch_all(pool)
                .await
        })
        .map_err(StoreError::query("journal_take_waiting"))?;
        in_arrival_order(rows, "journal_take_waiting")
    }

    /// Take every unfinished entry of `thread_id` for `holder`, which must
    /// hold the thread's lease (else nothing is taken): oldest first, with
    /// any mark for another instance cleared. A new owner takes its
    /// thread's work with this.
    pub async fn journal_take_thread(
        &self,
        platform: &str,
        thread_id: &str,
        holder: &str,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let sql = TAKE_THREAD_SQL.replace("{now}", self.backend.now_sql());
        let [a, b, c] = JournalState::UNFINISHED;
        let rows: Vec<JournalRow> = on_backend!(self, writer, |pool| {
            sqlx::query_as(&sql)
                .bind(platform)
                .bind(thread_id)
                .bind(holder)
                .bind(a.as_str())
                .bind(b.as_str())
                .bind(c.as_str())
                .fetch_all(pool)
                .await
        })
        .map_err(StoreError::query("journal_take_thread"))?;
        in_arrival_order(rows, "journal_take_thread")
    }

    /// The threads of `platform` with unfinished entries and nobody to
    /// finish them (no lease, or an expired one: its owner died or let
    /// go), the longest waiting first, at most `limit`.
    pub async fn threads_unattended(
        &self,
        platform: &str,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let sql = UNATTENDED_SQL.replace("{now}", self.backend.now_sql());
        let [a, b, c] = JournalState::UNFINISHED;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(String, i64)> = on_backend!(self, reader, |pool| {
            sqlx::query_as(&sql)
                .bind(platform)
                .bind(a.as_str())
                .bind(b.as_str())
                .bind(c.as_str())
                .bind(limit)
                .fetch_all(pool)
                .await
        })
        .map_err(StoreError::query("threads_unattended"))?;
        Ok(rows.into_iter().map(|(thread, _)| thread).collect())
    }
}

impl Store {
    /// Delete the threads' leases expired for longer than `expired_for`
    /// (a thread let go, its owner long gone): the table keeps only live
    /// threads and recent ones. A thread taken again afterwards starts its
    /// tokens anew, which fences nobody wrongly: a holder whose lease
    /// expired that long ago stopped acting on it long ago.
    pub async fn prune_thread_leases(&self, expired_for: Duration) -> Result<u64, StoreError> {
        let now = self.backend.now_sql();
        let sql = format!(
            "DELETE FROM leases WHERE substr(name, 1, length($1)) = $1 \
             AND expires_at < {now} - $2"
        );
        let age = i64::try_from(expired_for.as_millis()).unwrap_or(i64::MAX / 2);
        on_backend!(self, writer, |pool| {
            sqlx::query(&sql)
                .bind(THREAD_LEASE_PREFIX)
                .bind(age)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("prune_thread_leases"))
    }
}

/// Entries from `RETURNING` rows (which come in no set order), oldest
/// first as the journal orders arrivals.
fn in_arrival_order(
    rows: Vec<JournalRow>,
    op: &'static str,
) -> Result<Vec<JournalEntry>, StoreError> {
    let mut entries = rows
        .into_iter()
        .map(|row| row.into_entry(op))
        .collect::<Result<Vec<_>, _>>()?;
    entries.sort_by(|a, b| {
        a.received_at_ms
            .cmp(&b.received_at_ms)
            .then_with(|| super::id_cmp(&a.message_id, &b.message_id))
    });
    Ok(entries)
}

#[cfg(test)]
#[path = "thread_leases_tests.rs"]
mod tests;
