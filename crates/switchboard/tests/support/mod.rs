//! Test harness: a discord-sim (and, when asked, a slack-sim) in this
//! process, the real `switchboard` binary as a child process pointed at
//! them, its JSON log lines captured, and its admin API reached over HTTP.
//! Every wait has a deadline and wakes on an event (a log line, a simulator
//! record), never on luck. Slack helpers are in `slack`.

#![allow(dead_code)]

pub mod chat;
pub mod cluster;
pub mod flaky_server;
pub mod postgres;
pub mod private_postgres;
pub mod slack;
pub mod terminal;

use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use discord_sim::{DiscordSim, SimConfig};
use serde_json::Value;
use slack_sim::{SlackSim, SlackSimConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long a log line already written may take to reach a test's reader:
/// the child's stderr pipe and the reader task share two loaded cores with
/// the whole suite in CI, so a line logged before an event the test saw can
/// arrive well after it.
pub const LOG_CATCH_UP: Duration = Duration::from_secs(5);

pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// Which chat platforms a test's switchboard is configured with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Platforms {
    /// `[discord]` only (what every Discord test uses).
    #[default]
    Discord,
    /// `[slack]` only; a discord-sim still runs, unused.
    Slack,
    /// `[discord]` and `[slack]`.
    Both,
}

impl Platforms {
    pub fn discord(self) -> bool {
        self != Platforms::Slack
    }

    pub fn slack(self) -> bool {
        self != Platforms::Discord
    }
}

/// How a test's switchboard is configured.
pub struct Options {
    pub heartbeat: Duration,
    /// Extra `[supervisor]` lines (TOML).
    pub supervisor: &'static str,
    /// Extra `[discord]` lines (TOML); the default allows every user.
    pub discord: &'static str,
    /// Extra `[broker]` lines (TOML).
    pub broker: &'static str,
    /// `[canary]` lines (TOML); the default checks at the product's pace.
    pub canary: &'static str,
    /// Extra `[agent]` lines (TOML).
    pub agent: &'static str,
    /// Arguments after `switchboard demo-agent`.
    pub agent_args: &'static [&'static str],
    /// Another agent program and its arguments instead of
    /// `switchboard demo-agent <agent_args>`.
    pub agent_command: Option<(String, Vec<String>)>,
    /// Path prefix on the configured gateway URL, so that a resume (which
    /// goes to READY's resume_gateway_url, without it) is told apart.
    pub gateway_path: &'static str,
    pub sim: Option<SimConfig>,
    pub platforms: Platforms,
    /// Extra `[slack]` lines (TOML); the default allows every user.
    pub slack: &'static str,
    /// The slack-sim's configuration (default: `SlackSimConfig::default()`).
    pub slack_sim: Option<SlackSimConfig>,
    /// Extra environment variables for the process (e.g. a short
    /// `SWITCHBOARD_DISCORD_REQUEST_TIMEOUT_MS`).
    pub env: &'static [(&'static str, &'static str)],
    /// `[store]` lines (TOML); none: the SQLite store beside the config.
    pub store: &'static str,
    /// `[cluster]` lines (TOML; with a PostgreSQL `store`); none: no
    /// `[cluster]` section.
    pub cluster: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            heartbeat: HEARTBEAT,
            supervisor: "",
            discord: "allow_all_users = true",
            broker: "edit_interval = \"300ms\"",
            canary: "",
            agent: "",
            agent_args: &["--chunk-delay-ms", "0"],
            agent_command: None,
            gateway_path: "/first-connect",
            sim: None,
            platforms: Platforms::Discord,
            slack: "allow_all_users = true",
            slack_sim: None,
            env: &[],
            store: "",
            cluster: "",
        }
    }
}

#[derive(Clone, Default)]
pub struct Logs {
    lines: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
}

impl Logs {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
        self.changed.notify_waiters();
    }

    pub fn all(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Parsed JSON log lines (non-JSON lines are skipped).
    pub fn json(&self) -> Vec<Value> {
        self.all()
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Wait until some JSON line satisfies `pred`; return it.
    pub async fn wait_for(&self, timeout: Duration, mut pred: impl FnMut(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if let Some(found) = self.json().into_iter().find(|v| pred(v)) {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "no log line matched within {timeout:?}; log:\n{}",
                    self.all().join("\n")
                );
            }
        }
    }

    /// Wait until `n` JSON lines satisfy `pred`.
    pub async fn wait_count(
        &self,
        timeout: Duration,
        n: usize,
        mut pred: impl FnMut(&Value) -> bool,
    ) {
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            if self.json().iter().filter(|v| pred(v)).count() >= n {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "fewer than {n} matching log lines within {timeout:?}; log:\n{}",
                    self.all().join("\n")
                );
            }
        }
    }

    /// Wait for a line whose message is `msg`.
    pub async fn wait_message(&self, timeout: Duration, msg: &str) -> Value {
        self.wait_for(timeout, |v| v["message"] == msg).await
    }

    pub fn count_message(&self, msg: &str) -> usize {
        self.json().iter().filter(|v| v["message"] == msg).count()
    }
}

