//! A second SIGINT/SIGTERM during shutdown (issue 11 point 9): the process
//! exits at once and takes every agent's process group with it, including
//! children the agent started (which would otherwise outlive it).

mod agent_support;
mod support;

use std::time::Duration;

use support::chat::{Chat, TURN};
use support::{Options, binary, sim_wait};

/// The agent: a shell that leaves a `sleep` in its process group (as a
/// tool run by a real agent would), writes that pid to `pid_file`, then
/// becomes the demo agent.
fn agent_with_a_child(pid_file: &std::path::Path) -> (String, Vec<String>) {
    let script = format!(
        "sleep 300 & echo $! > '{}'; exec '{}' demo-agent --chunk-delay-ms 0",
        pid_file.display(),
        binary()
    );
    ("sh".to_owned(), vec!["-c".to_owned(), script])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_sigint_kills_the_agents_process_groups_before_exiting() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("child.pid");
    let mut chat = Chat::start(Options {
        agent_command: Some(agent_with_a_child(&pid_file)),
        // Long enough that only the second signal can end the wait.
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"60s\"",
        ..Options::default()
    })
    .await;
    // A turn that never ends.
    let asked = chat.ask("[[hang]]");
    sim_wait(&chat.h.sim, TURN, "the turn's first chunk", |s| {
        (!support::bot_messages(s, asked).is_empty()).then_some(())
    })
    .await;
    let agent = chat.h.logs.wait_message(TURN, "agent spawned").await["pid"]
        .as_u64()
        .expect("pid") as u32;
    let child: u32 = std::fs::read_to_string(&pid_file)
        .expect("the agent wrote its child's pid")
        .trim()
        .parse()
        .unwrap();
    assert!(!agent_support::is_gone(agent) && !agent_support::is_gone(child));

    chat.h.signal(libc::SIGINT);
    chat.h
        .logs
        .wait_for(TURN, |v| {
            v["message"] == "shutting down" && v["signal"] == "SIGINT"
        })
        .await;
    // The turn holds the shutdown (grace 60 s); the agents still run.
    assert!(!agent_support::is_gone(child));
    chat.h.signal(libc::SIGINT);
    let status = chat.h.wait_exit(Duration::from_secs(5)).await;
    assert_eq!(status.code(), Some(1), "{status:?}");
    let said = chat
        .h
        .logs
        .wait_for(Duration::from_secs(1), |v| {
            v["message"] == "second signal: killed the agents' process groups; exiting now"
        })
        .await;
    assert_eq!(said["agents_killed"], 1, "{said}");
    for (what, pid) in [("agent", agent), ("agent's child", child)] {
        assert!(
            agent_support::wait_gone(pid, Duration::from_secs(5)).await,
            "the {what} (pid {pid}) outlived switchboard"
        );
    }
}
