//! This instance in the store: its id (`cluster.instance_id`, else the
//! host's name and the process id) and a heartbeat every third of the
//! lease ttl with its load (live agent sessions vs `broker.max_sessions`),
//! which placement reads to pick the least loaded instance.
//!
//! Owns the heartbeat task; dropping the [`Heartbeat`] stops it. It must
//! never remove another instance's row.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::store::Store;

/// The host's name and this process's id, e.g. `switchboard-7d9f-4821`:
/// unique among live instances (pods have distinct host names; processes
/// on one host distinct ids) and readable in logs.
pub fn default_instance_id() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let got = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let host = if got == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end])
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                    c
                } else {
                    '-'
                }
            })
            .take(80)
            .collect::<String>()
    } else {
        String::new()
    };
    let host = if host.is_empty() {
        "switchboard".to_owned()
    } else {
        host
    };
    format!("{host}-{}", std::process::id())
}

/// The running heartbeat; stops when dropped.
pub struct Heartbeat {
    task: JoinHandle<()>,
}

impl Heartbeat {
    /// Write `id`'s heartbeat now and then every `every`, with the load
    /// `load()` reports (live sessions, capacity). A failed write is logged
    /// and tried again at the next beat.
    pub fn start(
        store: Store,
        id: String,
        every: Duration,
        load: Arc<dyn Fn() -> (usize, usize) + Send + Sync>,
    ) -> Heartbeat {
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut failing = false;
            loop {
                ticks.tick().await;
                let (live, max) = load();
                match store.instance_heartbeat(&id, live, max).await {
                    Ok(()) if failing => {
                        failing = false;
                        tracing::info!(instance = %id, "instance heartbeat written again");
                    }
                    Ok(()) => {}
                    Err(err) if !failing => {
                        failing = true;
                        tracing::warn!(instance = %id, %err, "instance heartbeat not written; retrying at the next beat");
                    }
                    Err(_) => {}
                }
            }
        });
        Heartbeat { task }
    }

    /// Stop beating and remove `id`'s row (a clean shutdown), bounded.
    pub async fn stop(self, store: &Store, id: &str) {
        self.task.abort();
        let _ = tokio::time::timeout(Duration::from_secs(2), store.instance_gone(id)).await;
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_id_is_a_valid_instance_id_naming_this_process() {
        let id = default_instance_id();
        assert!(crate::config::valid_instance_id(&id), "{id}");
        assert!(id.ends_with(&format!("-{}", std::process::id())), "{id}");
    }
}
