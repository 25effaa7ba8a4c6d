//! [`AgentSession`]: the handle to one agent process and its ACP session.
//!
//! Owns: the ACP handshake (`initialize`, then `session/load` or
//! `session/new`), building prompts, and the handle's life (shutdown and
//! drop both kill the process group).
//!
//! Must never: touch the process's pipes (the actor's), or wait on the
//! actor without a path that ends (every reply is answered when the actor
//! stops; start has its own deadline).

use std::path::Path;
use std::time::Duration;

use agent_client_protocol_schema::ProtocolVersion;
use agent_client_protocol_schema::v1::{
    ClientCapabilities, FileSystemCapabilities, Implementation, InitializeRequest,
    InitializeResponse, LoadSessionRequest, McpServer, NewSessionRequest, NewSessionResponse,
    PromptRequest,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot, watch};
use tracing::Instrument;

use super::actor::{Actor, ActorConfig, Command, write_lines};
use super::controls::SessionControls;
use super::facts::SharedFacts;
use super::prepare::{check_options, prompt_blocks};
use super::process::{self, GroupKiller, ProcessState};
use super::stderr_tail::StderrTail;
use super::{
    AgentCommand, AgentError, AgentInfo, AgentUpdate, PROTOCOL_VERSION, PromptPart, SessionOptions,
    StopReason,
};

/// How long `shutdown` waits for the actor to confirm the kill and reap.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(6);

/// One agent child process with one ACP session.
///
/// Dropping it kills the agent's process group (the actor then reaps the
/// child in the background); [`AgentSession::shutdown`] does the same and
/// waits for the reap.
#[derive(Debug)]
pub struct AgentSession {
    info: AgentInfo,
    facts: SharedFacts,
    commands: mpsc::UnboundedSender<Command>,
    state: watch::Receiver<ProcessState>,
    killer: GroupKiller,
    span: tracing::Span,
}

/// Cancels the running turn of a session from another task. Holding one
/// does not keep the session alive.
#[derive(Debug, Clone)]
pub struct Canceller {
    commands: mpsc::WeakUnboundedSender<Command>,
}

impl Canceller {
    /// Send `session/cancel` for the running turn (if any) and answer its
    /// permission requests `cancelled`; the running `prompt()` then returns,
    /// normally with `Ok(StopReason::Cancelled)`. No-op when idle or closed.
    pub fn cancel(&self) {
        if let Some(commands) = self.commands.upgrade() {
            let _ = commands.send(Command::Cancel);
        }
    }
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Command::Request { .. } => "Request",
            Command::Prompt { .. } => "Prompt",
            Command::Cancel => "Cancel",
            Command::SetSession(_) => "SetSession",
            Command::Answer { .. } => "Answer",
            Command::Shutdown(_) => "Shutdown",
        })
    }
}

impl AgentSession {
    /// Spawn the agent, `initialize` it (protocol version 1, no fs or
    /// terminal capabilities), then `session/load` the given session when
    /// the agent supports it (falling back to `session/new` if the load
    /// fails), else `session/new`. Updates replayed during a load are
    /// swallowed. All of it within `options.start_timeout`.
    pub async fn start(
        command: &AgentCommand,
        options: SessionOptions,
        resume_session_id: Option<&str>,
    ) -> Result<AgentSession, AgentError> {
        Self::start_observed(command, options, resume_session_id, None).await
    }

