//! The actor that owns one agent process: its stdout, its exit, the map of
//! our requests waiting for replies, the running turn, and the timers.
//!
//! Owns: every decision that depends on what the agent sent and when
//! (routing replies, forwarding updates, answering the agent's requests,
//! idle and cancel deadlines, noticing the exit). The session handle talks
//! to it only through [`Command`]s.
//!
//! Must never: block on a write to the agent (a writer task does that),
//! leave a reply channel unanswered when it stops, or outlive the process
//! group (it kills the group on every way out).

mod inbound;

use std::collections::HashMap;
use std::process::ExitStatus;
use std::time::Duration;

use agent_client_protocol_schema::v1::{CancelNotification, ToolKind};
use serde_json::Value;
use tokio::process::{Child, ChildStdout};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Instant, sleep_until};

use super::ask::AskOutcome;
use super::line_reader::{LineReader, Overlong, ReadLineError};
use super::process::{GroupKiller, ProcessState, describe_exit, truncate};
use super::rpc;
use super::{AgentError, AgentUpdate, PermissionPolicy, StopReason};

/// How much of a bad line is logged.
const LOGGED_LINE_MAX: usize = 300;
/// After the process exits, how long its last buffered lines are read.
const EXIT_DRAIN: Duration = Duration::from_millis(50);
/// After the agent closes its stdout, how long it has to exit by itself.
const STDOUT_CLOSED_GRACE: Duration = Duration::from_secs(1);
/// How much of the agent's stdout one read takes (a pipe's buffer).
const STDOUT_CHUNK: usize = 64 * 1024;
/// How long a shutdown waits for the killed process to be reaped.
const REAP_DEADLINE: Duration = Duration::from_secs(5);

/// Where the answer to a request goes.
type Reply<T> = oneshot::Sender<Result<T, AgentError>>;

/// What the session handle asks of the actor.
pub(crate) enum Command {
    /// Send a request; the raw result comes back (initialize, session/new...).
    Request {
        method: &'static str,
        params: Value,
        reply: Reply<Value>,
    },
    /// Start a turn: send `session/prompt` and forward this turn's updates.
    Prompt {
        params: Value,
        updates: mpsc::UnboundedSender<AgentUpdate>,
        reply: Reply<StopReason>,
    },
    /// Cancel the running turn, if any.
    Cancel,
    /// The ACP session id, once known.
    SetSession(String),
    /// People answered a permission request (policy `ask`); see
    /// [`crate::agent::ask::PermissionReply`].
    Answer {
        request: String,
        outcome: AskOutcome,
    },
    /// Kill the group, reap the child, then answer.
    Shutdown(oneshot::Sender<()>),
}

/// Settings the actor needs.
pub(crate) struct ActorConfig {
    /// What the session says about itself, kept up to date here.
    pub facts: crate::agent::facts::SharedFacts,
    pub policy: PermissionPolicy,
    pub idle_timeout: Duration,
    pub cancel_grace: Duration,
    /// The longest stdout line (JSON-RPC message) accepted, in bytes.
    pub max_message_size: usize,
}

/// Why a turn is being cancelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CancelCause {
    User,
    Idle,
}

/// The turn in progress.
struct Turn {
    request_id: i64,
    updates: mpsc::UnboundedSender<AgentUpdate>,
    reply: Reply<StopReason>,
    /// Set once `session/cancel` went out: why, and when to kill.
    cancelling: Option<(CancelCause, Instant)>,
    /// Tool calls seen this turn: id -> (title, kind), to describe
    /// permission requests that only carry the id.
    tools: HashMap<String, (String, ToolKind)>,
}

/// A timer the loop waits on.
#[derive(Debug, Clone, Copy)]
enum Timer {
    /// Nothing arrived during a turn for `idle_timeout`.
    Idle,
    /// A cancelled turn did not end within `cancel_grace`.
    CancelGrace,
    /// stdout closed and the process did not exit by itself.
    StdoutClosed,
}

