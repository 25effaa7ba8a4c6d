//! `switchboard demo`, driven through its stdin as a person would type.

mod support;

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;
use tokio::sync::Notify;

#[derive(Clone, Default)]
struct Output {
    text: Arc<Mutex<String>>,
    changed: Arc<Notify>,
}

impl Output {
    async fn wait_for(&self, needle: &str) {
        self.wait_count(needle, 1).await;
    }

    fn count(&self, needle: &str) -> usize {
        self.text.lock().unwrap().matches(needle).count()
    }

    /// Wait until `needle` appears at least `n` times.
    async fn wait_count(&self, needle: &str, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.changed.notified();
            if self.count(needle) >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no `{needle}` in demo output:\n{}",
                    self.text.lock().unwrap()
                );
            }
        }
    }
}

/// `switchboard demo <args>` with its stdout and stderr collected.
fn spawn_demo(args: &[&str]) -> (tokio::process::Child, Output) {
    let mut child = Command::new(support::binary())
        .arg("demo")
        .args(args)
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let output = Output::default();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let output = output.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut text = output.text.lock().unwrap();
                text.push_str(&line);
                text.push('\n');
                output.changed.notify_waiters();
            }
        });
    }
    (child, output)
}

/// `/quit`, then the demo must exit 0 within 3 s.
async fn quit(
    child: &mut tokio::process::Child,
    stdin: &mut tokio::process::ChildStdin,
    output: &Output,
) {
    stdin.write_all(b"/quit\n").await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(3), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "{status:?}\n{}",
        output.text.lock().unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_chat_opens_a_thread_streams_the_answer_and_survives_a_dropped_gateway() {
    let (mut child, output) = spawn_demo(&["--admin", "127.0.0.1:0", "--heartbeat-ms", "500"]);
    output.wait_for("admin: http://").await;
    output.wait_for("gateway READY").await;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello from the terminal\n").await.unwrap();
    output.wait_for("message received").await;
    output
        .wait_for("thread opened: \"hello from the terminal\"")
        .await;
    output.wait_for("[bot] session").await;
    output.wait_for("prompt: hello from the terminal").await;
    stdin.write_all(b"/drop\n").await.unwrap();
    output.wait_for("gateway RESUMED").await;
    quit(&mut child, &mut stdin, &output).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_demo_answers_in_the_thread_and_survives_dropped_connections() {
    let (mut child, output) = spawn_demo(&["--platform", "slack", "--admin", "127.0.0.1:0"]);
    output.wait_for("a simulated Slack").await;
    output.wait_for("admin: http://").await;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello from slack\n").await.unwrap();
    output.wait_for("message received").await;
    output
        .wait_for("thread of \"<@U0BOT> hello from slack\"")
        .await;
    output.wait_for("[bot] session").await;
    output.wait_for("prompt: hello from slack").await;
    let live = "Socket Mode connection live";
    let live_before = output.count(live);
    stdin.write_all(b"/drop\n").await.unwrap();
    output.wait_for("Socket Mode connections dropped").await;
    // Both slots come back: two more "live" lines.
    output.wait_count(live, live_before + 2).await;
    quit(&mut child, &mut stdin, &output).await;
}
