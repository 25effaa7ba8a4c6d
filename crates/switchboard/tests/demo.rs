//! `switchboard demo`, driven through its stdin as a person would type.
//! The terminal is a clean chat: log lines go to the demo's log file. The
//! agent asks before its edit: the prompt shows numbered choices and a
//! lone digit clicks one; `/mode` runs the platform's slash command.

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

/// The permission prompt with its numbered choices, `1` typed (allow
/// once), the decision and the rest of the answer; then `/mode` lists the
/// modes privately and `/mode plan` switches.
async fn allow_then_switch_mode(stdin: &mut tokio::process::ChildStdin, output: &Transcript) {
    output.wait_for("[bot] 🔐 Permission needed: ").await;
    output.wait_for("Editing README.md").await;
    output
        .wait_for("[1] Allow once  [2] Always allow  [3] Always reject  [4] Reject once")
        .await;
    stdin.write_all(b"1\n").await.unwrap();
    output.wait_for("(you clicked [1] Allow once)").await;
    output.wait_for("Allowed once by ").await;
    output
        .wait_for("Permission granted: the usage section is applied.")
        .await;
    stdin.write_all(b"/mode\n").await.unwrap();
    output
        .wait_for("(only you) Modes: `default` (current), `acceptEdits`, `plan`")
        .await;
    stdin.write_all(b"/mode plan\n").await.unwrap();
    output.wait_for("Mode set to `plan`.").await;
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
    // The whole streamed answer: tool lines, the prompt, the decision.
    allow_then_switch_mode(&mut stdin, &output).await;
    // Switched in the thread, for everyone to see.
    output.wait_for("[bot] Mode set to `plan`.").await;
    stdin.write_all(b"/status\n").await.unwrap();
    output.wait_for("status: ready").await;
    output.wait_for("discord agent sessions: 1 live").await;
    stdin.write_all(b"/drop\n").await.unwrap();
    output.wait_for("resumed its gateway session").await;
    stdin.write_all(b"/help\n").await.unwrap();
    output.wait_for("/status  what switchboard reports").await;
    output.wait_for("1, 2, 3  alone on a line").await;
    output.wait_for("/mode    list the agent's modes").await;
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
    allow_then_switch_mode(&mut stdin, &output).await;
    // Answered in the channel (`in_channel`), not privately.
    output
        .wait_for("[bot in #general] Mode set to `plan`.")
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
