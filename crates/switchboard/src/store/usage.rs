//! What the agent used per thread: tokens and cost, summed over the
//! thread's turns (issue 13). Owns the usage columns of `threads` only;
//! must never create a thread (a thread not stored yet gains nothing).

use super::{Store, StoreError};

/// A thread's usage so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThreadUsage {
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Millionths of `cost_currency`.
    pub cost_micros: i64,
    pub cost_currency: Option<String>,
}

impl Store {
    /// Add one turn's usage to a thread.
    pub async fn add_thread_usage(
        &self,
        platform: &str,
        thread_id: &str,
        added: &ThreadUsage,
    ) -> Result<(), StoreError> {
        on_backend!(self, writer, |pool| {
            sqlx::query(
                "UPDATE threads SET input_tokens = input_tokens + $1, \
                 output_tokens = output_tokens + $2, cost_micros = cost_micros + $3, \
                 cost_currency = COALESCE($4, cost_currency) \
                 WHERE platform = $5 AND thread_id = $6",
            )
            .bind(added.input_tokens)
            .bind(added.output_tokens)
            .bind(added.cost_micros)
            .bind(added.cost_currency.as_deref())
            .bind(platform)
            .bind(thread_id)
            .execute(pool)
            .await
            .map(drop)
        })
        .map_err(StoreError::query("add_thread_usage"))
    }

    /// A thread's usage (zero for a thread not stored).
    pub async fn thread_usage(
        &self,
        platform: &str,
        thread_id: &str,
    ) -> Result<ThreadUsage, StoreError> {
        let row: Option<(i64, i64, i64, Option<String>)> = on_backend!(self, writer, |pool| {
            sqlx::query_as(
                "SELECT input_tokens, output_tokens, cost_micros, cost_currency \
                 FROM threads WHERE platform = $1 AND thread_id = $2",
            )
            .bind(platform)
            .bind(thread_id)
            .fetch_optional(pool)
            .await
        })
        .map_err(StoreError::query("thread_usage"))?;
        Ok(
            row.map_or_else(ThreadUsage::default, |(i, o, c, currency)| ThreadUsage {
                input_tokens: i,
                output_tokens: o,
                cost_micros: c,
                cost_currency: currency,
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{TestBackend, temp_store};
    use super::super::threads::ThreadRecord;
    use super::*;

    both_backends!(usage_adds_up_per_thread_and_survives_a_reopen);

    async fn usage_adds_up_per_thread_and_survives_a_reopen(backend: TestBackend) {
        let (db, store) = temp_store(backend).await;
        store
            .upsert_thread(&ThreadRecord {
                platform: "discord".into(),
                thread_id: "t1".into(),
                channel_id: "c1".into(),
                created_at_ms: 1,
                last_active_at_ms: 1,
                session_id: None,
                cwd: None,
                supports_load: false,
                context_lost_notified: false,
            })
            .await
            .unwrap();
        let turn = ThreadUsage {
            input_tokens: 10,
            output_tokens: 4,
            cost_micros: 1_500,
            cost_currency: Some("USD".into()),
        };
        store
            .add_thread_usage("discord", "t1", &turn)
            .await
            .unwrap();
        store
            .add_thread_usage("discord", "t1", &turn)
            .await
            .unwrap();
        store
            .add_thread_usage("discord", "unknown", &turn)
            .await
            .unwrap();
        store.close().await;
        let store = db.open().await;
        assert_eq!(
            store.thread_usage("discord", "t1").await.unwrap(),
            ThreadUsage {
                input_tokens: 20,
                output_tokens: 8,
                cost_micros: 3_000,
                cost_currency: Some("USD".into()),
            }
        );
        assert_eq!(
            store.thread_usage("discord", "unknown").await.unwrap(),
            ThreadUsage::default()
        );
        drop(store);
        drop(db);
    }
}
