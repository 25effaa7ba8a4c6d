//! A turn ended at any point never keeps its pool slot (issue 11, point 1),
//! through the real binary, discord-sim and demo-agent processes that start
//! slowly (`--start-delay-ms`): `!cancel` and `!reset` while the agent
//! starts, many cancels with one slot, an agent killed while it starts and
//! mid-turn, and SIGTERM while it starts. After each, the thread (or another
//! one) is answered, the pool shows no busy slot, and no agent is left.

mod support;
mod turn_world;

use std::time::Duration;

use support::chat::{Chat, TURN, session_of};
use support::{Options, bot_messages, sim_wait, wait_reaction};

const SECOND: Duration = Duration::from_secs(1);

/// Agents that take this long to answer `initialize`.
const SLOW_START: &[&str] = &["--chunk-delay-ms", "0", "--start-delay-ms", "2500"];

fn slow_start(agent: &'static str) -> Options {
    Options {
        agent,
        agent_args: SLOW_START,
        ..Options::default()
    }
}

/// Wait until `n` agents have been spawned and are in their slow start.
async fn wait_starting(chat: &Chat, n: usize) {
    chat.h
        .logs
        .wait_count(TURN, n, |v| {
            v["message"] == "agent stderr"
                && v["stderr"]
                    .as_str()
                    .is_some_and(|s| s.contains("starting slowly"))
        })
        .await;
}

/// Wait until the bot posted a message containing `text` in `thread`.
async fn wait_post(chat: &Chat, thread: u64, text: &str) {
    sim_wait(&chat.h.sim, TURN, text, |s| {
        bot_messages(s, thread)
            .iter()
            .any(|m| m.content.contains(text))
            .then_some(())
    })
    .await;
}

/// The pool's busy and idle figures from /metrics.
async fn pool_figures(chat: &Chat) -> (f64, f64) {
    let metric = |name: &'static str| async move {
        chat.h
            .metric(&format!(
                "switchboard_agent_sessions_{name}{{platform=\"discord\"}}"
            ))
            .await
            .unwrap_or_else(|| panic!("no {name} sessions metric"))
    };
    (metric("busy").await, metric("idle").await)
}

/// The demo agents `parent` started that are still running, from /proc.
fn live_agents(parent: i32) -> Vec<i32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let (state, ppid) = (fields.first().copied(), fields.get(1).copied());
        let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if ppid == Some(&parent.to_string()) && state != Some("Z") && cmdline.contains("demo-agent")
        {
            found.push(pid);
        }
    }
    found
}

fn kill9(pid: i32) {
    // SAFETY: kill(2) on an agent process this test found as our child's.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
}

