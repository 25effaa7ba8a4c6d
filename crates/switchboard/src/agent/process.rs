//! The agent child process: spawn it with a cleaned environment in its own
//! process group, log its stderr, and kill the whole group.
//!
//! Owns: the environment an agent sees, its process group, the description
//! of how it ended, its state enum ([`ProcessState`]), and the process-wide
//! registry of live agent groups that a second SIGINT/SIGTERM kills
//! ([`kill_all_groups`]) before the process exits.
//!
//! Must never: pass switchboard's own environment through (tokens live
//! there), signal anything but the agent's own group, or read its stdout
//! (that is the JSON-RPC channel, the actor's).

use std::collections::BTreeSet;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::process::{Child, ChildStderr, Command};
use tracing::Instrument;

use super::line_reader::{LineReader, Overlong, ReadLineError};
use super::stderr_tail::StderrTail;
use super::{AgentCommand, AgentError};

/// The variables switchboard passes from its own environment, when set.
pub const PASSED_ENV: [&str; 4] = ["HOME", "PATH", "USER", "LANG"];

/// Longest stderr line logged as is; longer ones are cut.
const STDERR_LINE_MAX: usize = 2000;
/// The longest stderr line read whole (its size is then logged); the rest
/// of a longer line is dropped unread into any buffer. stderr is
/// diagnostics, not protocol: an over-long line never stops the agent.
pub const STDERR_LINE_LIMIT: usize = 64 * 1024;
/// How much of the agent's stderr one read takes.
const STDERR_CHUNK: usize = 8 * 1024;

/// Where the agent process is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcessState {
    /// Running; `pid` is also its process group id.
    Running {
        /// The child's pid.
        pid: u32,
    },
    /// It ended (by itself, or killed by us); `status` says how.
    Ended {
        /// e.g. "exit status 3", "killed by signal 9".
        status: String,
    },
}

impl ProcessState {
    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        matches!(self, Self::Running { .. })
    }
}

