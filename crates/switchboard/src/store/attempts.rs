//! How many times a journaled message has been taken up again after a
//! restart, so that one that keeps being interrupted is not retried forever.

use super::{Store, StoreError};

impl Store {
    /// Count one more attempt at answering `message_id` and return the new
    /// count (1 for the first retry after a restart). 0 if not journaled.
    pub async fn journal_bump_attempts(
        &self,
        platform: &str,
        message_id: &str,
    ) -> Result<u32, StoreError> {
        const OP: &str = "journal_bump_attempts";
        // One statement, so two callers can never read the same count.
        let attempts: Option<i64> = on_backend!(self, writer, |pool| {
            sqlx::query_scalar(
                "UPDATE journal SET attempts = attempts + 1 \
                 WHERE platform = $1 AND message_id = $2 RETURNING attempts",
            )
            .bind(platform)
            .bind(message_id)
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query(OP))?;
        Ok(attempts.map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX)))
    }
}
