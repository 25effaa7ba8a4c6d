//! `switchboard demo`, driven through its stdin as a person would type.
//! The terminal is a clean chat: log lines go to the demo's log file.

mod support;

use std::time::Duration;

use support::terminal::Transcript;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// `switchboard demo <args>` with its stdout and stderr collected.
fn spawn_demo(args: &[&str]) -> (tokio::process::Child, Transcript) {
    let mut command = Command::new(support::binary());
    command.arg("demo").args(args);
    Transcript::spawn(command)
}

/// `/quit`, then the demo must exit 0 within 3 s.
async fn quit(
    child: &mut tokio::process::Child,
    stdin: &mut tokio::process::ChildStdin,
    output: &Transcript,
) {
    stdin.write_all(b"/quit\n").await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(3), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}\n{}", output.text());
}

/// The log file the demo printed at start.
fn log_path(output: &Transcript) -> std::path::PathBuf {
    let text = output.text();
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("log: "))
        .unwrap_or_else(|| panic!("no `log: ` line:\n{text}"));
    std::path::PathBuf::from(line.trim())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_chat_opens_a_thread_streams_the_answer_and_survives_a_dropped_gateway() {
    let (mut child, output) = spawn_demo(&["--heartbeat-ms", "500"]);
    output.wait_for("admin: http://").await;
    output.wait_for("opened a gateway session").await;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello from the terminal\n").await.unwrap();
    output
        .wait_for("thread opened: \"hello from the terminal\"")
        .await;
    output.wait_for("[bot] session").await;
    output.wait_for("prompt: hello from the terminal").await;
    // The whole streamed answer (tool lines and the permission included).
    output
        .wait_for("Permission for \"Editing README.md\": allow once")
        .await;
    stdin.write_all(b"/status\n").await.unwrap();
    output.wait_for("status: ready").await;
    output.wait_for("discord agent sessions: 1 live").await;
    stdin.write_all(b"/drop\n").await.unwrap();
    output.wait_for("resumed its gateway session").await;
    stdin.write_all(b"/help\n").await.unwrap();
    output.wait_for("/status  what switchboard reports").await;
    quit(&mut child, &mut stdin, &output).await;

    output.assert_no_log_lines();
    let log = std::fs::read_to_string(log_path(&output)).unwrap();
    assert!(log.contains("message received"), "{log}");
    assert!(log.contains("gateway RESUMED"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slack_demo_answers_in_the_thread_and_survives_dropped_connections() {
    let (mut child, output) = spawn_demo(&["--platform", "slack"]);
    output.wait_for("a simulated Slack").await;
    output.wait_for("admin: http://").await;
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hello from slack\n").await.unwrap();
    output
        .wait_for("thread of \"<@U0BOT> hello from slack\"")
        .await;
    output.wait_for("[bot] session").await;
    output.wait_for("prompt: hello from slack").await;
    output
        .wait_for("Permission for \"Editing README.md\": allow once")
        .await;
    let opened = "opened Socket Mode connection";
    let opened_before = output.count(opened);
    assert!(opened_before >= 2, "{}", output.text());
    stdin.write_all(b"/drop\n").await.unwrap();
    output.wait_for("Socket Mode connections dropped").await;
    // Both slots come back: two more connections.
    output.wait_count(opened, opened_before + 2).await;
    quit(&mut child, &mut stdin, &output).await;

    output.assert_no_log_lines();
    let log = std::fs::read_to_string(log_path(&output)).unwrap();
    assert!(log.contains("Socket Mode connection live"), "{log}");
}

#[test]
fn log_lines_are_recognised() {
    assert!(support::terminal::is_log_line(
        "2026-12-03T11:30:37.123456Z  INFO switchboard::app: store open"
    ));
    assert!(support::terminal::is_log_line(
        "  WARN switchboard: reconnecting"
    ));
    assert!(!support::terminal::is_log_line(
        "[bot] session demo-1 turn 1:"
    ));
    assert!(!support::terminal::is_log_line("prompt: hello INFO-less"));
}