/// How the loop ended.
enum End {
    /// The process exited (by itself or killed by a timer).
    Exited(std::io::Result<ExitStatus>),
    /// The handle asked for shutdown.
    Shutdown(oneshot::Sender<()>),
    /// Every handle is gone.
    Dropped,
    /// The agent wrote a message longer than `limit`: it is broken.
    TooLarge {
        /// `max_message_size`.
        limit: usize,
    },
}

pub(crate) struct Actor {
    config: ActorConfig,
    child: Child,
    stdout: LineReader<ChildStdout>,
    stdout_closed_at: Option<Instant>,
    writer: mpsc::UnboundedSender<String>,
    commands: mpsc::UnboundedReceiver<Command>,
    killer: GroupKiller,
    state: watch::Sender<ProcessState>,
    session_id: Option<String>,
    next_id: i64,
    /// Our requests waiting for a reply (the prompt's reply lives in `turn`).
    pending: HashMap<i64, (&'static str, Reply<Value>)>,
    turn: Option<Turn>,
    /// Answer text that arrived between turns (after the session was
    /// ready), for the next turn; bounded by [`LATE_TEXT_MAX`].
    late_text: String,
    last_activity: Instant,
    /// Where a [`crate::agent::ask::PermissionReply`] sends its answer
    /// (weak: it never keeps the actor alive).
    own_commands: mpsc::WeakUnboundedSender<Command>,
    /// Permission requests put to people, not answered yet: request key
    /// -> what was asked.
    asking: HashMap<String, Asked>,
}

/// A permission request waiting for people.
struct Asked {
    id: agent_client_protocol_schema::v1::RequestId,
    tool_title: String,
    option_ids: Vec<String>,
}

impl Actor {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        config: ActorConfig,
        child: Child,
        stdout: ChildStdout,
        writer: mpsc::UnboundedSender<String>,
        (commands, own_commands): (
            mpsc::UnboundedReceiver<Command>,
            mpsc::WeakUnboundedSender<Command>,
        ),
        killer: GroupKiller,
        state: watch::Sender<ProcessState>,
    ) -> Self {
        Self {
            child,
            stdout: LineReader::new(
                stdout,
                config.max_message_size,
                STDOUT_CHUNK,
                Overlong::Fail,
            ),
            stdout_closed_at: None,
            writer,
            commands,
            killer,
            state,
            session_id: None,
            next_id: 0,
            pending: HashMap::new(),
            late_text: String::new(),
            turn: None,
            last_activity: Instant::now(),
            own_commands,
            asking: HashMap::new(),
            config,
        }
    }