/// Wait until `parent` has exactly `n` live agents.
async fn wait_agents(parent: i32, n: usize) {
    let deadline = tokio::time::Instant::now() + 5 * SECOND;
    while live_agents(parent).len() != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {n} live agents, found {:?}",
            live_agents(parent)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_the_agent_starts_then_the_thread_answers_again() {
    let chat = Chat::start(slow_start("")).await;
    let asked = chat.ask("first");
    wait_starting(&chat, 1).await;
    chat.say(asked, "!cancel");
    wait_reaction(&chat.h.sim, chat.channel, asked, "❌", TURN).await;
    wait_agents(chat.h.pid(), 0).await;
    assert_eq!(pool_figures(&chat).await, (0.0, 0.0), "the slot was freed");
    wait_post(&chat, asked, "Turn cancelled.").await;

    let again = chat.say(asked, "second");
    chat.done(asked, again).await;
    let last = chat.reply_texts(asked).pop().unwrap();
    assert!(last.contains("turn 1:\nprompt: second"), "{last}");
    assert!(
        !chat
            .reply_texts(asked)
            .iter()
            .any(|t| t.contains("slots are busy")),
        "the thread never waited for its own leaked slot"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_one_slot_many_cancels_during_start_leave_it_free() {
    let chat = Chat::start(slow_start("max_sessions = 1")).await;
    for round in 1..=3 {
        let asked = chat.ask(&format!("round {round}"));
        wait_starting(&chat, round).await;
        chat.say(asked, "!cancel");
        wait_reaction(&chat.h.sim, chat.channel, asked, "❌", TURN).await;
    }
    let other = chat.ask("another thread");
    chat.done(chat.channel, other).await;
    assert!(
        chat.reply_texts(other)
            .iter()
            .any(|t| t.contains("prompt: another thread")),
        "{:?}",
        chat.reply_texts(other)
    );
    assert_eq!(
        pool_figures(&chat).await,
        (0.0, 1.0),
        "only the answer's session"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_while_the_agent_starts_then_a_fresh_session_answers() {
    let chat = Chat::start(slow_start("max_sessions = 1")).await;
    let asked = chat.ask("first");
    wait_starting(&chat, 1).await;
    chat.say(asked, "!reset");
    wait_post(&chat, asked, "Session reset").await;
    wait_agents(chat.h.pid(), 0).await;
    let again = chat.say(asked, "after the reset");
    chat.done(asked, again).await;
    let last = chat.reply_texts(asked).pop().unwrap();
    assert!(last.contains("turn 1:\nprompt: after the reset"), "{last}");
    assert_eq!(pool_figures(&chat).await, (0.0, 1.0));
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_while_starting_or_mid_turn_frees_the_one_slot() {
    let chat = Chat::start(slow_start("max_sessions = 1")).await;
    let parent = chat.h.pid();
    // Killed while it starts.
    let asked = chat.ask("first");
    wait_starting(&chat, 1).await;
    let starting = live_agents(parent);
    assert_eq!(starting.len(), 1, "{starting:?}");
    kill9(starting[0]);
    wait_post(&chat, asked, "Could not start the agent").await;
    // Killed mid-turn.
    let hung = chat.say(asked, "[[hang]]");
    wait_starting(&chat, 2).await;
    wait_post(&chat, asked, "prompt: [[hang]]").await;
    let running = live_agents(parent);
    assert_eq!(running.len(), 1, "{running:?}");
    kill9(running[0]);
    wait_post(&chat, asked, "stopped unexpectedly").await;
    wait_reaction(&chat.h.sim, asked, hung, "❌", TURN).await;
    // The one slot is free for another thread and for this one.
    let other = chat.ask("another thread");
    chat.done(chat.channel, other).await;
    let again = chat.say(asked, "still there?");
    chat.done(asked, again).await;
    let last = chat.reply_texts(asked).pop().unwrap();
    assert!(last.contains("turn 1:\nprompt: still there?"), "{last}");
    assert_eq!(pool_figures(&chat).await, (0.0, 1.0));
    assert!(!session_of(&last).is_empty());
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_the_agent_starts_exits_within_grace_leaving_no_agent() {
    let mut options = slow_start("");
    options.broker = "edit_interval = \"300ms\"\nshutdown_grace = \"500ms\"";
    options.agent_args = &["--chunk-delay-ms", "0", "--start-delay-ms", "60000"];
    let mut chat = Chat::start(options).await;
    let parent = chat.h.pid();
    chat.ask("never answered in this run");
    wait_starting(&chat, 1).await;
    let agents = live_agents(parent);
    assert_eq!(agents.len(), 1, "{agents:?}");
    let sent = tokio::time::Instant::now();
    chat.h.signal(libc::SIGTERM);
    let status = chat.h.wait_exit(5 * SECOND).await;
    let took = sent.elapsed();
    assert!(status.success(), "exit status {status:?}");
    // The run's own bound is the grace + its 1.5 s drain deadline; a
    // second more for a loaded machine.
    assert!(
        took < 3 * SECOND,
        "exited {took:?} after SIGTERM (grace 500 ms)"
    );
    assert_eq!(
        chat.h
            .logs
            .count_message("shutdown drain deadline passed; exiting anyway"),
        0,
        "the drain ended by itself, the starting turn cut at the grace"
    );
    chat.h
        .logs
        .wait_message(
            SECOND,
            "turn still running at shutdown; journaled as interrupted",
        )
        .await;
    // Gone, or a zombie its new parent has not reaped yet: not running.
    let gone = |pid: i32| {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |stat| {
            stat.rsplit_once(") ")
                .is_some_and(|(_, r)| r.starts_with('Z'))
        })
    };
    let deadline = tokio::time::Instant::now() + 2 * SECOND;
    while !gone(agents[0]) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the starting agent {} outlived switchboard",
            agents[0]
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    chat.h.assert_token_never_shown().await;
}

/// The seam under the turn: an agent start whose future is dropped part way
/// (what `!cancel` and shutdown do to a starting turn) leaves no process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_dropped_during_the_handshake_kills_the_agent() {
    use switchboard::agent::{AgentCommand, AgentSession, SessionOptions};
    let dir = tempfile::tempdir().unwrap();
    let command = AgentCommand {
        command: env!("CARGO_BIN_EXE_switchboard").into(),
        args: ["demo-agent", "--start-delay-ms", "60000"]
            .map(String::from)
            .to_vec(),
        cwd: dir.path().to_owned(),
        env: Default::default(),
    };
    // Boxed, so that dropping it drops the future itself.
    let mut start = Box::pin(AgentSession::start(
        &command,
        SessionOptions::default(),
        None,
    ));
    let deadline = tokio::time::Instant::now() + 5 * SECOND;
    let agent = loop {
        tokio::select! {
            started = &mut start => panic!("the agent cannot have started: {started:?}"),
            () = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        if let [pid] = turn_world::live_agents(dir.path())[..] {
            break pid;
        }
        assert!(tokio::time::Instant::now() < deadline, "no agent spawned");
    };
    drop(start);
    let deadline = tokio::time::Instant::now() + 2 * SECOND;
    while !turn_world::live_agents(dir.path()).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "agent {agent} outlived its dropped start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
