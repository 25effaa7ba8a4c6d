//! The real Claude Code ACP adapter, `@agentclientprotocol/claude-agent-acp`
//! (pinned in tests/acp-agents; it bundles the Claude CLI), driven through
//! the real switchboard binary and discord-sim, offline: its model is
//! fake-anthropic on loopback, whose replies are scripted by the prompt
//! (plain text echoed, `[[bash:cmd]]` a Bash tool call). Issue 13 point 4.
//!
//! The adapter gets what it needs through `[agent].env` only: the fake's
//! URL, any API key, a temporary HOME and CLAUDE_CONFIG_DIR (whose
//! settings.json starts it in the `default` mode, which asks before Bash),
//! CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC, and IS_SANDBOX=1 when run as
//! root. The first test installs it with `npm ci` (agent_support/npm.rs);
//! they fail, never skip, without node and npm.
//!
//! Each test prints what it measured (session start, answer times, RSS)
//! on stderr: `cargo test -p switchboard --test claude_agent -- --nocapture`.

mod agent_support;
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fake_anthropic::{FakeAnthropic, FakeConfig};
use serde_json::Value;
use support::chat::Chat;
use support::{Options, wait_reaction};
use tempfile::TempDir;

/// How long a turn may take here: the first one starts a session (a few
/// seconds; more on a loaded 2-core machine).
const CLAUDE_TURN: Duration = Duration::from_secs(40);

/// One Claude session at a time: each is ~300 MB and its start takes a
/// core for seconds; tests run side by side would measure each other.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// switchboard configured with the Claude adapter, and its fake model.
struct Claude {
    chat: Chat,
    fake: FakeAnthropic,
    /// The agent's working directory (`[agent].cwd`).
    work: PathBuf,
    _home: TempDir,
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

async fn start_claude(permission_policy: &str) -> Claude {
    start_claude_with(permission_policy, FakeConfig::default()).await
}

async fn start_claude_with(permission_policy: &str, model: FakeConfig) -> Claude {
    let adapter = agent_support::claude_agent_acp();
    let fake = FakeAnthropic::start_on("127.0.0.1:0".parse().unwrap(), model)
        .await
        .expect("fake-anthropic starts");
    let home = tempfile::tempdir().unwrap();
    let config_dir = home.path().join(".claude");
    std::fs::create_dir_all(&config_dir).unwrap();
    // As root (with IS_SANDBOX=1) 0.101.0 otherwise starts in `auto`,
    // which ran `touch` without asking (measured).
    std::fs::write(
        config_dir.join("settings.json"),
        r#"{"permissions":{"defaultMode":"default"}}"#,
    )
    .unwrap();
    let sandbox = if is_root() {
        ", IS_SANDBOX = \"1\""
    } else {
        ""
    };
    let agent = format!(
        "permission_policy = \"{permission_policy}\"\n\
         env = {{ ANTHROPIC_BASE_URL = {:?}, ANTHROPIC_API_KEY = \"test\", HOME = {:?}, \
         CLAUDE_CONFIG_DIR = {:?}, CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC = \"1\"{sandbox} }}",
        fake.base_url(),
        home.path().display().to_string(),
        config_dir.display().to_string(),
    );
    let chat = Chat::start(Options {
        agent_command: Some((
            "node".to_owned(),
            vec![adapter.to_string_lossy().into_owned()],
        )),
        agent: Box::leak(agent.into_boxed_str()),
        ..Options::default()
    })
    .await;
    let work = chat.h.config_path.parent().unwrap().join("agent-work");
    Claude {
        chat,
        fake,
        work,
        _home: home,
    }
}

impl Claude {
    /// Mention the bot with `text`; wait for the turn's ✅. Returns the
    /// thread id and how long the answer took.
    async fn ask(&self, text: &str) -> (u64, Duration) {
        let started = Instant::now();
        let asked = self.chat.ask(text);
        wait_reaction(
            &self.chat.h.sim,
            self.chat.channel,
            asked,
            "✅",
            CLAUDE_TURN,
        )
        .await;
        (asked, started.elapsed())
    }

