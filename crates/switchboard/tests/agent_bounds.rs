//! Bounded reads from the agent (issue 11 point 2): an agent that writes
//! hundreds of MiB without a newline is stopped at `agent.max_message_size`
//! while the broker's memory stays bounded and other threads keep
//! answering; an over-long stderr line is cut and the agent keeps working.

mod agent_support;
mod support;

use std::time::Duration;

use support::chat::{Chat, TURN};
use support::{Options, sim_wait};
use switchboard::agent::{AgentError, AgentSession, PermissionPolicy};

const MIB: u64 = 1 << 20;
/// What the flooding agents write: well past any sane buffer.
const FLOOD: u64 = 320 * MIB;

/// The process's peak resident set (VmHWM), in bytes.
fn peak_rss(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM line");
    kib * 1024
}

#[tokio::test]
async fn a_session_whose_agent_floods_stdout_ends_with_message_too_large_and_the_agent_killed() {
    agent_support::init_logs();
    let mut options = agent_support::options(PermissionPolicy::Deny);
    options.max_message_size = MIB as usize;
    let session = AgentSession::start(&agent_support::demo_agent(&[]), options, None)
        .await
        .expect("demo agent starts");
    let agent = agent_support::pid(&session);
    let (result, updates) = agent_support::turn(&session, &format!("[[flood:{}]]", 64 * MIB)).await;
    match result {
        Err(AgentError::MessageTooLarge { limit }) => assert_eq!(limit, MIB as usize),
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert!(!updates.is_empty(), "the header came before the flood");
    assert!(
        agent_support::wait_gone(agent, Duration::from_secs(5)).await,
        "the flooding agent was not killed"
    );
    assert!(!session.is_alive());
    session.shutdown().await;
}

#[tokio::test]
async fn a_huge_stderr_line_is_cut_and_the_turn_goes_on() {
    let session = agent_support::start_demo(&[], PermissionPolicy::Deny).await;
    let (result, updates) = agent_support::turn(
        &session,
        &format!("[[flood-stderr:{}]] [[long:50]]", 40 * MIB),
    )
    .await;
    assert!(result.is_ok(), "{result:?}");
    assert!(
        agent_support::text(&updates).ends_with(&switchboard::demo_agent::script::long_text(50)),
        "the answer after the stderr flood arrived"
    );
    assert!(session.is_alive());
    session.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_agent_is_stopped_while_other_threads_answer_and_memory_stays_bounded() {
    let chat = Chat::start(Options {
        agent: "max_message_size = \"1MiB\"",
        ..Options::default()
    })
    .await;
    let switchboard = chat.h.pid();
    let before = peak_rss(switchboard);

    // Thread B streams slowly across the whole flood.
    let other = chat.ask("[[slow:150]][[long:900]]");
    sim_wait(&chat.h.sim, TURN, "thread B's first reply", |s| {
        (!support::bot_messages(s, other).is_empty()).then_some(())
    })
    .await;
    // Thread A's agent writes 320 MiB without a newline.
    let flooded = chat.ask(&format!("[[flood:{FLOOD}]]"));
    let notice = "⚠️ The agent sent a message larger than 1 MiB (agent.max_message_size) and was stopped. Your next message starts a new session.";
    sim_wait(&chat.h.sim, TURN, "the notice in thread A", |s| {
        support::bot_messages(s, flooded)
            .iter()
            .any(|m| m.content.contains(notice))
            .then_some(())
    })
    .await;
    support::wait_reaction(&chat.h.sim, chat.channel, flooded, "❌", TURN).await;
    let spawned = chat.h.logs.json();
    let flooding_pid = spawned
        .iter()
        .filter(|v| v["message"] == "agent spawned")
        .find(|v| v.to_string().contains(&flooded.to_string()))
        .and_then(|v| v["pid"].as_u64())
        .expect("the flooding agent's spawn line with its pid") as u32;
    assert!(
        agent_support::wait_gone(flooding_pid, Duration::from_secs(5)).await,
        "the flooding agent's process is still there"
    );

    // Thread B was answered in full meanwhile, and still answers.
    chat.done(chat.channel, other).await;
    let b = support::joined(&chat.reply_texts(other));
    let full = switchboard::demo_agent::script::long_text(900);
    let tail: String = full.chars().skip(860).collect();
    assert!(b.contains(&tail), "thread B's answer is complete: {b}");
    let follow = chat.say(other, "still there?");
    chat.done(other, follow).await;

    // Thread A's next message gets a new session.
    let again = chat.say(flooded, "hello again");
    chat.done(flooded, again).await;
    assert!(
        chat.reply_texts(flooded)
            .iter()
            .any(|t| t.contains("prompt: hello again"))
    );

    // An over-long stderr line is cut; the agent answers.
    let noisy = chat.ask(&format!("[[flood-stderr:{FLOOD}]] [[long:30]]"));
    chat.done(chat.channel, noisy).await;
    chat.h
        .logs
        .wait_for(TURN, |v| {
            v["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("agent wrote a stderr line longer than the limit"))
        })
        .await;

    let peak = peak_rss(switchboard);
    eprintln!(
        "switchboard VmHWM: {} MiB before, {} MiB after two {} MiB floods (limit 1 MiB)",
        before / MIB,
        peak / MIB,
        FLOOD / MIB
    );
    assert!(
        peak < MIB + 100 * MIB,
        "peak RSS {} MiB: the flood was buffered",
        peak / MIB
    );
    chat.h.stop().await;
}
