//! Runs the real `switchboard` binary the way a deployment example says
//! to: `check` on the example's config, and the example's own command line
//! (`run --config ...`) with the example's environment, against an
//! in-process discord-sim and slack-sim on 127.0.0.1.
//!
//! Owns adapting a config to this machine, and only what ties it to the
//! target machine: the agent's folder, the admin address (loopback, port
//! 0), the platforms' URLs (the simulators), the store (SQLite in a
//! temporary folder instead of PostgreSQL), JSON logs to read. Every other
//! key is kept as written. It never changes a file under `deploy/`, never
//! waits without a deadline, and never leaves a process behind
//! (`kill_on_drop`).

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use discord_sim::{DiscordSim, SimConfig};
use slack_sim::{SlackSim, SlackSimConfig};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long the binary may take to open its store and bind the admin API.
const START_DEADLINE: Duration = Duration::from_secs(20);

/// The simulated platforms a config is pointed at.
pub struct Sims {
    pub discord: DiscordSim,
    pub slack: SlackSim,
}

impl Sims {
    pub async fn start() -> Sims {
        Sims {
            discord: DiscordSim::start(SimConfig::default()).await.unwrap(),
            slack: SlackSim::start(SlackSimConfig::default()).await.unwrap(),
        }
    }
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

fn parse(text: &str) -> toml::Table {
    text.parse()
        .unwrap_or_else(|e| panic!("the example's config is not TOML: {e}"))
}

/// `section.key = value`, creating the section when the file has none.
fn set(table: &mut toml::Table, section: &str, key: &str, value: impl Into<toml::Value>) {
    table
        .entry(section)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap_or_else(|| panic!("[{section}] is not a table"))
        .insert(key.to_owned(), value.into());
}

fn path_value(path: &Path) -> String {
    path.to_str().expect("a UTF-8 path").to_owned()
}

/// The config with only `agent.cwd` moved to `work` (a folder that exists
/// here): what `check` needs to judge the rest as written.
pub fn portable(text: &str, work: &Path) -> String {
    let mut table = parse(text);
    set(&mut table, "agent", "cwd", path_value(work));
    toml::to_string(&table).unwrap()
}

/// The config adapted to run here: the agent's folder and the store in
/// `dir`, the admin API on 127.0.0.1:0, JSON logs, the platforms at `sims`.
pub fn runnable(text: &str, dir: &Path, sims: &Sims) -> String {
    let mut table = parse(text);
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    set(&mut table, "agent", "cwd", path_value(&work));
    set(&mut table, "admin", "listen", "127.0.0.1:0");
    set(&mut table, "log", "format", "json");
    if table.contains_key("discord") {
        set(&mut table, "discord", "api_url", sims.discord.http_url());
        set(
            &mut table,
            "discord",
            "gateway_url",
            sims.discord.gateway_url(),
        );
    }
    if table.contains_key("slack") {
        set(&mut table, "slack", "api_url", sims.slack.api_url());
    }
    if let Some(store) = table.get_mut("store").and_then(toml::Value::as_table_mut) {
        for key in ["url", "max_connections", "statement_timeout"] {
            store.remove(key);
        }
    }
    set(
        &mut table,
        "store",
        "data_dir",
        path_value(&dir.join("data")),
    );
    toml::to_string(&table).unwrap()
}

/// The variable a `"${NAME}"` value names.
fn var_of(table: &toml::Table, section: &str, key: &str) -> Option<String> {
    let value = table.get(section)?.get(key)?.as_str()?;
    Some(value.strip_prefix("${")?.strip_suffix('}')?.to_owned())
}

/// The simulators' tokens under the names the config reads them from.
pub fn sim_tokens(text: &str, sims: &Sims) -> BTreeMap<String, String> {
    let table = parse(text);
    [
        ("discord", "token", sims.discord.token()),
        ("slack", "bot_token", sims.slack.bot_token()),
        ("slack", "app_token", sims.slack.app_token()),
    ]
    .into_iter()
    .filter_map(|(section, key, token)| Some((var_of(&table, section, key)?, token)))
    .collect()
}

/// A PATH on which the config's `agent.command` (a bare program name, as
/// installed in the target's image or system) resolves: a folder in `dir`
/// holding a script of that name that runs the built-in demo agent, then
/// this process's PATH. Read from the text as written, so that a config
/// the loader refuses is still judged by the binary.
pub fn agent_on_path(text: &str, dir: &Path) -> String {
    let command = parse(text)
        .get("agent")
        .and_then(|a| a.get("command"))
        .and_then(toml::Value::as_str)
        .expect("agent.command")
        .to_owned();
    assert!(
        !command.contains('/'),
        "agent.command {command:?}: a name on PATH expected"
    );
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join(&command);
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec {:?} demo-agent \"$@\"\n", binary()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    path_with(&bin)
}

/// `bin` first, then this process's PATH.
fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `switchboard check --config CONFIG` with exactly `env` (nothing else).
pub async fn check(config: &Path, env: &BTreeMap<String, String>) -> Output {
    let output = Command::new(binary())
        .args(["check", "--config"])
        .arg(config)
        .current_dir("/")
        .env_clear()
        .envs(env)
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("check ends within 60 s")
        .expect("switchboard runs")
}

/// A running switchboard and its log lines.
pub struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
    /// `http://ADDR` of its admin API.
    pub admin: String,
}