pub struct Harness {
    pub sim: DiscordSim,
    /// The slack-sim, when Slack is configured.
    pub slack: Option<SlackSim>,
    pub logs: Logs,
    pub admin: String,
    pub started: Instant,
    child: Child,
    _dir: tempfile::TempDir,
    pub config_path: PathBuf,
    /// Every admin response body seen, for the token check.
    seen_bodies: Arc<Mutex<Vec<String>>>,
    /// Log lines of processes that were restarted.
    earlier_logs: Vec<String>,
    /// `Options::env`, kept for restarts.
    env: &'static [(&'static str, &'static str)],
}

/// Another process of the same bot, beside a [`Harness`]'s.
pub struct Peer {
    child: Child,
    pub logs: Logs,
    pub admin: String,
}

impl Peer {
    pub fn signal(&self, signal: i32) {
        if let Some(pid) = self.child.id() {
            unsafe { libc::kill(pid as i32, signal) };
        }
    }

    /// SIGKILL, and wait for the exit.
    pub async fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
    }

    /// How the process ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// GET an admin path as JSON: (status, body).
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        switchboard::install_crypto_provider();
        let response = reqwest::get(format!("{}{path}", self.admin))
            .await
            .expect("admin API answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// SIGTERM, and wait (at most `timeout`) for a clean exit.
    pub async fn stop(mut self, timeout: Duration) {
        self.signal(libc::SIGTERM);
        let exited = tokio::time::timeout(timeout, self.child.wait()).await;
        assert!(
            matches!(exited, Ok(Ok(status)) if status.success()),
            "the peer did not exit cleanly: {exited:?}"
        );
    }
}

/// Spawn `switchboard run` on a config; wait until its admin API listens.
async fn spawn_switchboard(
    config_path: &std::path::Path,
    secrets: &[(&'static str, String)],
) -> (Child, Logs, String, Instant) {
    let started = Instant::now();
    let mut child = Command::new(binary())
        .args(["run", "--config"])
        .arg(config_path)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(secrets.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("switchboard binary starts");
    let logs = Logs::default();
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let logs = logs.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stream).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                logs.push(line);
            }
        });
    }
    let listening = logs
        .wait_message(Duration::from_secs(10), "admin API listening")
        .await;
    let admin = format!("http://{}", listening["addr"].as_str().expect("addr field"));
    (child, logs, admin, started)
}

