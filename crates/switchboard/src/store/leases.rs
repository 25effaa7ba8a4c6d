//! Leases with fencing tokens (issue 14): one holder at a time for a named
//! thing (a Discord shard, a thread), on the database's clock.
//!
//! Owns the `leases` table and the fence that writes made under a lease
//! carry: [`Fence`] is the lease's name, holder and token, and a fenced
//! statement changes nothing unless that lease is still held, by that
//! holder, with that token, unexpired, all checked by the database inside the
//! statement itself ([`fence_condition`]). On PostgreSQL the check also locks
//! the lease row `FOR SHARE`, so a takeover waits for a fenced write in
//! flight to commit and a write racing a committed takeover re-reads the
//! row and is refused.
//!
//! Expiry is judged by the database's clock only (instances' clocks may
//! differ); the holder's own deadline is the caller's business (see
//! `cluster::lease`). It must never decide who should hold what.

use std::sync::Arc;
use std::time::Duration;

use sqlx::QueryBuilder;

use super::{Backend, Store, StoreError};

/// Where a fenced [`Store`] gets the fence of its writes: `None` while the
/// lease is not held (the write is then refused without a round trip).
#[derive(Clone)]
pub struct FenceSource(pub Arc<dyn Fn() -> Option<Fence> + Send + Sync>);

impl std::fmt::Debug for FenceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FenceSource")
    }
}

/// A lease as the database holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseRecord {
    pub holder: String,
    pub token: i64,
    /// Milliseconds until it expires on the database's clock (negative:
    /// expired that long ago).
    pub expires_in_ms: i64,
}

/// What a write under a lease carries: refused unless the lease is still
/// `holder`'s with `token`, unexpired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub lease: String,
    pub holder: String,
    pub token: i64,
}

impl Backend {
    /// The database's clock in unix milliseconds, as an SQL expression.
    pub(super) fn now_sql(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
            Backend::Postgres(_) => "(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::BIGINT",
        }
    }
}

/// The condition a fenced statement adds to its `WHERE`: the lease named
/// by parameter `$first` is held by `$first+1` with token `$first+2`,
/// unexpired. Bind [`Fence::bind`]'s three values there.
pub(super) fn fence_condition(backend: &Backend, first: usize) -> String {
    let lock = match backend {
        Backend::Sqlite(_) => "",
        Backend::Postgres(_) => " FOR SHARE",
    };
    format!(
        "EXISTS (SELECT 1 FROM leases WHERE name = ${first} AND holder = ${} AND token = ${} \
         AND expires_at > {}{lock})",
        first + 1,
        first + 2,
        backend.now_sql()
    )
}

