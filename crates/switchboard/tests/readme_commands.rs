//! The README's two set-up commands, as a newcomer meets them: in a fresh
//! `git clone` of this repository, `cargo run -- demo` answers one typed
//! line and exits on `/quit`. The test command itself (`cargo test
//! --workspace`) is the command running this test and the one `.ci/run`
//! runs, so here its text is checked against both.
//!
//! The clone builds into this checkout's target folder (CARGO_TARGET_DIR),
//! so only the workspace's own crates compile again.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use support::terminal::Transcript;
use tokio::io::AsyncWriteExt;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The first ```sh block after the heading that starts with `heading`.
fn command_under(readme: &str, heading: &str) -> String {
    let start = readme
        .find(&format!("\n{heading}"))
        .unwrap_or_else(|| panic!("README has no heading {heading:?}"));
    let after = &readme[start..];
    let block = after
        .find("```sh\n")
        .unwrap_or_else(|| panic!("no ```sh block under {heading:?}"));
    let body = &after[block + 6..];
    let end = body.find("```").expect("the block is closed");
    body[..end].trim().to_owned()
}

fn readme_commands() -> (String, String) {
    let readme = std::fs::read_to_string(repo_root().join("README.md")).unwrap();
    (
        command_under(&readme, "## Try it"),
        command_under(&readme, "## Run the tests"),
    )
}

#[test]
fn the_readme_names_the_demo_and_the_test_command_and_ci_runs_the_same() {
    let (demo, tests) = readme_commands();
    assert_eq!(demo, "cargo run -- demo");
    assert_eq!(tests, "cargo test --workspace");
    let ci = std::fs::read_to_string(repo_root().join(".ci/run")).unwrap();
    let last = ci
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .unwrap();
    assert_eq!(
        last.trim(),
        tests,
        ".ci/run must end with the README's test command"
    );
}

/// This checkout's target folder (where the test binaries were built).
fn target_dir() -> PathBuf {
    // .../target/debug/switchboard
    Path::new(support::binary())
        .parent()
        .and_then(Path::parent)
        .expect("the binary lives in <target>/<profile>/")
        .to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_fresh_clone_the_readme_demo_command_answers_a_line_and_quits() {
    let (demo, _) = readme_commands();
    let clone = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(repo_root())
        .arg(clone.path())
        .status()
        .expect("git runs");
    assert!(status.success(), "git clone of the checkout failed");
    assert!(
        !clone
            .path()
            .join("crates/switchboard/tests/acp-agents/node_modules")
            .exists(),
        "a fresh clone has nothing installed"
    );

    let mut command = tokio::process::Command::new("sh");
    command.arg("-c").arg(&demo).current_dir(clone.path());
    // The inner cargo must not take this test's cargo settings for its own.
    for (key, _) in std::env::vars() {
        if key.starts_with("CARGO_") && key != "CARGO_HOME" {
            command.env_remove(key);
        }
    }
    command.env("CARGO_TARGET_DIR", target_dir());
    let (mut child, output) = Transcript::spawn(command);
    // The workspace's crates compile first (deps are shared with this build).
    output
        .wait_count_within("/help lists the commands.", 1, Duration::from_secs(900))
        .await;
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(b"hello from a fresh clone\n")
        .await
        .unwrap();
    output.wait_for("prompt: hello from a fresh clone").await;
    stdin.write_all(b"/quit\n").await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the demo exits on /quit")
        .unwrap();
    assert!(status.success(), "{status:?}\n{}", output.text());
    // Cargo's own progress lines are on stderr before the demo starts;
    // from the banner on, the chat carries no log line.
    let text = output.text();
    let chat = &text[text.find("switchboard demo:").expect("banner")..];
    for line in chat.lines() {
        assert!(
            !support::terminal::is_log_line(line),
            "log line in the chat: {line:?}"
        );
    }
}