/// The `[agent]` lines a test gave, with `permission_policy =
/// "allow_reads"` unless it set one: the config's default is `ask`, which
/// would hold the demo agent's friendly answer (it asks before an edit) for
/// a click no test makes. Tests of the buttons set `ask` themselves.
fn agent_lines(extra: &str) -> String {
    if extra.contains("permission_policy") {
        extra.to_owned()
    } else {
        format!("permission_policy = \"allow_reads\"\n{extra}")
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

impl Harness {
    pub async fn start(mut options: Options) -> Harness {
        let mut sim_config = options.sim.take().unwrap_or_default();
        sim_config.heartbeat_interval = options.heartbeat;
        let sim = DiscordSim::start(sim_config)
            .await
            .expect("simulator starts");
        Self::start_with_sim(sim, options).await
    }

    pub async fn start_with_sim(sim: DiscordSim, mut options: Options) -> Harness {
        let slack = if options.platforms.slack() {
            let config = options.slack_sim.take().unwrap_or_default();
            Some(SlackSim::start(config).await.expect("slack-sim starts"))
        } else {
            None
        };
        Self::start_with_sims(sim, slack, options).await
    }

    /// Start with an already running (and perhaps already faulted)
    /// slack-sim; a discord-sim is started as `start` does.
    pub async fn start_with_slack_sim(slack: SlackSim, options: Options) -> Harness {
        assert!(options.platforms.slack(), "a slack-sim for a Slack config");
        let mut sim_config = options.sim.clone().unwrap_or_default();
        sim_config.heartbeat_interval = options.heartbeat;
        let sim = DiscordSim::start(sim_config)
            .await
            .expect("simulator starts");
        Self::start_with_sims(sim, Some(slack), options).await
    }

    async fn start_with_sims(
        sim: DiscordSim,
        slack: Option<SlackSim>,
        options: Options,
    ) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("switchboard.toml");
        // Only the first channel is allowed (and every channel of the
        // further guilds, when the sim has some); others exist to be refused.
        let further = sim.guild_ids().into_iter().skip(1);
        let channels: Vec<String> = std::iter::once(sim.channel_ids()[0])
            .chain(further.flat_map(|guild| sim.channels_of(guild)))
            .map(|id| format!("\"{id}\""))
            .collect();
        let (agent_program, agent_args): (String, Vec<String>) = match &options.agent_command {
            Some((program, args)) => (program.clone(), args.clone()),
            None => (
                binary().to_owned(),
                std::iter::once("demo-agent")
                    .chain(options.agent_args.iter().copied())
                    .map(str::to_owned)
                    .collect(),
            ),
        };
        let agent_args: Vec<String> = agent_args.iter().map(|a| format!("{a:?}")).collect();
        let discord_section = if options.platforms.discord() {
            format!(
                "[discord]\ntoken = \"${{DISCORD_BOT_TOKEN}}\"\nallowed_channels = [{}]\napi_url = \"{}\"\ngateway_url = \"{}{}\"\n{}\n\n",
                channels.join(", "),
                sim.http_url(),
                sim.gateway_url(),
                options.gateway_path,
                options.discord,
            )
        } else {
            String::new()
        };
        let slack_section = slack
            .as_ref()
            .map(|slack| slack::config_section(slack, options.slack))
            .unwrap_or_default();
        let config = format!(
            "{discord_section}{slack_section}[admin]\nlisten = \"127.0.0.1:0\"\n\n[log]\nformat = \"json\"\nlevel = \"debug\"\n\n\
             [supervisor]\n{}\n\n[broker]\n{}\n\n[canary]\n{}\n\n[agent]\ncommand = {:?}\nargs = [{}]\n\
             cwd = \"agent-work\"\n{}\n\n[store]\n{}\n{}",
            options.supervisor,
            options.broker,
            options.canary,
            agent_program,
            agent_args.join(", "),
            agent_lines(options.agent),
            options.store,
            if options.cluster.is_empty() {
                String::new()
            } else {
                format!("\n[cluster]\n{}\n", options.cluster)
            },
        );
        std::fs::write(&config_path, config).unwrap();
        std::fs::create_dir_all(dir.path().join("agent-work")).unwrap();
        let mut harness_secrets = secrets(&sim, slack.as_ref());
        harness_secrets.extend(options.env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let (child, logs, admin, started) = spawn_switchboard(&config_path, &harness_secrets).await;
        Harness {
            sim,
            slack,
            logs,
            admin,
            started,
            child,
            _dir: dir,
            config_path,
            seen_bodies: Arc::default(),
            earlier_logs: Vec::new(),
            env: options.env,
        }
    }

    /// Kill the process with SIGKILL (no cleanup at all) and wait for it.
    pub async fn kill9(&mut self) {
        self.signal(libc::SIGKILL);
        let _ = self.wait_exit(Duration::from_secs(5)).await;
    }

    /// [`Harness::restart`] with other extra environment variables (kept
    /// for later restarts), e.g. without a test fault the first run had.
    pub async fn restart_with_env(&mut self, env: &'static [(&'static str, &'static str)]) {
        self.env = env;
        self.restart().await;
    }

    /// Start switchboard again with the same config (and so the same store),
    /// after the previous process has exited. Earlier log lines are kept
    /// apart: `logs` holds only the new process's.
    pub async fn restart(&mut self) {
        let mut secrets = secrets(&self.sim, self.slack.as_ref());
        secrets.extend(self.env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let (child, logs, admin, started) = spawn_switchboard(&self.config_path, &secrets).await;
        self.earlier_logs.extend(self.logs.all());
        self.child = child;
        self.logs = logs;
        self.admin = admin;
        self.started = started;
    }

    /// How the process ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn pid(&self) -> i32 {
        self.child.id().expect("still running") as i32
    }

    /// Another `switchboard run` on the same config (another instance of
    /// the same bot: same simulators, same store).
    pub async fn spawn_peer(&self) -> Peer {
        let mut secrets = secrets(&self.sim, self.slack.as_ref());
        secrets.extend(self.env.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let (child, logs, admin, _) = spawn_switchboard(&self.config_path, &secrets).await;
        Peer { child, logs, admin }
    }

    /// GET an admin path: (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        // reqwest is built with rustls and no provider of its own.
        switchboard::install_crypto_provider();
        let response = reqwest::get(format!("{}{path}", self.admin))
            .await
            .expect("admin answers");
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        self.seen_bodies.lock().unwrap().push(body.clone());
        (status, body)
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let (status, body) = self.get(path).await;
        (
            status,
            serde_json::from_str(&body)
                .unwrap_or_else(|e| panic!("{path} is not JSON ({e}): {body}")),
        )
    }

    /// The value of one Prometheus sample line, e.g. `name{labels}`.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics").await;
        text.lines().find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(|v| v.parse().unwrap())
        })
    }

    /// Poll `path` (every 100 ms) until `pred(status, body)` holds, within
    /// `limit`; the answer that matched.
    pub async fn wait_admin(
        &self,
        path: &str,
        limit: Duration,
        pred: impl Fn(u16, &str) -> bool,
    ) -> (u16, String) {
        let deadline = Instant::now() + limit;
        loop {
            let (status, body) = self.get(path).await;
            if pred(status, &body) {
                return (status, body);
            }
            assert!(
                Instant::now() < deadline,
                "{path} never matched within {limit:?}; last: {status} {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_ready(&self) {
        self.logs
            .wait_for(Duration::from_secs(10), |v| {
                v["message"] == "gateway READY (new session)"
                    || v["message"]
                        .as_str()
                        .is_some_and(|m| m.starts_with("gateway RESUMED"))
            })
            .await;
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: plain kill(2) on our own child's pid.
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "switchboard did not exit within {timeout:?}; log:\n{}",
                    self.logs.all().join("\n")
                )
            })
            .unwrap()
    }

    /// SIGTERM, expect exit 0 within 2 s, then check the token never leaked.
    pub async fn stop(mut self) {
        for path in ["/status", "/metrics", "/readyz", "/livez"] {
            self.get(path).await;
        }
        let sent = Instant::now();
        self.signal(libc::SIGTERM);
        let status = self.wait_exit(Duration::from_secs(2)).await;
        assert!(
            status.success(),
            "exit status {status:?}; log:\n{}",
            self.logs.all().join("\n")
        );
        assert!(sent.elapsed() < Duration::from_secs(2));
        self.assert_token_never_shown().await;
    }

    /// No token (Discord's, Slack's two) appears in any log line or admin
    /// response seen.
    pub async fn assert_token_never_shown(&self) {
        for (_, token) in secrets(&self.sim, self.slack.as_ref()) {
            self.assert_never_shown(&token);
        }
    }

    /// `secret` appears in no log line and no admin response seen.
    pub fn assert_never_shown(&self, secret: &str) {
        assert!(secret.len() >= 8, "a secret long enough to search for");
        for line in self.logs.all().iter().chain(&self.earlier_logs) {
            assert!(!line.contains(secret), "secret leaked in log line: {line}");
        }
        for body in self.seen_bodies.lock().unwrap().iter() {
            assert!(!body.contains(secret), "secret leaked in an admin response");
        }
    }

    /// The slack-sim (panics when Slack is not configured).
    pub fn slack(&self) -> &SlackSim {
        self.slack.as_ref().expect("Slack is configured")
    }
}

