//! [`StderrTail`]: the last lines an agent wrote to stderr, kept so a start
//! failure can say what the agent said before it died (a missing API key,
//! a wrong Node version...).
//!
//! Owns: a bounded buffer of lines ([`TAIL_LINES`] lines of at most
//! [`TAIL_LINE_MAX`] bytes; older lines are dropped) and whether the
//! stderr pipe has closed.
//!
//! Must never: grow without bound, hold its lock across an `.await`, or be
//! shown anywhere but to the operator who started the agent (stderr may
//! carry whatever the agent prints).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use super::process::truncate;

/// How many of the last stderr lines are kept.
pub const TAIL_LINES: usize = 10;
/// Longest line kept as is; longer ones are cut.
pub const TAIL_LINE_MAX: usize = 500;

/// A shared, bounded tail of an agent's stderr. Cheap to clone.
#[derive(Debug, Clone)]
pub struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
    closed_tx: Arc<watch::Sender<bool>>,
}

impl Default for StderrTail {
    fn default() -> Self {
        Self {
            lines: Arc::default(),
            closed_tx: Arc::new(watch::channel(false).0),
        }
    }
}

impl StderrTail {
    /// An empty tail.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keep `line` (cut to [`TAIL_LINE_MAX`]), dropping the oldest line
    /// when [`TAIL_LINES`] are already kept.
    pub fn push(&self, line: &str) {
        let line = truncate(line, TAIL_LINE_MAX).into_owned();
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == TAIL_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    /// The stderr pipe closed: every line the agent wrote is in.
    pub fn close(&self) {
        self.closed_tx.send_replace(true);
    }

    /// The kept lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().cloned().collect()
    }

    /// Wait until the pipe closed, at most `deadline` (a grandchild that
    /// escaped the process group may hold it open); true if it closed.
    pub async fn wait_closed(&self, deadline: Duration) -> bool {
        let mut closed = self.closed_tx.subscribe();
        tokio::time::timeout(deadline, closed.wait_for(|closed| *closed))
            .await
            .is_ok_and(|result| result.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_only_the_last_lines_each_cut() {
        let tail = StderrTail::new();
        for i in 0..TAIL_LINES + 3 {
            tail.push(&format!("line {i}"));
        }
        let lines = tail.lines();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[0], "line 3");
        assert_eq!(lines[TAIL_LINES - 1], format!("line {}", TAIL_LINES + 2));
        tail.push(&"x".repeat(TAIL_LINE_MAX * 2));
        let last = tail.lines().pop().unwrap();
        assert!(last.len() < TAIL_LINE_MAX + 30, "{}", last.len());
    }

    #[tokio::test(start_paused = true)]
    async fn waits_for_the_close_with_a_deadline() {
        let tail = StderrTail::new();
        assert!(!tail.wait_closed(Duration::from_secs(1)).await);
        let closer = tail.clone();
        tokio::spawn(async move { closer.close() });
        assert!(tail.wait_closed(Duration::from_secs(1)).await);
    }
}
