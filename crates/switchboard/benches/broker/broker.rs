//! The system under test: the real `switchboard` binary as a child process,
//! pointed at an in-process `DiscordSim`, its agents being the built-in
//! echo agent (`switchboard demo-agent --echo --chunk-delay-ms 0`) that
//! appends its timestamps to one file.
//!
//! Owns the config it writes, the process and its temporary directory.
//! Must never leave the process behind (kill on drop).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use discord_sim::{DiscordSim, ReadyKind, SimConfig, SimUser};
use tokio::process::{Child, Command};

/// How one broker is set up.
#[derive(Clone, Debug)]
pub struct Setup {
    pub heartbeat: Duration,
    /// `[broker]` lines.
    pub broker: String,
    /// `[supervisor]` lines.
    pub supervisor: String,
    /// `[canary]` lines (the delivery check).
    pub canary: String,
    pub max_sessions: u32,
    /// Extra `[agent]` lines (e.g. `idle_ttl`).
    pub agent: String,
    /// Milliseconds the echo agent waits before answering.
    pub echo_delay_ms: u64,
    /// Extra environment variables for the broker process.
    pub env: Vec<(String, String)>,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            heartbeat: Duration::from_millis(41_250),
            broker: String::new(),
            supervisor: String::new(),
            canary: String::new(),
            max_sessions: 256,
            agent: String::new(),
            echo_delay_ms: 0,
            env: Vec::new(),
        }
    }
}

pub struct Broker {
    pub sim: DiscordSim,
    pub user: SimUser,
    pub channel: u64,
    child: Child,
    pub pid: u32,
    pub timestamps: PathBuf,
    stderr: PathBuf,
    /// The PostgreSQL database of this run (server URL, name), if any.
    postgres: Option<(String, String)>,
    config_path: PathBuf,
    _dir: tempfile::TempDir,
}

/// With `SWITCHBOARD_BENCH_POSTGRES=postgres://...` (a server where this
/// user may create databases), the broker's store is a fresh database
/// there instead of the SQLite file: the `[store]` lines and (server, name).
async fn store_section(data_dir: &std::path::Path) -> (String, Option<(String, String)>) {
    let server = std::env::var("SWITCHBOARD_BENCH_POSTGRES").unwrap_or_default();
    if server.is_empty() {
        let lines = format!(
            "data_dir = {:?}\nallow_inside_agent_cwd = true",
            data_dir.display().to_string()
        );
        return (lines, None);
    }
    use sqlx::Connection as _;
    let name = format!("sb_bench_{:016x}", rand::random::<u64>());
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("SWITCHBOARD_BENCH_POSTGRES names a reachable server");
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .expect("a database for the run");
    let mut url = url::Url::parse(&server).expect("a PostgreSQL URL");
    url.set_path(&name);
    (format!("url = {:?}", url.to_string()), Some((server, name)))
}

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_switchboard")
}

