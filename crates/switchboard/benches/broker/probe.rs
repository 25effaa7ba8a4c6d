//! One look at the broker's resources: resident memory, open file
//! descriptors and live agent children from /proc, and from its admin API's
//! /metrics the tokio runtime's alive tasks, the pool's live sessions and
//! the journal's backlog.
//!
//! Owns the HTTP client that reads the admin API. Must never change the
//! broker's state: it only reads.

use std::time::Duration;

use super::broker::Broker;
use super::procfs;

/// What one look saw.
#[derive(Clone, Debug)]
pub struct Sample {
    pub rss_kib: u64,
    pub fds: usize,
    pub agents: usize,
    /// `switchboard_tokio_alive_tasks` (the scrape's own task included).
    pub tasks: u64,
    /// Busy + idle sessions of every pool.
    pub sessions: u64,
    pub backlog: u64,
}

/// Reads the broker's /metrics.
pub struct Probe {
    client: reqwest::Client,
    metrics_url: String,
}

/// `addr=` of the broker's "admin API listening" log line.
fn admin_addr(log: &str) -> Option<String> {
    let line = log.lines().find(|l| l.contains("admin API listening"))?;
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("addr="))?;
    Some(addr.trim_matches('"').to_owned())
}

/// The sum of every series of metric `name` (all label sets).
fn metric_sum(text: &str, name: &str) -> Option<f64> {
    let values: Vec<f64> = text
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

impl Probe {
    /// Find the admin API in the broker's log (it logs its address at
    /// start, before READY); waits at most 10 s for the line.
    pub async fn new(b: &Broker) -> Probe {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let addr = loop {
            if let Some(addr) = admin_addr(&b.log()) {
                break addr;
            }
            if tokio::time::Instant::now() >= deadline {
                b.fail("no \"admin API listening\" line within 10 s");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        Probe {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("an HTTP client"),
            metrics_url: format!("http://{addr}/metrics"),
        }
    }

    pub async fn sample(&self, b: &Broker) -> Sample {
        let text = match self.client.get(&self.metrics_url).send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(err) => b.fail(&format!("/metrics does not answer: {err}")),
        };
        let metric = |name: &str| {
            metric_sum(&text, name).unwrap_or_else(|| b.fail(&format!("no {name} in /metrics")))
                as u64
        };
        Sample {
            rss_kib: procfs::rss_kib(b.pid).unwrap_or_else(|| b.fail("no VmRSS")),
            fds: procfs::open_fds(b.pid).unwrap_or_else(|| b.fail("no /proc/PID/fd")),
            agents: procfs::children(b.pid).len(),
            tasks: metric("switchboard_tokio_alive_tasks"),
            sessions: metric("switchboard_agent_sessions_busy")
                + metric("switchboard_agent_sessions_idle"),
            backlog: metric_sum(&text, "switchboard_journal_backlog").unwrap_or(0.0) as u64,
        }
    }
}
