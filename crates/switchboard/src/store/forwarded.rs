//! Inputs left for a thread's owner (ADR 22): a click or a command heard
//! by an instance that does not own the thread it belongs to. They are not
//! journaled messages (nothing is answered twice if one is lost; the user
//! clicks again), so they live apart, taken and deleted by the owner in
//! one statement.
//!
//! Owns the `forwarded_inputs` table. The input itself is the broker's
//! JSON, opaque here. It must never hand one input to two takers.

use super::{Store, StoreError};

/// One input left for this instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForwardedInput {
    pub thread_id: String,
    /// The broker's JSON.
    pub input: String,
}

impl Store {
    /// Leave `input` (JSON) in `thread_id` for instance `owner`.
    pub async fn forward_input(
        &self,
        owner: &str,
        platform: &str,
        thread_id: &str,
        input: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        on_backend!(self, writer, |pool| {
            sqlx::query(
                "INSERT INTO forwarded_inputs (instance, platform, thread_id, input, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(owner)
            .bind(platform)
            .bind(thread_id)
            .bind(input)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(StoreError::query("forward_input"))
    }

    /// Take (and delete) at most `limit` of the inputs left for `owner` on
    /// `platform`, oldest first.
    pub async fn take_forwarded_inputs(
        &self,
        owner: &str,
        platform: &str,
        limit: usize,
    ) -> Result<Vec<ForwardedInput>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut rows: Vec<(i64, String, String)> = on_backend!(self, writer, |pool| {
            sqlx::query_as(
                "DELETE FROM forwarded_inputs WHERE id IN (SELECT id FROM forwarded_inputs \
                 WHERE instance = $1 AND platform = $2 ORDER BY id LIMIT $3) \
                 RETURNING id, thread_id, input",
            )
            .bind(owner)
            .bind(platform)
            .bind(limit)
            .fetch_all(pool)
            .await
        })
        .map_err(StoreError::query("take_forwarded_inputs"))?;
        rows.sort_by_key(|(id, _, _)| *id);
        Ok(rows
            .into_iter()
            .map(|(_, thread_id, input)| ForwardedInput { thread_id, input })
            .collect())
    }

    /// Delete inputs left before `older_than_ms` that nobody took (their
    /// owner died; a click that old is of no use).
    pub async fn prune_forwarded_inputs(&self, older_than_ms: i64) -> Result<u64, StoreError> {
        on_backend!(self, writer, |pool| {
            sqlx::query("DELETE FROM forwarded_inputs WHERE created_at < $1")
                .bind(older_than_ms)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })
        .map_err(StoreError::query("prune_forwarded_inputs"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support::{TestBackend, temp_store};

    both_backends!(inputs_are_taken_once_oldest_first_by_their_owner_and_old_ones_pruned);

    async fn inputs_are_taken_once_oldest_first_by_their_owner_and_old_ones_pruned(
        backend: TestBackend,
    ) {
        let (_db, store) = temp_store(backend).await;
        for (owner, platform, thread, input, at) in [
            ("a", "slack", "t1", "first", 1_000),
            ("b", "slack", "t2", "for b", 1_000),
            ("a", "slack", "t2", "second", 2_000),
            ("a", "discord", "t3", "other platform", 3_000),
            ("a", "slack", "t1", "third", 500),
        ] {
            store
                .forward_input(owner, platform, thread, input, at)
                .await
                .unwrap();
        }
        let inputs = |taken: Vec<ForwardedInput>| -> Vec<String> {
            taken.into_iter().map(|f| f.input).collect()
        };
        let taken = store.take_forwarded_inputs("a", "slack", 2).await.unwrap();
        assert_eq!(inputs(taken), ["first", "second"], "in the order left");
        let taken = store.take_forwarded_inputs("a", "slack", 10).await.unwrap();
        assert_eq!(taken[0].thread_id, "t1");
        assert_eq!(inputs(taken), ["third"]);
        assert!(
            store
                .take_forwarded_inputs("a", "slack", 10)
                .await
                .unwrap()
                .is_empty(),
            "each taken once"
        );
        assert_eq!(store.prune_forwarded_inputs(1_500).await.unwrap(), 1);
        assert!(
            store
                .take_forwarded_inputs("b", "slack", 10)
                .await
                .unwrap()
                .is_empty(),
            "pruned"
        );
        let taken = store
            .take_forwarded_inputs("a", "discord", 10)
            .await
            .unwrap();
        assert_eq!(inputs(taken), ["other platform"]);
    }
}