impl Broker {
    /// Start a simulator and a broker; return once the broker has READY.
    pub async fn start(setup: Setup) -> Broker {
        let sim = DiscordSim::start(SimConfig {
            heartbeat_interval: setup.heartbeat,
            ..SimConfig::default()
        })
        .await
        .expect("simulator starts");
        let dir = tempfile::tempdir().unwrap();
        let timestamps = dir.path().join("agent-timestamps");
        let stderr = dir.path().join("switchboard.stderr");
        let channel = sim.channel_ids()[0];
        let args = [
            "demo-agent".to_owned(),
            "--echo".to_owned(),
            "--chunk-delay-ms".to_owned(),
            "0".to_owned(),
            "--echo-delay-ms".to_owned(),
            setup.echo_delay_ms.to_string(),
            "--timestamps-file".to_owned(),
            timestamps.display().to_string(),
        ];
        let args: Vec<String> = args.iter().map(|a| format!("{a:?}")).collect();
        let (store_lines, postgres) = store_section(&dir.path().join("data")).await;
        let config = format!(
            "[discord]\ntoken = \"${{DISCORD_BOT_TOKEN}}\"\nallowed_channels = [\"{channel}\"]\n\
             allow_all_users = true\napi_url = \"{}\"\ngateway_url = \"{}\"\n\n\
             [admin]\nlisten = \"127.0.0.1:0\"\n\n[log]\nlevel = \"warn\"\n\n\
             [supervisor]\n{}\n\n[broker]\n{}\n\n[canary]\n{}\n\n\
             [agent]\ncommand = {:?}\nargs = [{}]\nmax_sessions = {}\n{}\n\n\
             [store]\n{}\n",
            sim.http_url(),
            sim.gateway_url(),
            setup.supervisor,
            setup.broker,
            setup.canary,
            binary(),
            args.join(", "),
            setup.max_sessions,
            setup.agent,
            store_lines,
        );
        let config_path = dir.path().join("switchboard.toml");
        std::fs::write(&config_path, config).unwrap();
        let child = Command::new(binary())
            .args(["run", "--config"])
            .arg(&config_path)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DISCORD_BOT_TOKEN", sim.token())
            .envs(setup.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("switchboard starts");
        let pid = child.id().expect("a pid");
        let user = sim.user(7_000_000_000_000_000_001, "bench-user");
        let broker = Broker {
            sim,
            user,
            channel,
            child,
            pid,
            timestamps,
            stderr,
            postgres,
            config_path: config_path.clone(),
            _dir: dir,
        };
        let ready = broker
            .sim
            .wait_until(Duration::from_secs(30), |s| {
                s.ready_sent()
                    .iter()
                    .any(|r| r.kind == ReadyKind::Ready)
                    .then_some(())
            })
            .await;
        if ready.is_none() {
            broker.fail("no READY within 30 s");
        }
        broker
    }

    /// Panic with the broker's stderr.
    pub fn fail(&self, why: &str) -> ! {
        let log = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "{why}; switchboard stderr (last lines):\n{}",
            tail.join("\n")
        );
    }

    /// What the broker has written to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Another `switchboard run` on the same config (another instance of
    /// the bot), logging at INFO to `stderr`.
    pub fn spawn_peer(&self, stderr: &std::path::Path) -> Child {
        Command::new(binary())
            .args(["run", "--config"])
            .arg(&self.config_path)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DISCORD_BOT_TOKEN", self.sim.token())
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(stderr).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("switchboard starts")
    }

    /// SIGKILL the first process (the one `start` spawned).
    pub async fn kill9(&mut self) {
        let _ = self.child.kill().await;
    }

    /// PostgreSQL store only: transactions committed in the run's database
    /// so far (each statement outside a transaction is one; a round trip).
    pub async fn pg_commits(&self) -> Option<i64> {
        use sqlx::Connection as _;
        let (server, name) = self.postgres.as_ref()?;
        let mut admin = sqlx::PgConnection::connect(server).await.ok()?;
        // The statistics collector reports with a delay: take a fresh view.
        let _ = sqlx::query("SELECT pg_stat_clear_snapshot()")
            .execute(&mut admin)
            .await;
        sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut admin)
            .await
            .ok()
    }

    /// The run's temporary folder.
    pub fn dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// `<@bot> text`, a message that calls the bot.
    pub fn mention(&self, text: &str) -> String {
        format!("<@{}> {text}", self.sim.bot_user().id)
    }

    /// SIGTERM, then wait (bounded) for the exit.
    pub async fn stop(mut self) {
        // SAFETY: kill(2) on our own child.
        unsafe { libc::kill(self.pid as i32, libc::SIGTERM) };
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        self.sim.shutdown();
        if let Some((server, name)) = self.postgres.take() {
            use sqlx::Connection as _;
            if let Ok(mut admin) = sqlx::PgConnection::connect(&server).await {
                let _ = sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }
}
