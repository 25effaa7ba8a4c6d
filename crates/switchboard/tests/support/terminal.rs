//! A terminal program's output as a person would read it: stdout and
//! stderr collected line by line (plus each stream's unfinished last line,
//! as a terminal shows streamed text before its newline), waits on text
//! with a deadline, and the check that no log line was printed into the
//! chat.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Child;
use tokio::sync::Notify;

#[derive(Clone, Default)]
pub struct Transcript {
    inner: Arc<Mutex<Collected>>,
    changed: Arc<Notify>,
}

#[derive(Default)]
struct Collected {
    /// Whole lines, in the order they were finished.
    lines: String,
    /// Each stream's unfinished last line (bytes: a character may be cut).
    pending: [Vec<u8>; 2],
}

impl Transcript {
    /// Spawn `command` as a person's terminal would run it (no colour, no
    /// RUST_LOG, every stream piped, killed when dropped) and collect what
    /// it prints.
    pub fn spawn(mut command: tokio::process::Command) -> (Child, Transcript) {
        let mut child = command
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the program starts");
        let transcript = Transcript::capture(&mut child);
        (child, transcript)
    }

    /// Collect `child`'s stdout and stderr (both must be piped).
    pub fn capture(child: &mut Child) -> Transcript {
        let transcript = Transcript::default();
        let streams: [Box<dyn AsyncRead + Unpin + Send>; 2] = [
            Box::new(child.stdout.take().expect("stdout piped")),
            Box::new(child.stderr.take().expect("stderr piped")),
        ];
        for (index, mut stream) in streams.into_iter().enumerate() {
            let transcript = transcript.clone();
            tokio::spawn(async move {
                let mut chunk = [0u8; 4096];
                while let Ok(read @ 1..) = stream.read(&mut chunk).await {
                    let mut collected = transcript.inner.lock().unwrap();
                    collected.pending[index].extend_from_slice(&chunk[..read]);
                    while let Some(end) = collected.pending[index].iter().position(|b| *b == b'\n')
                    {
                        let line: Vec<u8> = collected.pending[index].drain(..=end).collect();
                        collected.lines.push_str(&String::from_utf8_lossy(&line));
                    }
                    drop(collected);
                    transcript.changed.notify_waiters();
                }
            });
        }
        transcript
    }

    /// The whole lines, then each stream's unfinished line.
    pub fn text(&self) -> String {
        let collected = self.inner.lock().unwrap();
        let mut text = collected.lines.clone();
        for pending in collected.pending.iter().filter(|p| !p.is_empty()) {
            text.push_str(&String::from_utf8_lossy(pending));
            text.push('\n');
        }
        text
    }

    pub fn count(&self, needle: &str) -> usize {
        self.text().matches(needle).count()
    }

    /// Wait (10 s) until `needle` appears.
    pub async fn wait_for(&self, needle: &str) {
        self.wait_count_within(needle, 1, Duration::from_secs(10))
            .await;
    }

    /// Wait (10 s) until `needle` appears at least `n` times.
    pub async fn wait_count(&self, needle: &str, n: usize) {
        self.wait_count_within(needle, n, Duration::from_secs(10))
            .await;
    }

    pub async fn wait_count_within(&self, needle: &str, n: usize, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            if self.count(needle) >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("no `{needle}` (x{n}) in the output:\n{}", self.text());
            }
        }
    }

    /// Panic if any line looks like a tracing log line (timestamp or level
    /// field): the chat must carry none.
    pub fn assert_no_log_lines(&self) {
        let text = self.text();
        for line in text.lines() {
            assert!(
                !is_log_line(line),
                "a log line was printed into the chat: {line:?}\n{text}"
            );
        }
    }
}

/// A tracing-subscriber text line: `2026-12-03T11:30:37.123456Z  INFO ...`,
/// or any line with a level field.
pub fn is_log_line(line: &str) -> bool {
    let bytes = line.trim_start().as_bytes();
    let timestamp = bytes.len() > 20
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T';
    let level = [" TRACE ", " DEBUG ", " INFO ", " WARN ", " ERROR "]
        .iter()
        .any(|level| line.contains(level));
    timestamp || level
}