/// Add `AND` [`fence_condition`] with `fence`'s values bound, to a
/// statement being built.
pub(super) fn push_fence<'a, DB>(
    query: &mut QueryBuilder<'a, DB>,
    backend: &Backend,
    fence: &'a Fence,
) where
    DB: sqlx::Database,
    String: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
    i64: sqlx::Encode<'a, DB> + sqlx::Type<DB>,
{
    let lock = match backend {
        Backend::Sqlite(_) => "",
        Backend::Postgres(_) => " FOR SHARE",
    };
    query.push(" AND EXISTS (SELECT 1 FROM leases WHERE name = ");
    query.push_bind(fence.lease.clone());
    query.push(" AND holder = ").push_bind(fence.holder.clone());
    query.push(" AND token = ").push_bind(fence.token);
    query.push(format!(" AND expires_at > {}{lock})", backend.now_sql()));
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Store {
    /// This store with the journal's state writes fenced by `source`'s
    /// lease (the writes of a thread's owner): refused, as
    /// [`StoreError::Fenced`], once the lease is not this instance's.
    pub fn fenced_by(&self, source: FenceSource) -> Store {
        Store {
            backend: self.backend.clone(),
            fence: Some(source),
        }
    }

    /// This store without a fence (a write whose truth does not depend on
    /// who holds the lease: an answer given in full, recorded late).
    pub fn unfenced(&self) -> Store {
        Store {
            backend: self.backend.clone(),
            fence: None,
        }
    }

    /// The fence this store's writes carry now: `Ok(None)` for an unfenced
    /// store, `Err(Fenced)` when its lease is not held.
    pub(super) fn write_fence(&self, op: &'static str) -> Result<Option<Fence>, StoreError> {
        match &self.fence {
            None => Ok(None),
            Some(source) => (source.0)().map(Some).ok_or(StoreError::Fenced {
                op,
                lease: "(none held by this instance)".to_owned(),
                token: 0,
            }),
        }
    }

    /// After a fenced write changed fewer rows than it should: `Fenced` if
    /// the lease is the reason, else `otherwise`.
    pub(super) async fn fenced_or(
        &self,
        op: &'static str,
        fence: &Fence,
        otherwise: StoreError,
    ) -> StoreError {
        match self.lease(&fence.lease).await {
            Ok(Some(lease))
                if lease.holder == fence.holder
                    && lease.token == fence.token
                    && lease.expires_in_ms > 0 =>
            {
                otherwise
            }
            _ => StoreError::Fenced {
                op,
                lease: fence.lease.clone(),
                token: fence.token,
            },
        }
    }

    /// Take the lease `name` for `holder` for `ttl`, if it is free, expired
    /// or already `holder`'s: its fencing token, or `None` while another
    /// holder's lease runs. Every acquisition gets a larger token than any
    /// before, even `holder` taking again a lease it still holds: a token
    /// names one tenure, so what is still in flight under an earlier one
    /// (a late release, a fenced write) can never end or act for this one.
    pub async fn lease_acquire(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<i64>, StoreError> {
        let now = self.backend.now_sql();
        let sql = format!(
            "INSERT INTO leases (name, holder, token, expires_at, acquired_at) \
             VALUES ($1, $2, 1, {now} + $3, {now}) \
             ON CONFLICT (name) DO UPDATE SET \
             token = leases.token + 1, acquired_at = excluded.acquired_at, \
             holder = excluded.holder, expires_at = excluded.expires_at \
             WHERE leases.holder = excluded.holder OR leases.expires_at <= {now} \
             RETURNING token"
        );
        on_backend!(self, writer, |pool| {
            sqlx::query_scalar::<_, i64>(&sql)
                .bind(name)
                .bind(holder)
                .bind(ttl_ms(ttl))
                .fetch_optional(pool)
                .await
        })
        .map_err(StoreError::query("lease_acquire"))
    }

    /// Extend `fence`'s lease to `ttl` from now: `false` if it is no longer
    /// that holder's with that token, or already expired (then it must be
    /// acquired anew, with a new token).
    pub async fn lease_renew(&self, fence: &Fence, ttl: Duration) -> Result<bool, StoreError> {
        self.lease_expire_in(fence, ttl_ms(ttl), "lease_renew")
            .await
    }

    /// Give `fence`'s lease up now (it expires; the token stays, so the next
    /// holder's is larger). `false` if it was no longer `fence`'s.
    pub async fn lease_release(&self, fence: &Fence) -> Result<bool, StoreError> {
        self.lease_expire_in(fence, 0, "lease_release").await
    }

    /// Set `fence`'s unexpired lease to expire `ms` from now.
    async fn lease_expire_in(
        &self,
        fence: &Fence,
        ms: i64,
        op: &'static str,
    ) -> Result<bool, StoreError> {
        let now = self.backend.now_sql();
        let sql = format!(
            "UPDATE leases SET expires_at = {now} + $4 \
             WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > {now}"
        );
        on_backend!(self, writer, |pool| {
            sqlx::query(&sql)
                .bind(&fence.lease)
                .bind(&fence.holder)
                .bind(fence.token)
                .bind(ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected() == 1)
        })
        .map_err(StoreError::query(op))
    }

    /// The lease `name` as the database holds it, if it was ever taken.
    pub async fn lease(&self, name: &str) -> Result<Option<LeaseRecord>, StoreError> {
        let now = self.backend.now_sql();
        let sql = format!("SELECT holder, token, expires_at - {now} FROM leases WHERE name = $1");
        let row: Option<(String, i64, i64)> = on_backend!(self, reader, |pool| {
            sqlx::query_as(&sql).bind(name).fetch_optional(pool).await
        })
        .map_err(StoreError::query("lease"))?;
        Ok(row.map(|(holder, token, expires_in_ms)| LeaseRecord {
            holder,
            token,
            expires_in_ms,
        }))
    }
}

#[cfg(test)]
#[path = "leases_tests.rs"]
mod tests;
