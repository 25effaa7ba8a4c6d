//! The tokio runtime's own figures, read at scrape time: how many tasks are
//! alive, so a task that should have ended (an idle thread actor, an agent
//! actor, a connection handler) shows as a count that keeps growing.
//!
//! Owns nothing but the read. Must never block or spawn: it runs inside the
//! scrape, on whatever runtime serves it (none outside one: then no series).

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;

/// `switchboard_tokio_alive_tasks`, from the runtime the scrape runs on.
#[derive(Debug, Default)]
pub(super) struct RuntimeCollector;

impl Collector for RuntimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return Ok(());
        };
        let alive = handle.metrics().num_alive_tasks();
        let metric = encoder.encode_descriptor(
            "switchboard_tokio_alive_tasks",
            "Tasks alive on the tokio runtime (spawned and not yet ended), the scrape's own included",
            None,
            ConstGauge::new(0i64).metric_type(),
        )?;
        ConstGauge::new(i64::try_from(alive).unwrap_or(i64::MAX)).encode(metric)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::health::HealthRegistry;
    use crate::metrics::Metrics;

    fn alive_tasks(text: &str) -> i64 {
        text.lines()
            .find_map(|l| l.strip_prefix("switchboard_tokio_alive_tasks "))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no alive-task gauge in:\n{text}"))
    }

    #[tokio::test]
    async fn counts_a_task_while_it_lives_and_not_after() {
        let metrics = Metrics::new(HealthRegistry::default());
        let before = alive_tasks(&metrics.render());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = stopped.await;
        });
        assert_eq!(alive_tasks(&metrics.render()), before + 1);
        stop.send(()).unwrap();
        task.await.unwrap();
        // The count drops once the runtime has released the task, which
        // `await` on its handle may precede by a moment.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while alive_tasks(&metrics.render()) != before {
            assert!(tokio::time::Instant::now() < deadline, "task still counted");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    #[test]
    fn renders_no_series_outside_a_runtime() {
        let text = Metrics::new(HealthRegistry::default()).render();
        assert!(!text.contains("switchboard_tokio_alive_tasks"), "{text}");
    }
}
