//! The world the turn property test drives: the real bridge, thread actors
//! and session pool over a real SQLite store in a temp dir, real demo-agent
//! processes (through a wrapper that reads the start delay from a file, so a
//! test step can make the next starts slow), and at the edge a fake
//! platform that records what the bot does. It can be shut down (as SIGTERM
//! does) and started again on the same store (as a restart does).

#![allow(dead_code)]

mod outbound;
pub mod property;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use switchboard::agent::{AgentCommand, AgentSession, PermissionPolicy, SessionOptions};
use switchboard::broker::bridge::{Bridge, CatchUpSource};
use switchboard::broker::catch_up::CatchUpLimits;
use switchboard::broker::durable::Durable;
use switchboard::broker::pool::SessionPool;
use switchboard::broker::reply::ReplyConfig;
use switchboard::broker::thread::{Approval, ThreadDeps};
use switchboard::chat::receipt::Receipt;
use switchboard::chat::{Author, ChatMessage, Platform, inbound_channel};
use switchboard::config::{BotMessages, Gating, Reactions};
use switchboard::health::{CatchUpHealth, HealthRegistry, StoreHealth};
use switchboard::metrics::Metrics;
use switchboard::store::{JournalEntry, Store};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use outbound::{NoHistory, Recorder};

pub const CHANNEL: &str = "100";
pub const BOT: &str = "<@1>";
pub const MAX_SESSIONS: usize = 2;
/// A turn silent this long is cancelled, then killed after the grace.
pub const TURN_IDLE: Duration = Duration::from_millis(800);
pub const CANCEL_GRACE: Duration = Duration::from_millis(200);
pub const SHUTDOWN_GRACE: Duration = Duration::from_millis(300);

/// One running broker side (what a process has) over the shared store.
struct Running {
    bridge: Bridge,
    pool: Arc<SessionPool<AgentSession>>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
}

pub struct World {
    dir: tempfile::TempDir,
    pub store: Store,
    pub outbound: Arc<Recorder>,
    running: Option<Running>,
    next_id: u64,
}