/// Start the binary with `args` (as the example writes them after the
/// program) and exactly `env`; wait until its admin API listens.
pub async fn start(args: &[String], env: &BTreeMap<String, String>) -> Running {
    let mut child = Command::new(binary())
        .args(args)
        .current_dir("/")
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("switchboard starts");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let changed = Arc::new(Notify::new());
    for stream in [
        Box::new(child.stderr.take().unwrap()) as Box<dyn tokio::io::AsyncRead + Unpin + Send>,
        Box::new(child.stdout.take().unwrap()),
    ] {
        let (lines, changed) = (lines.clone(), changed.clone());
        tokio::spawn(async move {
            let mut reader = BufReader::new(stream).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap().push(line);
                changed.notify_waiters();
            }
        });
    }
    let mut running = Running {
        child,
        lines,
        changed,
        admin: String::new(),
    };
    let deadline = Instant::now() + START_DEADLINE;
    let changed = running.changed.clone();
    loop {
        let notified = changed.notified();
        if let Some(addr) = running.admin_addr() {
            running.admin = format!("http://{addr}");
            return running;
        }
        if let Ok(Some(status)) = running.child.try_wait() {
            panic!(
                "switchboard exited ({status}) before its admin API listened:\n{}",
                running.log()
            );
        }
        let now = Instant::now();
        assert!(
            now < deadline,
            "admin API not listening within {START_DEADLINE:?}:\n{}",
            running.log()
        );
        // Wake on a log line, or after 100 ms to notice an exit.
        let _ = tokio::time::timeout_at((now + Duration::from_millis(100)).min(deadline), notified)
            .await;
    }
}

impl Running {
    fn admin_addr(&self) -> Option<String> {
        self.lines.lock().unwrap().iter().find_map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            (value["message"] == "admin API listening")
                .then(|| value["addr"].as_str().map(str::to_owned))?
        })
    }

    /// Every line written so far.
    pub fn log(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// GET `path` on the admin API: the status code.
    pub async fn get(&self, path: &str) -> u16 {
        switchboard::install_crypto_provider();
        let response = tokio::time::timeout(
            Duration::from_secs(10),
            reqwest::get(format!("{}{path}", self.admin)),
        )
        .await
        .unwrap_or_else(|_| panic!("GET {path}: no answer within 10 s"))
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        response.status().as_u16()
    }

    /// Send `signal`; the exit status, which must come within `within`.
    pub async fn stop(mut self, signal: i32, within: Duration) -> ExitStatus {
        let pid = self.child.id().expect("still running") as i32;
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
        match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.unwrap(),
            Err(_) => panic!(
                "switchboard did not exit within {within:?}:\n{}",
                self.log()
            ),
        }
    }
}

/// The signal a name such as `SIGTERM` (or `TERM`) means, for the ones
/// switchboard handles; `None` for any other.
pub fn signal_number(name: &str) -> Option<i32> {
    match name.trim_start_matches("SIG") {
        "TERM" => Some(libc::SIGTERM),
        "INT" => Some(libc::SIGINT),
        _ => None,
    }
}