/// The environment the agent gets: [`PASSED_ENV`] from `parent` (when set),
/// then the configured variables (which win).
pub fn agent_env(
    parent: impl Fn(&str) -> Option<String>,
    command: &AgentCommand,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = PASSED_ENV
        .iter()
        .filter_map(|name| parent(name).map(|value| ((*name).to_owned(), value)))
        .filter(|(name, _)| !command.env.contains_key(name))
        .collect();
    env.extend(command.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Spawn the agent: cleaned env, own process group, piped stdio,
/// kill_on_drop.
pub fn spawn(command: &AgentCommand) -> Result<Child, AgentError> {
    let mut cmd = Command::new(&command.command);
    cmd.args(&command.args)
        .current_dir(&command.cwd)
        .env_clear()
        .envs(agent_env(|name| std::env::var(name).ok(), command))
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd.spawn().map_err(|source| AgentError::Spawn {
        command: command.command.clone(),
        source,
    })
}

/// Describe how a process ended, e.g. "exit status 3", "killed by signal 9".
pub fn describe_exit(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// Process groups of live agents: added when a [`GroupKiller`] is made,
/// removed when it kills. Bounded by the number of agents alive at once
/// (`agent.max_sessions` per platform, plus those starting). A std lock,
/// never held across an `.await` (nothing here is async).
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

fn live_groups() -> MutexGuard<'static, BTreeSet<i32>> {
    LIVE_GROUPS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// SIGKILL every live agent's process group, synchronously; for the
/// second-signal path, which exits the process right after (no destructor
/// or actor runs then). Returns how many groups were signalled.
pub fn kill_all_groups() -> usize {
    let groups = std::mem::take(&mut *live_groups());
    for pgid in &groups {
        // SAFETY: kill(2) on a process group this module created for an
        // agent and has not killed yet; it has no memory effects.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
    groups.len()
}

/// The process groups of live agents (for tests and diagnostics).
pub fn live_group_ids() -> Vec<i32> {
    live_groups().iter().copied().collect()
}

/// A handle that SIGKILLs the agent's whole process group, once.
///
/// The group id is the child's pid (`process_group(0)`); the kernel does not
/// reuse it while any member lives. After the first kill every member is dead
/// (SIGKILL cannot be caught), so later calls do nothing rather than risk
/// signalling a recycled id.
#[derive(Debug, Clone)]
pub struct GroupKiller {
    pgid: Option<i32>,
    done: Arc<AtomicBool>,
}

impl GroupKiller {
    /// For the group led by `child`; the group joins the live registry.
    pub fn new(child: &Child) -> Self {
        let pgid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .filter(|pgid| *pgid > 1);
        if let Some(pgid) = pgid {
            live_groups().insert(pgid);
        }
        Self {
            pgid,
            done: Arc::new(AtomicBool::new(false)),
        }
    }

    /// SIGKILL every process of the group (no-op after the first call).
    pub fn kill(&self) {
        let Some(pgid) = self.pgid.filter(|pgid| *pgid > 1) else {
            return;
        };
        if self.done.swap(true, Ordering::SeqCst) {
            return;
        }
        live_groups().remove(&pgid);
        // SAFETY: kill(2) with a negative pid signals the process group
        // `pgid`, which we created for this agent; it has no memory effects.
        let rc = unsafe { libc::kill(-pgid, libc::SIGKILL) };
        if rc != 0 {
            let err = std::io::Error::last_os_error();
            // ESRCH: the whole group is already gone.
            if err.raw_os_error() != Some(libc::ESRCH) {
                tracing::warn!(pgid, %err, "cannot kill agent process group");
            }
        } else {
            tracing::debug!(pgid, "killed agent process group");
        }
    }
}

/// Log the agent's stderr line by line at DEBUG until it closes, holding
/// at most [`STDERR_LINE_LIMIT`] (+ one read) of it (a longer line is cut
/// there and noted once at WARN), and keeping the last lines in `tail`
/// when given. Runs in its own task, inside the agent's span (which carries
/// the log tag).
pub fn log_stderr(
    stderr: ChildStderr,
    span: tracing::Span,
    tail: Option<StderrTail>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(
        async move {
            let mut lines = LineReader::new(stderr, STDERR_LINE_LIMIT, STDERR_CHUNK, Overlong::Cut);
            let mut warned = false;
            loop {
                match lines.next_line().await {
                    Ok(Some(line)) => {
                        if line.cut && !warned {
                            warned = true;
                            tracing::warn!(
                                limit = STDERR_LINE_LIMIT,
                                "agent wrote a stderr line longer than the limit; \
                                 such lines are cut there (the agent keeps running)"
                            );
                        }
                        let text = String::from_utf8_lossy(&line.bytes);
                        let text = text.trim_end();
                        if !text.is_empty() {
                            tracing::debug!(
                                stderr = %truncate(text, STDERR_LINE_MAX),
                                cut = line.cut,
                                "agent stderr"
                            );
                            if let Some(tail) = &tail {
                                tail.push(text);
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(ReadLineError::Io(err)) => {
                        tracing::debug!(%err, "agent stderr unreadable");
                        break;
                    }
                    // A Cut reader never reports a long line as an error.
                    Err(err @ ReadLineError::MessageTooLarge { .. }) => {
                        tracing::debug!(%err, "agent stderr unreadable");
                        break;
                    }
                }
            }
            if let Some(tail) = &tail {
                tail.close();
            }
        }
        .instrument(span),
    )
}

/// `text` cut to at most `max` bytes on a char boundary, with a marker.
pub fn truncate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    if text.len() <= max {
        return text.into();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes)", &text[..end], text.len()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::os::unix::process::ExitStatusExt;

    fn command(env: &[(&str, &str)]) -> AgentCommand {
        AgentCommand {
            command: "agent".into(),
            args: vec![],
            cwd: "/".into(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn env_passes_only_the_four_and_configured_ones_win() {
        let parent = |name: &str| match name {
            "HOME" => Some("/home/me".to_owned()),
            "PATH" => Some("/bin".to_owned()),
            "DISCORD_TOKEN" => Some("secret".to_owned()),
            _ => None,
        };
        let env = agent_env(parent, &command(&[("PATH", "/opt/bin"), ("X", "1")]));
        assert_eq!(
            env,
            vec![
                ("HOME".to_owned(), "/home/me".to_owned()),
                ("PATH".to_owned(), "/opt/bin".to_owned()),
                ("X".to_owned(), "1".to_owned()),
            ]
        );
    }

    #[test]
    fn debug_of_a_command_names_env_variables_but_never_their_values() {
        let printed = format!("{:?}", command(&[("API_KEY", "sk-live-0123456789")]));
        assert!(printed.contains("API_KEY"), "{printed}");
        assert!(!printed.contains("sk-live"), "{printed}");
    }

    #[test]
    fn exit_descriptions() {
        assert_eq!(describe_exit(ExitStatus::from_raw(3 << 8)), "exit status 3");
        assert_eq!(describe_exit(ExitStatus::from_raw(9)), "killed by signal 9");
    }

    #[tokio::test]
    async fn a_group_is_registered_while_live_and_leaves_when_killed() {
        let command = AgentCommand {
            command: "sleep".into(),
            args: vec!["30".into()],
            cwd: "/".into(),
            env: BTreeMap::new(),
        };
        let mut child = spawn(&command).unwrap();
        let pgid = child.id().unwrap() as i32;
        let killer = GroupKiller::new(&child);
        assert!(live_group_ids().contains(&pgid));
        killer.clone().kill();
        assert!(!live_group_ids().contains(&pgid));
        let status = tokio::time::timeout(std::time::Duration::from_secs(5), child.wait())
            .await
            .expect("killed")
            .unwrap();
        assert_eq!(describe_exit(status), "killed by signal 9");
        // A second kill neither signals nor registers anything.
        killer.kill();
        assert!(!live_group_ids().contains(&pgid));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("abc", 10), "abc");
        let cut = truncate("ééé", 3);
        assert!(cut.starts_with("é... "), "{cut}");
    }
}