    /// Run until the process ends or the session is shut down or dropped.
    pub(crate) async fn run(mut self) {
        let end = loop {
            let timer = self.next_timer();
            let far = Instant::now() + Duration::from_secs(86_400);
            tokio::select! {
                // Priority, highest first:
                // 1. Commands from the session: control (cancel, shutdown)
                //    must never starve behind an agent flooding its stdout.
                biased;
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown(done)) => break End::Shutdown(done),
                    Some(command) => self.on_command(command),
                    None => break End::Dropped,
                },
                // 2. The process ended: seen at once, even while a grandchild
                //    keeps the stdout pipe open (so no EOF ever comes).
                status = self.child.wait() => break End::Exited(status),
                // 3. A line from the agent.
                //    At most `max_message_size` is buffered; a longer line
                //    means a broken agent, stopped at once.
                line = self.stdout.next_line(), if self.stdout_closed_at.is_none() => {
                    match line {
                        Ok(Some(line)) => self.on_line(&line.bytes),
                        Err(ReadLineError::MessageTooLarge { limit }) => {
                            tracing::warn!(
                                limit,
                                "agent sent a message larger than agent.max_message_size; \
                                 killing its process group"
                            );
                            break End::TooLarge { limit };
                        }
                        Ok(None) | Err(ReadLineError::Io(_)) => {
                            tracing::debug!("agent closed its stdout");
                            self.stdout_closed_at = Some(Instant::now());
                        }
                    }
                }
                // 4. Timers last: a line already waiting proves the agent is
                //    alive and must reset the idle clock before it is judged.
                () = sleep_until(timer.map_or(far, |(at, _)| at)), if timer.is_some() => {
                    if let Some((_, timer)) = timer {
                        self.on_timer(timer);
                    }
                }
            }
        };
        self.finish(end).await;
    }

    /// The earliest deadline in force.
    fn next_timer(&self) -> Option<(Instant, Timer)> {
        if let Some(closed) = self.stdout_closed_at {
            return Some((closed + STDOUT_CLOSED_GRACE, Timer::StdoutClosed));
        }
        let turn = self.turn.as_ref()?;
        match turn.cancelling {
            Some((_, kill_at)) => Some((kill_at, Timer::CancelGrace)),
            // Waiting on people is not the agent being idle: their answer
            // (or its timeout, or the reply's drop) ends the wait.
            None if !self.asking.is_empty() => None,
            None => Some((self.last_activity + self.config.idle_timeout, Timer::Idle)),
        }
    }

    fn send_line(&self, line: String) {
        tracing::trace!(line = %truncate(&line, LOGGED_LINE_MAX), "to agent");
        // A closed writer means the process is gone; its exit is seen next.
        let _ = self.writer.send(line);
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request {
                method,
                params,
                reply,
            } => {
                let id = self.allocate_id();
                self.pending.insert(id, (method, reply));
                self.send_line(rpc::request(id, method, &params));
            }
            Command::Prompt {
                params,
                updates,
                reply,
            } => {
                if self.turn.is_some() {
                    let _ = reply.send(Err(AgentError::Busy));
                    return;
                }
                let id = self.allocate_id();
                self.turn = Some(Turn {
                    request_id: id,
                    updates,
                    reply,
                    cancelling: None,
                    tools: HashMap::new(),
                });
                self.last_activity = Instant::now();
                if !self.late_text.is_empty()
                    && let Some(turn) = &self.turn
                {
                    let late = std::mem::take(&mut self.late_text);
                    let _ = turn.updates.send(AgentUpdate::LateText(late));
                }
                self.send_line(rpc::request(id, "session/prompt", &params));
            }
            Command::Cancel => self.cancel_turn(CancelCause::User),
            Command::SetSession(id) => self.session_id = Some(id),
            Command::Answer { request, outcome } => self.on_answer(&request, outcome),
            Command::Shutdown(_) => unreachable!("handled in the loop"),
        }
    }

    fn allocate_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// Send `session/cancel` for the running turn (once) and start the
    /// grace timer. Permission requests of a cancelled turn are answered
    /// `cancelled` from here on.
    fn cancel_turn(&mut self, cause: CancelCause) {
        let grace = self.config.cancel_grace;
        let Some(turn) = self.turn.as_mut() else {
            tracing::debug!("cancel with no turn running: nothing to do");
            return;
        };
        if turn.cancelling.is_some() {
            return;
        }
        turn.cancelling = Some((cause, Instant::now() + grace));
        // `session/cancel` first, then the answers: an agent reading its
        // stdin in order knows the turn is cancelled before it learns the
        // outcome of its requests (answered the other way round, an agent
        // could finish the turn as `end_turn`; seen under CI load).
        match &self.session_id {
            Some(session_id) => {
                let line = rpc::notification(
                    "session/cancel",
                    &CancelNotification::new(session_id.clone()),
                );
                self.send_line(line);
            }
            None => tracing::warn!("cannot send session/cancel: no session id yet"),
        }
        // ACP: a cancelled turn's open permission requests are answered
        // `cancelled`.
        let open: Vec<String> = self.asking.keys().cloned().collect();
        for request in open {
            self.on_answer(&request, AskOutcome::Cancelled);
        }
    }

    fn on_timer(&mut self, timer: Timer) {
        match timer {
            Timer::Idle => {
                tracing::warn!(
                    idle = %humantime::format_duration(self.config.idle_timeout),
                    "agent sent nothing during a turn; cancelling it"
                );
                self.cancel_turn(CancelCause::Idle);
            }
            Timer::CancelGrace => {
                let Some(turn) = self.turn.take() else { return };
                tracing::warn!(
                    grace = %humantime::format_duration(self.config.cancel_grace),
                    "agent did not end the cancelled turn in time; killing its process group"
                );
                self.killer.kill();
                let error = match turn.cancelling {
                    Some((CancelCause::Idle, _)) => AgentError::IdleTimeout {
                        after: self.config.idle_timeout,
                    },
                    _ => AgentError::CancelTimeout {
                        after: self.config.cancel_grace,
                    },
                };
                let _ = turn.reply.send(Err(error));
            }
            Timer::StdoutClosed => {
                tracing::warn!("agent closed its stdout but kept running; killing it");
                self.killer.kill();
                // Its exit ends the loop; do not fire again meanwhile.
                self.stdout_closed_at = Some(Instant::now() + Duration::from_secs(3600));
            }
        }
    }

    /// The one place the process state changes.
    fn set_state(&self, next: ProcessState) {
        tracing::info!(from = ?*self.state.borrow(), to = ?next, "agent process state");
        self.state.send_replace(next);
    }

    async fn finish(mut self, end: End) {
        let mut too_large = None;
        let (status, shutdown) = match end {
            End::Exited(status) => {
                // Read what it wrote just before exiting (its last reply).
                let deadline = Instant::now() + EXIT_DRAIN;
                while self.stdout_closed_at.is_none() {
                    match tokio::time::timeout_at(deadline, self.stdout.next_line()).await {
                        Ok(Ok(Some(line))) => self.on_line(&line.bytes),
                        _ => break,
                    }
                }
                // Grandchildren may live on; they are part of the agent.
                self.killer.kill();
                (status, None)
            }
            End::Shutdown(done) => {
                self.killer.kill();
                (self.reap().await, Some(done))
            }
            End::Dropped => {
                self.killer.kill();
                (self.reap().await, None)
            }
            End::TooLarge { limit } => {
                self.killer.kill();
                too_large = Some(limit);
                (self.reap().await, None)
            }
        };
        let status = match status {
            Ok(status) => describe_exit(status),
            Err(err) => format!("unknown ({err})"),
        };
        if shutdown.is_none() && self.turn.is_some() {
            tracing::warn!(%status, "agent process ended during a turn");
        } else {
            tracing::info!(%status, "agent process ended");
        }
        self.set_state(ProcessState::Ended {
            status: status.clone(),
        });
        let error = || match (&shutdown, too_large) {
            (Some(_), _) => AgentError::Closed,
            (None, Some(limit)) => AgentError::MessageTooLarge { limit },
            (None, None) => AgentError::Exited {
                status: status.clone(),
            },
        };
        if let Some(turn) = self.turn.take() {
            let _ = turn.reply.send(Err(error()));
        }
        for (_, (_, reply)) in self.pending.drain() {
            let _ = reply.send(Err(error()));
        }
        if let Some(done) = shutdown {
            let _ = done.send(());
        }
    }

    async fn reap(&mut self) -> std::io::Result<ExitStatus> {
        match tokio::time::timeout(REAP_DEADLINE, self.child.wait()).await {
            Ok(status) => status,
            Err(_) => Err(std::io::Error::other("not reaped within 5 s of SIGKILL")),
        }
    }
}

/// Write queued lines to the agent's stdin until the queue closes or the
/// pipe breaks. Its own task, so a stuck agent never blocks the actor.
pub(crate) async fn write_lines(
    mut stdin: tokio::process::ChildStdin,
    mut lines: mpsc::UnboundedReceiver<String>,
) {
    use tokio::io::AsyncWriteExt;
    while let Some(mut line) = lines.recv().await {
        line.push('\n');
        let written = async {
            stdin.write_all(line.as_bytes()).await?;
            stdin.flush().await
        }
        .await;
        if let Err(err) = written {
            tracing::debug!(%err, "agent stdin closed");
            break;
        }
    }
}