/// The tokens the config names, passed by environment (never in the file).
fn secrets(discord: &DiscordSim, slack: Option<&SlackSim>) -> Vec<(&'static str, String)> {
    let mut secrets = vec![("DISCORD_BOT_TOKEN", discord.token())];
    if let Some(slack) = slack {
        secrets.push(("SLACK_BOT_TOKEN", slack.bot_token()));
        secrets.push(("SLACK_APP_TOKEN", slack.app_token()));
    }
    secrets
}

/// Wait for a simulator condition or panic after `timeout`.
pub async fn sim_wait<T>(
    sim: &DiscordSim,
    timeout: Duration,
    what: &str,
    f: impl FnMut(&DiscordSim) -> Option<T>,
) -> T {
    sim.wait_until(timeout, f)
        .await
        .unwrap_or_else(|| panic!("timed out waiting for: {what}"))
}

/// Dispatch MESSAGE_CREATE for an already delivered message once more, as a
/// duplicate delivery would.
pub fn redeliver(sim: &DiscordSim, message: &discord_sim::SimMessage) {
    sim.dispatch_raw(
        "MESSAGE_CREATE",
        serde_json::json!({
            "id": message.id.to_string(),
            "channel_id": message.channel_id.to_string(),
            "guild_id": sim.guild_id().to_string(),
            "author": {"id": message.author.id.to_string(), "username": message.author.name, "discriminator": "0", "avatar": null, "bot": message.author.bot},
            "content": message.content,
            "timestamp": "2026-11-28T10:00:00.000000+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": [], "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": 0
        }),
    );
}