impl World {
    pub async fn start() -> World {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("agents")).unwrap();
        let store = Store::open(&dir.path().join("data")).await.unwrap();
        let mut world = World {
            dir,
            store,
            outbound: Arc::new(Recorder::default()),
            running: None,
            next_id: 1000,
        };
        world.set_start_delay(Duration::ZERO);
        world.boot().await;
        world
    }

    /// Where the agents run: every live agent process of this world has it
    /// as its working directory.
    pub fn agent_dir(&self) -> PathBuf {
        self.dir.path().join("agents")
    }

    /// The next agents to start answer `initialize` after `delay`.
    pub fn set_start_delay(&self, delay: Duration) {
        // Written aside and renamed: an agent starting meanwhile reads the
        // old value or the new one, never an empty file.
        let next = self.dir.path().join("start-delay-ms.next");
        std::fs::write(&next, delay.as_millis().to_string()).unwrap();
        std::fs::rename(&next, self.dir.path().join("start-delay-ms")).unwrap();
    }

    fn agent(&self) -> AgentCommand {
        let script = r#"d=$(cat "$1" 2>/dev/null || echo 0); exec "$2" demo-agent --echo --chunk-delay-ms 2 --start-delay-ms "$d""#;
        AgentCommand {
            command: "/bin/sh".into(),
            args: vec![
                "-c".into(),
                script.into(),
                "sh".into(),
                self.dir.path().join("start-delay-ms").display().to_string(),
                env!("CARGO_BIN_EXE_switchboard").into(),
            ],
            cwd: self.agent_dir(),
            env: BTreeMap::new(),
        }
    }

    /// Start the broker side on the store: a new pool, and a bridge that
    /// restores the threads and takes up every unfinished message.
    async fn boot(&mut self) {
        let pool = SessionPool::new(MAX_SESSIONS, Duration::from_secs(3600));
        let durable = Durable::new(self.store.clone(), StoreHealth::default(), "discord");
        let (fatal, fatal_rx) = tokio::sync::mpsc::unbounded_channel();
        std::mem::forget(fatal_rx); // a 401 cannot happen on the fake platform
        let deps = Arc::new(ThreadDeps {
            outbound: self.outbound.clone(),
            pool: pool.clone(),
            agent: self.agent(),
            session: SessionOptions {
                permission_policy: PermissionPolicy::Deny,
                turn_idle_timeout: TURN_IDLE,
                cancel_grace: CANCEL_GRACE,
                start_timeout: Duration::from_secs(10),
                ..SessionOptions::default()
            },
            reply: ReplyConfig {
                edit_interval: Duration::from_millis(20),
                placeholder_after: Duration::from_millis(50),
                ..ReplyConfig::default()
            },
            reactions: Reactions::default(),
            max_bot_turns: 3,
            max_queued: 20,
            actor_idle_end: switchboard::broker::thread::ACTOR_IDLE_END,
            shutdown_grace: SHUTDOWN_GRACE,
            durable,
            fatal,
            approval: Approval::default(),
        });
        let gating = Gating {
            approver_users: Vec::new(),
            approver_groups: Vec::new(),
            allowed_channels: vec![CHANNEL.into()],
            allow_all_channels: false,
            allowed_users: Vec::new(),
            allow_all_users: true,
            mention_roles: Vec::new(),
            allow_bot_messages: BotMessages::None,
            trusted_bot_ids: Vec::new(),
        };
        let (inbound, inbound_rx) = inbound_channel();
        std::mem::forget(inbound_rx); // catch-up is not run here
        let catch_up = CatchUpSource {
            history: Arc::new(NoHistory),
            inbound,
            window: Duration::from_secs(60),
            limits: CatchUpLimits {
                max_pages: 1,
                max_time: Duration::from_secs(1),
                page_overrun: Duration::from_secs(1),
                health: CatchUpHealth::default(),
            },
        };
        let (tracker, shutdown) = (TaskTracker::new(), CancellationToken::new());
        let metrics = Metrics::new(HealthRegistry::default());
        let mut bridge = Bridge::new(
            Platform::Discord,
            deps,
            gating,
            metrics,
            catch_up,
            tracker.clone(),
            shutdown.clone(),
        );
        bridge.restore().await;
        self.running = Some(Running {
            bridge,
            pool,
            tracker,
            shutdown,
        });
    }

    fn running(&mut self) -> &mut Running {
        self.running.as_mut().expect("the broker side is running")
    }

    pub fn pool(&self) -> &SessionPool<AgentSession> {
        &self.running.as_ref().expect("running").pool
    }

    fn message(&mut self, channel: &str, parent: Option<&str>, content: String) -> ChatMessage {
        self.next_id += 1;
        ChatMessage {
            platform: Platform::Discord,
            id: self.next_id.to_string(),
            channel_id: channel.into(),
            parent_channel_id: parent.map(Into::into),
            guild_id: Some("1".into()),
            author: Author {
                id: "7".into(),
                name: "alice".into(),
                is_bot: false,
            },
            mentions_bot: content.contains(BOT),
            bot_mention_markup: vec![BOT.into()],
            mentioned_roles: Vec::new(),
            content,
            from_self: false,
            caught_up: false,
        }
    }

    /// Mention the bot in the channel: a new thread (its id is returned).
    pub async fn mention(&mut self, text: &str) -> String {
        let message = self.message(CHANNEL, None, format!("{BOT} {text}"));
        let id = message.id.clone();
        self.running().bridge.handle(message, Receipt::none()).await;
        id
    }

    /// Post in a thread (a follow-up, or a `!command`).
    pub async fn say(&mut self, thread: &str, text: &str) {
        let message = self.message(thread, Some(CHANNEL), text.into());
        self.running().bridge.handle(message, Receipt::none()).await;
    }

    /// SIGTERM's path: stop every thread actor (a running turn gets the
    /// grace), drain within grace + 2 s, close idle sessions. Returns how
    /// long the drain took.
    pub async fn shut_down(&mut self) -> Duration {
        let Running {
            bridge,
            pool,
            tracker,
            shutdown,
        } = self.running.take().expect("running");
        let started = tokio::time::Instant::now();
        shutdown.cancel();
        drop(bridge);
        tracker.close();
        tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(2), tracker.wait())
            .await
            .expect("every thread actor ended within the shutdown grace");
        pool.close_idle().await;
        assert_eq!(
            pool.busy_keys(),
            Vec::<String>::new(),
            "no slot is held after every actor ended"
        );
        started.elapsed()
    }

    /// Start again on the same store, as after a restart.
    pub async fn restart(&mut self) {
        self.boot().await;
    }

    pub async fn unfinished(&self) -> Vec<JournalEntry> {
        self.store.journal_unfinished("discord").await.unwrap()
    }

    pub async fn entry(&self, message_id: &str) -> JournalEntry {
        self.store
            .journal_entry("discord", message_id)
            .await
            .unwrap()
            .expect("journaled")
    }
}

/// The running (not zombie) agent processes started by this test process
/// in `dir`, from /proc.
pub fn live_agents(dir: &Path) -> Vec<i32> {
    let me = std::process::id().to_string();
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_owned());
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
        let running = fields.first().is_some_and(|s| *s != "Z");
        let ours = fields.get(1).is_some_and(|ppid| *ppid == me);
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
        if running && ours && cwd.as_deref() == Some(dir.as_path()) {
            found.push(pid);
        }
    }
    found.sort_unstable();
    found
}

/// Every child process of this test process: pid, state, cwd, command (for
/// failure messages).
pub fn children() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{name}/stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        if fields.get(1).is_some_and(|ppid| *ppid == me) {
            let cwd = std::fs::read_link(format!("/proc/{name}/cwd"));
            let cmd = std::fs::read_to_string(format!("/proc/{name}/cmdline")).unwrap_or_default();
            found.push(format!(
                "{name} {} {cwd:?} {}",
                fields[0],
                cmd.replace('\0', " ")
            ));
        }
    }
    found
}
