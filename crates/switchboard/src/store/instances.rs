//! The instances of one bot sharing this store (issue 14): each one's
//! heartbeat and load, so the others know who is alive and who is least
//! loaded.
//!
//! Owns the `instances` table. Heartbeat times are the database's clock.
//! It must never decide who is dead (callers pass how stale is too stale).

use std::time::Duration;

use super::{Store, StoreError};

/// One instance as its last heartbeat left it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstanceRecord {
    pub id: String,
    /// Milliseconds since its last heartbeat, on the database's clock.
    pub heartbeat_age_ms: i64,
    pub live_sessions: i64,
    pub max_sessions: i64,
}

impl Store {
    /// Record that instance `id` is alive, with its load now.
    pub async fn instance_heartbeat(
        &self,
        id: &str,
        live_sessions: usize,
        max_sessions: usize,
    ) -> Result<(), StoreError> {
        let now = self.backend.now_sql();
        let sql = format!(
            "INSERT INTO instances (id, started_at, heartbeat_at, live_sessions, max_sessions) \
             VALUES ($1, {now}, {now}, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, \
             live_sessions = excluded.live_sessions, max_sessions = excluded.max_sessions"
        );
        let live = i64::try_from(live_sessions).unwrap_or(i64::MAX);
        let max = i64::try_from(max_sessions).unwrap_or(i64::MAX);
        on_backend!(self, writer, |pool| {
            sqlx::query(&sql)
                .bind(id)
                .bind(live)
                .bind(max)
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(StoreError::query("instance_heartbeat"))
    }

    /// Remove instance `id` (it is shutting down).
    pub async fn instance_gone(&self, id: &str) -> Result<(), StoreError> {
        on_backend!(self, writer, |pool| {
            sqlx::query("DELETE FROM instances WHERE id = $1")
                .bind(id)
                .execute(pool)
                .await
                .map(drop)
        })
        .map_err(StoreError::query("instance_gone"))
    }

    /// The instances whose last heartbeat is at most `within` old, least
    /// loaded first (live sessions over capacity), then by id.
    pub async fn instances_alive(
        &self,
        within: Duration,
    ) -> Result<Vec<InstanceRecord>, StoreError> {
        let now = self.backend.now_sql();
        let sql = format!(
            "SELECT id, {now} - heartbeat_at, live_sessions, max_sessions FROM instances \
             WHERE heartbeat_at >= {now} - $1 \
             ORDER BY CAST(live_sessions AS DOUBLE PRECISION) / \
             CAST(CASE WHEN max_sessions > 0 THEN max_sessions ELSE 1 END AS DOUBLE PRECISION), id"
        );
        let within = i64::try_from(within.as_millis()).unwrap_or(i64::MAX / 2);
        let rows: Vec<(String, i64, i64, i64)> = on_backend!(self, reader, |pool| {
            sqlx::query_as(&sql).bind(within).fetch_all(pool).await
        })
        .map_err(StoreError::query("instances_alive"))?;
        Ok(rows
            .into_iter()
            .map(
                |(id, heartbeat_age_ms, live_sessions, max_sessions)| InstanceRecord {
                    id,
                    heartbeat_age_ms,
                    live_sessions,
                    max_sessions,
                },
            )
            .collect())
    }
}
