//! The built-in demo / test ACP agent, run as `switchboard demo-agent`.
//!
//! It speaks ACP version 1 on its stdio. For `switchboard demo` it streams a
//! small, friendly answer with a plan, a tool call and a permission-gated
//! edit; for tests its behaviour is steered by flags and by `[[directives]]`
//! in the prompt (see [`script::Script`]).
//!
//! Owns: the agent side of the protocol, for this fake agent only.
//!
//! Must never: write anything but JSON-RPC lines to stdout (logs go to
//! stderr) unless a test asks for it (`[[flood:N]]`), or need the network
//! or an API key.

mod peer;
pub mod script;
mod state;
mod stdin;
pub mod timestamps;
mod turn;

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_client_protocol_schema::ProtocolVersion;
use agent_client_protocol_schema::v1::{
    AgentCapabilities, CancelNotification, ContentBlock, ContentChunk, Error as RpcError,
    Implementation, InitializeResponse, LoadSessionRequest, LoadSessionResponse,
    NewSessionResponse, PromptCapabilities, PromptRequest, PromptResponse, RequestId, SessionMode,
    SessionModeState, SessionUpdate,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_util::sync::CancellationToken;

use crate::agent::rpc::{self, Incoming};
use peer::Peer;
use state::{Store, TurnRecord};
use timestamps::{Timestamps, monotonic_ns};
use turn::Turn;

/// How the demo agent behaves.
#[derive(Debug, Clone, Default)]
pub struct DemoAgentOptions {
    /// Advertise `loadSession` and replay history on `session/load`.
    pub load_session: bool,
    /// Keep sessions in this JSON file too (survives a restart).
    pub state_file: Option<PathBuf>,
    /// Pause between streamed chunks.
    pub chunk_delay: Duration,
    /// Answer prompts without directives with "echo: <prompt>" at once.
    pub echo: bool,
    /// Write one line of junk to stdout before anything else.
    pub emit_junk: bool,
    /// Wait this long before the echo answer (a benchmark uses it to
    /// measure a reply that starts after the turn has begun).
    pub echo_delay: Duration,
    /// Append prompt-read and first-chunk times here (see [`timestamps`]).
    pub timestamps_file: Option<PathBuf>,
    /// Wait this long before answering `initialize` (a slow start).
    pub start_delay: Duration,
    /// Session modes announced by `session/new` (ids; the first is the
    /// current one); none when empty.
    pub modes: Vec<String>,
}

/// Run the agent on this process's stdin/stdout until stdin closes.
pub fn run_stdio(options: DemoAgentOptions) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("demo-agent: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(Agent::new(options).serve());
    ExitCode::SUCCESS
}

/// The shared state of the agent process.
struct Agent {
    options: DemoAgentOptions,
    peer: Arc<Peer>,
    store: Arc<Mutex<Store>>,
    /// The running turn's cancel token, per session.
    running: Arc<Mutex<HashMap<String, (u32, CancellationToken)>>>,
    /// Each session's current mode (when modes are announced).
    modes: Mutex<HashMap<String, String>>,
    timestamps: Arc<Timestamps>,
}

impl Agent {
    fn new(options: DemoAgentOptions) -> Self {
        let store = Store::open(options.state_file.clone());
        let timestamps = Arc::new(Timestamps::open(options.timestamps_file.as_deref()));
        Self {
            timestamps,
            options,
            peer: Arc::new(Peer::stdout()),
            store: Arc::new(Mutex::new(store)),
            running: Arc::new(Mutex::new(HashMap::new())),
            modes: Mutex::new(HashMap::new()),
        }
    }

    async fn serve(self) {
        if self.options.emit_junk {
            self.peer.send_line("this line is not JSON-RPC {").await;
        }
        let mut lines = BufReader::new(stdin::stdin_reader()).split(b'\n');
        loop {
            let line = match lines.next_segment().await {
                Ok(Some(line)) => line,
                Ok(None) => break,
                Err(err) => {
                    eprintln!("demo-agent: stdin error: {err}");
                    break;
                }
            };
            let read_at = monotonic_ns();
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match rpc::parse_line(&line) {
                Ok(Incoming::Request { id, method, params }) => {
                    self.on_request(id, &method, params, read_at).await;
                }
                Ok(Incoming::Notification { method, params }) => {
                    self.on_notification(&method, params);
                }
                Ok(Incoming::Response { id, result }) => {
                    self.record_response(&id, &result, read_at);
                    self.peer.on_response(&id, result);
                }
                Err(reason) => eprintln!("demo-agent: skipping a bad line: {reason}"),
            }
        }
        eprintln!("demo-agent: stdin closed; exiting");
    }

    /// `response <ns> <id> <result>`: when the client's answer to one of
    /// our requests (`session/request_permission`) was read.
    fn record_response(&self, id: &RequestId, result: &Result<Value, RpcError>, read_at: u64) {
        if !self.timestamps.enabled() {
            return;
        }
        let result = match result {
            Ok(value) => value.to_string(),
            Err(err) => format!("error {}", err.message),
        };
        self.timestamps
            .record("response", read_at, &format!("{id} {result}"));
    }

    fn store(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn on_request(&self, id: RequestId, method: &str, params: Value, read_at: u64) {
        match method {
            "initialize" => {
                if !self.options.start_delay.is_zero() {
                    eprintln!(
                        "demo-agent: starting slowly ({} ms)",
                        self.options.start_delay.as_millis()
                    );
                    tokio::time::sleep(self.options.start_delay).await;
                }
                let capabilities = AgentCapabilities::new()
                    .load_session(self.options.load_session)
                    .prompt_capabilities(PromptCapabilities::new().image(true));
                let response = InitializeResponse::new(ProtocolVersion::V1)
                    .agent_capabilities(capabilities)
                    .agent_info(
                        Implementation::new("switchboard-demo-agent", env!("CARGO_PKG_VERSION"))
                            .title("switchboard demo agent".to_owned()),
                    );
                self.peer.respond(id, &response).await;
            }
            "authenticate" => self.peer.respond(id, &serde_json::json!({})).await,
            "session/new" => {
                let session_id = self.store().create();
                eprintln!("demo-agent: new session {session_id}");
                let mut response = NewSessionResponse::new(session_id.clone());
                if let Some(current) = self.options.modes.first() {
                    let modes = self.options.modes.iter();
                    let modes = modes.map(|mode| SessionMode::new(mode.clone(), mode.clone()));
                    response =
                        response.modes(SessionModeState::new(current.clone(), modes.collect()));
                    self.current_modes()
                        .insert(session_id.clone(), current.clone());
                }
                self.peer.respond(id, &response).await;
                // Its own command, as agents announce theirs.
                self.peer
                    .update_raw(
                        &session_id,
                        serde_json::json!({
                            "sessionUpdate": "available_commands_update",
                            "availableCommands": [
                                { "name": "review", "description": "Review the latest change" }
                            ],
                        }),
                    )
                    .await;
            }
            "session/set_mode" => self.set_mode(id, &params).await,
            "session/load" if self.options.load_session => self.load(id, params).await,
            "session/prompt" => self.prompt(id, params, read_at).await,
            _ => self.peer.fail(id, RpcError::method_not_found()).await,
        }
    }

    fn current_modes(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.modes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `session/set_mode`: one of the announced modes, else invalid params.
    async fn set_mode(&self, id: RequestId, params: &Value) {
        let session = params.get("sessionId").and_then(Value::as_str);
        let mode = params.get("modeId").and_then(Value::as_str);
        match (session, mode) {
            (Some(session), Some(mode)) if self.options.modes.iter().any(|m| m == mode) => {
                eprintln!("demo-agent: session {session} now in mode {mode}");
                self.current_modes()
                    .insert(session.to_owned(), mode.to_owned());
                self.peer.respond(id, &serde_json::json!({})).await;
                self.peer
                    .update_raw(
                        session,
                        serde_json::json!({
                            "sessionUpdate": "current_mode_update", "currentModeId": mode,
                        }),
                    )
                    .await;
            }
            _ => self.peer.fail(id, RpcError::invalid_params()).await,
        }
    }

    async fn load(&self, id: RequestId, params: Value) {
        let Ok(request) = serde_json::from_value::<LoadSessionRequest>(params) else {
            return self.peer.fail(id, RpcError::invalid_params()).await;
        };
        let session_id = request.session_id.0.to_string();
        let history = self.store().get(&session_id).map(|s| s.history.clone());
        let Some(history) = history else {
            return self
                .peer
                .fail(id, RpcError::session_not_found(session_id))
                .await;
        };
        eprintln!(
            "demo-agent: loading session {session_id} ({} turns)",
            history.len()
        );
        for record in history {
            for (text, user) in [(record.prompt, true), (record.answer, false)] {
                let chunk = ContentChunk::new(ContentBlock::from(text));
                let update = if user {
                    SessionUpdate::UserMessageChunk(chunk)
                } else {
                    SessionUpdate::AgentMessageChunk(chunk)
                };
                self.peer.update(&session_id, update).await;
            }
        }
        self.peer.respond(id, &LoadSessionResponse::new()).await;
    }

    async fn prompt(&self, id: RequestId, params: Value, read_at: u64) {
        let Ok(request) = serde_json::from_value::<PromptRequest>(params) else {
            return self.peer.fail(id, RpcError::invalid_params()).await;
        };
        let session_id = request.session_id.0.to_string();
        let Some(number) = self.store().start_turn(&session_id) else {
            return self
                .peer
                .fail(id, RpcError::session_not_found(session_id))
                .await;
        };
        let cancel = CancellationToken::new();
        let previous = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(session_id.clone(), (number, cancel.clone()));
        if let Some((_, previous)) = previous {
            // ACP: a new prompt supersedes the running one.
            previous.cancel();
        }
        let prompt = request
            .prompt
            .iter()
            .filter_map(|block| match block {
                ContentBlock::Text(text) => Some(text.text.as_str()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n");
        self.timestamps.record("prompt", read_at, &prompt);
        let mut turn = Turn {
            peer: self.peer.clone(),
            session_id: session_id.clone(),
            number,
            prompt,
            cancel: cancel.clone(),
            chunk_delay: self.options.chunk_delay,
            echo: self.options.echo,
            echo_delay: self.options.echo_delay,
            timestamps: self.timestamps.clone(),
            chunks_sent: 0,
            answer: String::new(),
            mode: self.current_modes().get(&session_id).cloned(),
        };
        let store = self.store.clone();
        let running = self.running.clone();
        let peer = self.peer.clone();
        // Its own task: the read loop must keep taking cancels and answers.
        tokio::spawn(async move {
            let stop = turn.run().await;
            {
                let mut running = running.lock().unwrap_or_else(|p| p.into_inner());
                if running.get(&session_id).is_some_and(|(n, _)| *n == number) {
                    running.remove(&session_id);
                }
            }
            store.lock().unwrap_or_else(|p| p.into_inner()).finish_turn(
                &session_id,
                TurnRecord {
                    prompt: turn.prompt.clone(),
                    answer: turn.answer.clone(),
                },
            );
            // Usage as agents report it: the context and the session's
            // cost, then the prompt's own tokens in its result (about four
            // characters a token).
            let (input, output) = (turn.prompt.len() as u64 / 4, turn.answer.len() as u64 / 4);
            peer.update_raw(
                &session_id,
                serde_json::json!({
                    "sessionUpdate": "usage_update",
                    "used": (input + output) * u64::from(number),
                    "size": 200_000,
                    "cost": { "amount": f64::from(number) * 0.001, "currency": "USD" },
                }),
            )
            .await;
            let mut result = serde_json::to_value(PromptResponse::new(stop)).unwrap_or_default();
            result["usage"] = serde_json::json!({
                "inputTokens": input, "outputTokens": output, "totalTokens": input + output,
            });
            peer.respond(id, &result).await;
            if let Some(late) = script::Script::parse(&turn.prompt).late {
                peer.update_raw(
                    &session_id,
                    serde_json::json!({
                        "sessionUpdate": "agent_message_chunk",
                        "content": { "type": "text", "text": late },
                    }),
                )
                .await;
            }
        });
    }

    fn on_notification(&self, method: &str, params: Value) {
        if method != "session/cancel" {
            return;
        }
        let Ok(cancel) = serde_json::from_value::<CancelNotification>(params) else {
            eprintln!("demo-agent: malformed session/cancel");
            return;
        };
        let running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, token)) = running.get(&*cancel.session_id.0) {
            eprintln!("demo-agent: cancelling the turn of {}", cancel.session_id);
            token.cancel();
        }
    }
}