    /// Post `text` in `thread`; wait for the turn's ✅ and return its time.
    async fn follow_up(&self, thread: u64, text: &str) -> Duration {
        let started = Instant::now();
        let said = self.chat.say(thread, text);
        wait_reaction(&self.chat.h.sim, thread, said, "✅", CLAUDE_TURN).await;
        started.elapsed()
    }

    fn thread_text(&self, thread: u64) -> String {
        self.chat.reply_texts(thread).join("\n")
    }

    /// The agent's pid from the latest "agent spawned" line.
    fn agent_pid(&self) -> u32 {
        let spawned = self
            .chat
            .h
            .logs
            .json()
            .into_iter()
            .rev()
            .find(|v| v["message"] == "agent spawned");
        spawned.expect("an agent was spawned")["pid"]
            .as_u64()
            .expect("pid") as u32
    }

    /// The "permission decided" log lines so far.
    fn permission_decisions(&self) -> Vec<Value> {
        self.chat
            .h
            .logs
            .json()
            .into_iter()
            .filter(|v| v["message"] == "permission decided")
            .collect()
    }
}

/// Seconds since midnight of a log line's RFC 3339 UTC timestamp.
fn seconds_of_day(line: &Value) -> f64 {
    let stamp = line["timestamp"].as_str().expect("timestamp");
    let time = stamp
        .split_once('T')
        .expect("date and time")
        .1
        .trim_end_matches('Z');
    let mut parts = time.split(':');
    let hours: f64 = parts.next().unwrap().parse().unwrap();
    let minutes: f64 = parts.next().unwrap().parse().unwrap();
    let seconds: f64 = parts.next().unwrap().parse().unwrap();
    hours * 3600.0 + minutes * 60.0 + seconds
}

/// Resident memory in MB of `pid` alone and of its whole process group
/// (the adapter leads its group; the Claude CLI it starts is in it).
fn rss_mb(pid: u32) -> (f64, f64) {
    let rss_kb = |p: &str| -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{p}/status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let own = rss_kb(&pid.to_string()).unwrap_or(0.0);
    let mut group = 0.0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{name}/stat")) else {
            continue;
        };
        // Fields after the ")" closing the command: state, ppid, pgrp.
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2));
        if pgrp == Some(pid.to_string().as_str()) {
            group += rss_kb(&name).unwrap_or(0.0);
        }
    }
    (own / 1024.0, group / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_answers_in_the_thread_and_loads_its_session_after_a_restart() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut claude = start_claude("allow").await;

    // (a) A plain answer, the first turn starting the session.
    let (thread, first) = claude.ask("hello fake model").await;
    let text = claude.thread_text(thread);
    assert!(text.contains("fake model: "), "{text}");
    assert!(text.contains("hello fake model"), "{text}");
    let logs = &claude.chat.h.logs;
    let spawned = logs.wait_message(CLAUDE_TURN, "agent spawned").await;
    let started = logs
        .wait_message(CLAUDE_TURN, "agent session started")
        .await;
    assert_eq!(started["resumed"], false, "{started}");
    let session_start = seconds_of_day(&started) - seconds_of_day(&spawned);
    // The adapter's own account of session/new (its stderr).
    let adapter_new_ms = logs
        .json()
        .iter()
        .filter_map(|v| v["stderr"].as_str())
        .find(|s| s.starts_with("[session/create]") && s.contains("phase=register"))
        .and_then(|s| s.rsplit_once("totalMs=").map(|(_, ms)| ms.to_owned()));

    // A second plain answer: the steady-state time of a turn.
    let second = claude.follow_up(thread, "and once more").await;
    assert!(claude.thread_text(thread).contains("and once more"));
    let (adapter_rss, group_rss) = rss_mb(claude.agent_pid());
    eprintln!(
        "claude measured: spawn to session started {session_start:.2} s (adapter's session/new \
         totalMs={}), first answer (with session start) {first:?}, plain answer {second:?}, \
         RSS adapter {adapter_rss:.0} MB, adapter + Claude CLI {group_rss:.0} MB",
        adapter_new_ms.as_deref().unwrap_or("?"),
    );
    // 0.101.0 calls only POST /v1/messages?beta=true here (streamed): the
    // turn with tools, and one without to name the session (no HEAD /).
    let fake_requests = claude.fake.requests();
    assert!(
        fake_requests
            .iter()
            .any(|r| r.path == "/v1/messages?beta=true" && r.stream && r.has_tools),
        "{fake_requests:?}"
    );
    let unknown: Vec<_> = fake_requests.iter().filter(|r| r.status == 404).collect();
    assert!(
        unknown.is_empty(),
        "the adapter called paths the fake lacks: {unknown:?}"
    );

    // (c) Restart switchboard; the follow-up goes to the same session,
    // restored with session/load and its history.
    claude.chat.h.signal(libc::SIGTERM);
    let status = claude.chat.h.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    claude.chat.h.restart().await;
    claude.chat.h.wait_ready().await;
    let after = claude.follow_up(thread, "after the restart").await;
    let resumed = claude
        .chat
        .h
        .logs
        .wait_message(CLAUDE_TURN, "agent session started")
        .await;
    assert_eq!(
        resumed["resumed"], true,
        "session/load was not used: {resumed}"
    );
    assert_eq!(resumed["session_id"], started["session_id"], "{resumed}");
    assert!(claude.thread_text(thread).contains("after the restart"));
    let asked = claude
        .fake
        .requests()
        .into_iter()
        .rfind(|r| r.has_tools && r.last_user_text.contains("after the restart"))
        .expect("the follow-up reached the model");
    // Two earlier exchanges (user + assistant each) came back with the load.
    assert!(asked.messages >= 5, "history not loaded: {asked:?}");
    eprintln!("claude measured: follow-up after restart (session/load) {after:?}");
    claude.chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_runs_bash_when_the_policy_allows() {
    let _one = ONE_AT_A_TIME.lock().await;
    let claude = start_claude("allow").await;
    let (thread, took) = claude.ask("[[bash:touch made-by-bash]]").await;
    let decisions = claude.permission_decisions();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    let decided = &decisions[0];
    assert_eq!(decided["tool_kind"], "execute", "{decided}");
    assert_eq!(decided["chosen"], "allow_once", "{decided}");
    assert!(
        claude.work.join("made-by-bash").is_file(),
        "the Bash tool did not run in agent.cwd"
    );
    let text = claude.thread_text(thread);
    assert!(
        text.contains("done: (Bash completed with no output)"),
        "{text}"
    );
    eprintln!("claude measured: Bash turn (with session start, allowed) {took:?}; thread:\n{text}");
    claude.chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_does_not_run_bash_or_write_when_the_policy_denies() {
    let _one = ONE_AT_A_TIME.lock().await;
    let claude = start_claude("deny").await;
    let (thread, _) = claude.ask("[[bash:touch made-by-bash]]").await;
    let decisions = claude.permission_decisions();
    assert_eq!(decisions.len(), 1, "{decisions:?}");
    assert_eq!(decisions[0]["tool_kind"], "execute", "{decisions:?}");
    assert_eq!(decisions[0]["chosen"], "reject_once", "{decisions:?}");
    assert!(
        !claude.work.join("made-by-bash").exists(),
        "a denied Bash call ran"
    );
    // The model saw the refusal as an error tool result and said so.
    let text = claude.thread_text(thread);
    assert!(text.contains("done: error: "), "{text}");

    // A Write in the same session is refused as well.
    let target = claude.work.join("written.txt");
    claude
        .follow_up(thread, &format!("[[write:{}:hello]]", target.display()))
        .await;
    let decisions = claude.permission_decisions();
    assert_eq!(decisions.len(), 2, "{decisions:?}");
    assert_eq!(decisions[1]["tool_kind"], "edit", "{decisions:?}");
    assert_eq!(decisions[1]["chosen"], "reject_once", "{decisions:?}");
    assert!(!target.exists(), "a denied Write ran");
    let text = claude.thread_text(thread);
    assert_eq!(text.matches("done: error: ").count(), 2, "{text}");
    claude.chat.h.stop().await;
}

/// The bot's message in `thread` with buttons that is not one of `seen`.
async fn new_prompt(claude: &Claude, thread: u64, seen: &[u64]) -> discord_sim::SimMessage {
    support::sim_wait(
        &claude.chat.h.sim,
        CLAUDE_TURN,
        "a permission prompt",
        |s| {
            support::bot_messages(s, thread).into_iter().find(|m| {
                !seen.contains(&m.id)
                    && m.components.as_array().is_some_and(|rows| !rows.is_empty())
            })
        },
    )
    .await
}

/// (custom_id, label, style) of every button on `message`.
fn buttons_of(message: &discord_sim::SimMessage) -> Vec<(String, String, u64)> {
    message
        .components
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["custom_id"].as_str().unwrap_or("").to_owned(),
                b["label"].as_str().unwrap_or("").to_owned(),
                b["style"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// Discord button styles switchboard uses: 3 allows, 4 rejects.
const ALLOWS: u64 = 3;
const REJECTS: u64 = 4;

/// The first button of `style` whose label does not say "always" (a
/// one-time choice; Claude names its options "Yes", "No", ...).
fn button(message: &discord_sim::SimMessage, style: u64) -> String {
    let all = buttons_of(message);
    all.iter()
        .find(|(_, label, s)| *s == style && !label.to_lowercase().contains("always"))
        .unwrap_or_else(|| panic!("no one-time button of style {style} in {all:?}"))
        .0
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_asks_with_buttons_only_the_requester_decides_and_accept_edits_stops_the_asking() {
    let _one = ONE_AT_A_TIME.lock().await;
    let claude = start_claude("ask").await;
    let sim = &claude.chat.h.sim;
    let alice = claude.chat.alice.clone();
    let bob = sim.user(8, "bob");

    // A Bash call: a prompt with Claude's options; Bob's click is refused,
    // Alice (the requester) allows it once.
    let started = Instant::now();
    let thread = claude.chat.ask("[[bash:touch made-by-bash]]");
    let first = new_prompt(&claude, thread, &[]).await;
    eprintln!(
        "claude measured: mention -> permission prompt {:?}; prompt: {}; buttons {:?}",
        started.elapsed(),
        first.content,
        buttons_of(&first)
    );
    assert!(
        first.content.contains("touch made-by-bash"),
        "{}",
        first.content
    );
    let allow_once = button(&first, ALLOWS);
    let refused = sim
        .click_button(thread, first.id, &allow_once, &bob)
        .unwrap();
    let answer = refused
        .wait_response(Duration::from_secs(10))
        .await
        .expect("answered");
    assert!(
        answer.ephemeral() && answer.after < Duration::from_secs(3),
        "{answer:?}"
    );
    assert!(
        !claude.work.join("made-by-bash").exists(),
        "Bob's click decided"
    );
    let allowed = sim
        .click_button(thread, first.id, &allow_once, &alice)
        .unwrap();
    let answer = allowed
        .wait_response(Duration::from_secs(10))
        .await
        .expect("answered");
    assert_eq!(answer.kind, 7, "{answer:?}");
    assert!(
        answer
            .content
            .as_deref()
            .is_some_and(|c| c.contains("Allowed once by <@7>")),
        "{answer:?}"
    );
    wait_reaction(sim, claude.chat.channel, thread, "✅", CLAUDE_TURN).await;
    assert!(
        claude.work.join("made-by-bash").is_file(),
        "the allowed Bash call ran"
    );

    // A Write rejected with its button: nothing written.
    let target = claude.work.join("rejected.txt");
    let said = claude
        .chat
        .say(thread, &format!("[[write:{}:no]]", target.display()));
    let second = new_prompt(&claude, thread, &[first.id]).await;
    let reject = button(&second, REJECTS);
    sim.click_button(thread, second.id, &reject, &alice)
        .unwrap()
        .wait_response(Duration::from_secs(10))
        .await
        .expect("answered");
    wait_reaction(sim, thread, said, "✅", CLAUDE_TURN).await;
    assert!(!target.exists(), "a rejected Write ran");

    // /mode acceptEdits: the next Write runs without asking.
    let mode = sim
        .run_command(
            thread,
            &alice,
            "mode",
            serde_json::json!({ "mode": "acceptEdits" }),
        )
        .unwrap()
        .wait_response(Duration::from_secs(15))
        .await
        .expect("answered");
    assert_eq!(
        mode.content.as_deref(),
        Some("Mode set to `acceptEdits`."),
        "{mode:?}"
    );
    let accepted = claude.work.join("accepted.txt");
    claude
        .follow_up(thread, &format!("[[write:{}:yes]]", accepted.display()))
        .await;
    assert!(accepted.is_file(), "the Write in acceptEdits ran");
    let prompts = support::bot_messages(sim, thread)
        .iter()
        .filter(|m| !m.edits.is_empty() && m.content.starts_with("🔐"))
        .count();
    assert_eq!(prompts, 2, "no third prompt in acceptEdits");
    claude.chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_cancelled_mid_answer_then_the_next_two_turns_each_get_their_own_text() {
    let _one = ONE_AT_A_TIME.lock().await;
    // Every streamed event of the fake model waits, so the answer lasts
    // seconds and can be cancelled half way.
    let claude = start_claude_with(
        "ask",
        FakeConfig {
            event_delay: Duration::from_millis(150),
            ..FakeConfig::default()
        },
    )
    .await;
    let sim = &claude.chat.h.sim;
    let long = format!(
        "first {}",
        "one two three four five six seven eight nine ten ".repeat(6)
    );
    let thread = claude.chat.ask(&long);
    support::sim_wait(sim, CLAUDE_TURN, "the first answer streaming", |s| {
        support::bot_messages(s, thread)
            .iter()
            .any(|m| m.content.contains("fake model: first"))
            .then_some(())
    })
    .await;
    claude.chat.say(thread, "!cancel");
    wait_reaction(sim, claude.chat.channel, thread, "✅", CLAUDE_TURN).await;
    let after_first = claude.thread_text(thread);
    assert!(after_first.contains("Turn cancelled."), "{after_first}");
    assert!(
        !after_first.contains("ten one two three four five six seven eight nine ten\n"),
        "the whole first answer arrived: the cancel came too late to test anything: {after_first}"
    );

    // Each later turn shows its own answer, and nothing of the first.
    for word in ["second", "third"] {
        let said = claude.chat.say(thread, word);
        wait_reaction(sim, thread, said, "✅", CLAUDE_TURN).await;
        let replies: Vec<String> = support::bot_messages(sim, thread)
            .into_iter()
            .filter(|m| m.id > said)
            .map(|m| m.content)
            .collect();
        let text = replies.join("\n");
        // Claude Code puts "[Request interrupted by user]" before the
        // message after a cancel; the fake model echoes the whole of it.
        assert!(
            text.contains("fake model:") && text.contains(word),
            "{word}: {text}"
        );
        assert!(
            !text.contains("first"),
            "{word} shows text of the first turn: {text}"
        );
    }
    claude.chat.h.stop().await;
}