/// The bot's messages in a channel or thread, oldest first.
pub fn bot_messages(sim: &DiscordSim, channel: u64) -> Vec<discord_sim::SimMessage> {
    let bot = sim.bot_user().id;
    sim.messages(channel)
        .into_iter()
        .filter(|m| m.author.id == bot)
        .collect()
}

/// Wait until the bot put `emoji` on a message.
pub async fn wait_reaction(
    sim: &DiscordSim,
    channel: u64,
    message: u64,
    emoji: &str,
    timeout: Duration,
) {
    sim_wait(
        sim,
        timeout,
        &format!("{emoji} on message {message}"),
        |s| {
            s.reactions(channel, message)
                .iter()
                .any(|r| r == emoji)
                .then_some(())
        },
    )
    .await;
}

/// Joined text of a split reply, without the fence closings and reopenings
/// added at message boundaries (and the closing of a fence the agent left
/// open at the very end). The replies tested here are cut at line
/// boundaries, so an added closing is a bare "```" after the body's own
/// newline.
pub fn joined(messages: &[String]) -> String {
    let mut out = String::new();
    for (i, message) in messages.iter().enumerate() {
        let mut text = message.as_str();
        let next_reopens = messages
            .get(i + 1)
            .is_some_and(|next| next.starts_with("```"));
        if next_reopens && let Some(body) = text.strip_suffix("```") {
            text = body;
        }
        let reopened = i > 0 && messages[i - 1].ends_with("```") && text.starts_with("```");
        if reopened && let Some((_, body)) = text.split_once('\n') {
            text = body;
        }
        let last = i + 1 == messages.len();
        if last
            && let Some(body) = text.strip_suffix("\n```")
            && !fences_balanced(&format!("{out}{body}"))
        {
            // The agent left a fence open; the last message closes it.
            text = body;
        }
        out.push_str(text);
    }
    out
}

/// Whether every code fence opened in `text` is closed again, by the rules
/// Discord renders: an opener is a line starting with 3+ backticks (an info
/// string may follow); inside, only a line of at least as many backticks
/// and nothing else closes it.
pub fn fences_balanced(text: &str) -> bool {
    let mut open: Option<usize> = None;
    for line in text.lines() {
        let trimmed = line.trim_start_matches([' ', '\t']);
        let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
        if ticks < 3 {
            continue;
        }
        match open {
            None if !trimmed[ticks..].contains('`') => open = Some(ticks),
            Some(n) if ticks >= n && trimmed[ticks..].trim().is_empty() => open = None,
            _ => {}
        }
    }
    open.is_none()
}

/// Assert two long texts are equal, showing where they first differ.
pub fn assert_same_text(actual: &str, expected: &str, messages: &[String]) {
    // A last newline before a closing fence the renderer added may belong to
    // either; that one difference is not a loss.
    if actual == expected || actual.trim_end_matches('\n') == expected.trim_end_matches('\n') {
        return;
    }
    let at = actual
        .chars()
        .zip(expected.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let context = |s: &str| {
        s.chars()
            .skip(at.saturating_sub(40))
            .take(80)
            .collect::<String>()
    };
    let ends: Vec<String> = messages
        .iter()
        .map(|m| {
            format!(
                "…{:?} | {:?}…",
                m.chars()
                    .rev()
                    .take(20)
                    .collect::<String>()
                    .chars()
                    .rev()
                    .collect::<String>(),
                m.chars().take(20).collect::<String>()
            )
        })
        .collect();
    panic!(
        "texts differ at char {at} (lengths {} vs {}):\nactual:   {:?}\nexpected: {:?}\nmessage ends|starts: {ends:#?}",
        actual.chars().count(),
        expected.chars().count(),
        context(actual),
        context(expected)
    );
}