    /// [`AgentSession::start`], keeping the agent's last stderr lines in
    /// `tail` (for a start failure's report).
    pub(crate) async fn start_observed(
        command: &AgentCommand,
        options: SessionOptions,
        resume_session_id: Option<&str>,
        tail: Option<StderrTail>,
    ) -> Result<AgentSession, AgentError> {
        let mcp_servers = check_options(command, &options)?;
        let span = tracing::info_span!("agent", tag = %options.log_tag);
        let mut child = process::spawn(command)?;
        let pid = child.id().unwrap_or_default();
        span.in_scope(|| {
            tracing::info!(command = %command.command, pid, cwd = %command.cwd.display(), "agent spawned");
        });
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(AgentError::Protocol("agent stdio was not piped".into()));
        };
        let killer = GroupKiller::new(&child);
        process::log_stderr(stderr, span.clone(), tail);
        // Lines to the agent's stdin: the actor writes one per request or
        // answer it makes, and makes them one turn at a time (a prompt, a
        // cancel, permission answers): a handful at most, never a stream.
        let (line_tx, line_rx) = mpsc::unbounded_channel();
        tokio::spawn(write_lines(stdin, line_rx).instrument(span.clone()));
        let (state_tx, state_rx) = watch::channel(ProcessState::Running { pid });
        // One command per call on the session handle (prompt, cancel,
        // shutdown), which a thread makes one turn at a time.
        let (command_tx, command_rx) = mpsc::unbounded_channel();
        let facts = SharedFacts::default();
        let config = ActorConfig {
            facts: facts.clone(),
            policy: options.permission_policy,
            idle_timeout: options.turn_idle_timeout,
            cancel_grace: options.cancel_grace,
            max_message_size: options.max_message_size,
        };
        let actor = Actor::new(
            config,
            child,
            stdout,
            line_tx,
            (command_rx, command_tx.downgrade()),
            killer.clone(),
            state_tx,
        );
        tokio::spawn(actor.run().instrument(span.clone()));
        let mut session = AgentSession {
            info: AgentInfo::default(),
            facts,
            commands: command_tx,
            state: state_rx,
            killer,
            span: span.clone(),
        };
        let handshake = session.handshake(&command.cwd, mcp_servers, resume_session_id);
        match tokio::time::timeout(options.start_timeout, handshake.instrument(span.clone())).await
        {
            Ok(Ok(info)) => {
                let _ = session
                    .commands
                    .send(Command::SetSession(info.session_id.clone()));
                span.in_scope(|| {
                    tracing::info!(
                        session = %info.session_id, resumed = info.resumed,
                        agent = info.agent_name.as_deref().unwrap_or("?"),
                        "agent session ready"
                    );
                });
                session.info = info;
                Ok(session)
            }
            Ok(Err(err)) => {
                span.in_scope(|| tracing::warn!(%err, "agent failed to start"));
                session.shutdown().await;
                Err(err)
            }
            Err(_) => {
                span.in_scope(|| tracing::warn!("agent did not start in time"));
                session.shutdown().await;
                Err(AgentError::StartTimeout {
                    after: options.start_timeout,
                })
            }
        }
    }

    async fn handshake(
        &self,
        cwd: &Path,
        mcp_servers: Vec<McpServer>,
        resume_session_id: Option<&str>,
    ) -> Result<AgentInfo, AgentError> {
        let capabilities = ClientCapabilities::new()
            .fs(FileSystemCapabilities::new()
                .read_text_file(false)
                .write_text_file(false))
            .terminal(false);
        let initialize = InitializeRequest::new(ProtocolVersion::from(PROTOCOL_VERSION))
            .client_capabilities(capabilities)
            .client_info(Implementation::new(
                "switchboard",
                env!("CARGO_PKG_VERSION"),
            ));
        let init: InitializeResponse = self.request("initialize", &initialize).await?;
        if init.protocol_version.as_u16() != PROTOCOL_VERSION {
            return Err(AgentError::Protocol(format!(
                "agent speaks ACP protocol version {}; switchboard speaks {PROTOCOL_VERSION}",
                init.protocol_version
            )));
        }
        let capabilities = &init.agent_capabilities;
        let mut info = AgentInfo {
            session_id: String::new(),
            resumed: false,
            load_session: capabilities.load_session,
            image_prompts: capabilities.prompt_capabilities.image,
            agent_name: init
                .agent_info
                .as_ref()
                .map(|i| i.title.clone().unwrap_or_else(|| i.name.clone())),
            agent_version: init.agent_info.as_ref().map(|i| i.version.clone()),
            modes: Vec::new(),
            current_mode: None,
            config_options: Vec::new(),
            auth_methods: init
                .auth_methods
                .iter()
                .map(|m| m.id().0.to_string())
                .collect(),
        };
        if let Some(previous) = resume_session_id {
            if info.load_session {
                let load = LoadSessionRequest::new(previous.to_owned(), cwd.to_path_buf())
                    .mcp_servers(mcp_servers.clone());
                match self
                    .request::<serde_json::Value>("session/load", &load)
                    .await
                {
                    Ok(loaded) => {
                        info.session_features(&loaded);
                        self.read_facts(&loaded);
                        info.session_id = previous.to_owned();
                        info.resumed = true;
                        return Ok(info);
                    }
                    Err(AgentError::Protocol(reason)) => tracing::warn!(
                        session = previous, %reason,
                        "agent could not load the previous session; starting a new one"
                    ),
                    Err(err) => return Err(err),
                }
            } else {
                tracing::info!(
                    session = previous,
                    "agent cannot load sessions (no loadSession); starting a new one"
                );
            }
        }
        let new = NewSessionRequest::new(cwd.to_path_buf()).mcp_servers(mcp_servers);
        let created: serde_json::Value =
            self.request("session/new", &new)
                .await
                .map_err(|err| match err {
                    AgentError::Protocol(reason) if !info.auth_methods.is_empty() => {
                        AgentError::Protocol(format!(
                            "{reason}; the agent offers authentication ({}): log in with the \
                             agent's own CLI as the user switchboard runs as",
                            info.auth_methods.join(", ")
                        ))
                    }
                    other => other,
                })?;
        info.session_features(&created);
        self.read_facts(&created);
        let created: NewSessionResponse = serde_json::from_value(created)
            .map_err(|err| AgentError::Protocol(format!("unreadable session/new result: {err}")))?;
        info.session_id = created.session_id.0.to_string();
        Ok(info)
    }

    /// Send a request through the actor and read its typed result.
    async fn request<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: &impl Serialize,
    ) -> Result<T, AgentError> {
        let params = serde_json::to_value(params)
            .map_err(|err| AgentError::Protocol(format!("cannot encode {method}: {err}")))?;
        let (reply, answer) = oneshot::channel();
        self.send(Command::Request {
            method,
            params,
            reply,
        })?;
        let value = answer.await.map_err(|_| self.gone())??;
        serde_json::from_value(value)
            .map_err(|err| AgentError::Protocol(format!("unreadable {method} result: {err}")))
    }

    fn send(&self, command: Command) -> Result<(), AgentError> {
        self.commands.send(command).map_err(|_| self.gone())
    }

    /// The error for a session whose actor has stopped.
    fn gone(&self) -> AgentError {
        match &*self.state.borrow() {
            ProcessState::Ended { status } => AgentError::Exited {
                status: status.clone(),
            },
            ProcessState::Running { .. } => AgentError::Closed,
        }
    }

    /// What the agent told us at start.
    pub fn info(&self) -> &AgentInfo {
        &self.info
    }

    /// One turn: send `session/prompt`, forward this turn's updates to
    /// `updates`, return the stop reason. Images are dropped (DEBUG log)
    /// unless the agent accepts them.
    pub async fn prompt(
        &self,
        parts: Vec<PromptPart>,
        updates: mpsc::UnboundedSender<AgentUpdate>,
    ) -> Result<StopReason, AgentError> {
        let blocks = self
            .span
            .in_scope(|| prompt_blocks(parts, self.info.image_prompts));
        let request = PromptRequest::new(self.info.session_id.clone(), blocks);
        let params = serde_json::to_value(&request)
            .map_err(|err| AgentError::Protocol(format!("cannot encode the prompt: {err}")))?;
        let (reply, answer) = oneshot::channel();
        self.send(Command::Prompt {
            params,
            updates,
            reply,
        })?;
        // Dropping this future mid-turn cancels the turn, so the session
        // is not left busy with an answer nobody waits for.
        let mut guard = CancelOnDrop {
            commands: &self.commands,
            armed: true,
        };
        let outcome = answer.instrument(self.span.clone()).await;
        guard.armed = false;
        outcome.map_err(|_| self.gone())?
    }

    fn read_facts(&self, result: &serde_json::Value) {
        self.facts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .read_session_result(result);
    }

    /// Reads and changes the session's mode, model and options from any
    /// task; does not keep the session alive.
    pub fn controls(&self) -> SessionControls {
        SessionControls {
            commands: self.commands.downgrade(),
            session_id: self.info.session_id.clone(),
            facts: self.facts.clone(),
        }
    }

    /// A handle that cancels the running turn from another task.
    pub fn canceller(&self) -> Canceller {
        Canceller {
            commands: self.commands.downgrade(),
        }
    }

    /// Whether the agent process is still running.
    pub fn is_alive(&self) -> bool {
        self.state.borrow().is_running()
    }

    /// The process state (running with its pid, or how it ended).
    pub fn process_state(&self) -> ProcessState {
        self.state.borrow().clone()
    }

    /// The process state as it changes, readable after the handle is gone.
    pub(crate) fn state_watch(&self) -> watch::Receiver<ProcessState> {
        self.state.clone()
    }

    /// Kill the agent's whole process group and reap the child. Idempotent
    /// with drop; never waits more than a few seconds.
    pub async fn shutdown(self) {
        let (done, confirmed) = oneshot::channel();
        if self.commands.send(Command::Shutdown(done)).is_ok() {
            let _ = tokio::time::timeout(SHUTDOWN_DEADLINE, confirmed).await;
        }
        self.span.in_scope(|| self.killer.kill());
    }
}

impl Drop for AgentSession {
    fn drop(&mut self) {
        // Synchronous, so it holds even when no runtime will poll the actor
        // again; the actor, seeing the handle gone, reaps.
        self.span.in_scope(|| self.killer.kill());
    }
}

/// Cancels the turn when a `prompt()` future is dropped before its end.
struct CancelOnDrop<'a> {
    commands: &'a mpsc::UnboundedSender<Command>,
    armed: bool,
}

impl Drop for CancelOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            tracing::debug!("prompt abandoned mid-turn; cancelling the turn");
            let _ = self.commands.send(Command::Cancel);
        }
    }
}
