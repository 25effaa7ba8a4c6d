//! A gateway shard's session in the store (issue 14): what its holder saw
//! last, so a standby that takes the shard's lease RESUMEs it instead of
//! identifying anew, and Discord replays the events of the gap.
//!
//! Owns the `gateway_sessions` table. Every save is fenced by the shard's
//! lease ([`Fence`]): a deposed holder's late save is refused by the
//! database and reported as [`StoreError::Fenced`]. It must never decide
//! when to save or whether to resume.

use super::leases::{Fence, fence_condition};
use super::{Store, StoreError};

/// What a RESUME needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewaySession {
    pub session_id: String,
    /// The last sequence number the holder handled.
    pub sequence: u64,
    /// READY's `resume_gateway_url`.
    pub resume_url: Option<String>,
}

impl Store {
    /// Save `shard`'s session under `fence` (the shard's lease).
    pub async fn save_gateway_session(
        &self,
        shard: &str,
        session: &GatewaySession,
        fence: &Fence,
    ) -> Result<(), StoreError> {
        let now = self.backend.now_sql();
        let held = fence_condition(&self.backend, 5);
        let sql = format!(
            "INSERT INTO gateway_sessions (shard, session_id, sequence, resume_url, updated_at) \
             SELECT $1, $2, $3, $4, {now} WHERE {held} \
             ON CONFLICT (shard) DO UPDATE SET session_id = excluded.session_id, \
             sequence = excluded.sequence, resume_url = excluded.resume_url, \
             updated_at = excluded.updated_at"
        );
        let sequence = i64::try_from(session.sequence).unwrap_or(i64::MAX);
        let saved = on_backend!(self, writer, |pool| {
            sqlx::query(&sql)
                .bind(shard)
                .bind(&session.session_id)
                .bind(sequence)
                .bind(session.resume_url.as_deref())
                .bind(&fence.lease)
                .bind(&fence.holder)
                .bind(fence.token)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("save_gateway_session"))?;
        if saved == 0 {
            return Err(StoreError::Fenced {
                op: "save_gateway_session",
                lease: fence.lease.clone(),
                token: fence.token,
            });
        }
        Ok(())
    }

    /// Forget `shard`'s session (the gateway ended it), under `fence`.
    pub async fn forget_gateway_session(
        &self,
        shard: &str,
        fence: &Fence,
    ) -> Result<(), StoreError> {
        let held = fence_condition(&self.backend, 2);
        let sql = format!("DELETE FROM gateway_sessions WHERE shard = $1 AND {held}");
        on_backend!(self, writer, |pool| {
            sqlx::query(&sql)
                .bind(shard)
                .bind(&fence.lease)
                .bind(&fence.holder)
                .bind(fence.token)
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(StoreError::query("forget_gateway_session"))
    }

    /// `shard`'s saved session, if any.
    pub async fn gateway_session(&self, shard: &str) -> Result<Option<GatewaySession>, StoreError> {
        let row: Option<(String, i64, Option<String>)> = on_backend!(self, reader, |pool| {
            sqlx::query_as(
                "SELECT session_id, sequence, resume_url FROM gateway_sessions WHERE shard = $1",
            )
            .bind(shard)
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query("gateway_session"))?;
        Ok(
            row.map(|(session_id, sequence, resume_url)| GatewaySession {
                session_id,
                sequence: u64::try_from(sequence).unwrap_or(0),
                resume_url,
            }),
        )
    }
}
