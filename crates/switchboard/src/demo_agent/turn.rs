//! One demo-agent turn: the header, then either the echo, the scripted
//! steps of the prompt's directives, or the built-in demo answer.
//!
//! Owns: what is streamed in a turn and how cancel stops it.
//!
//! Must never: answer a cancelled turn with anything but `cancelled`
//! (except `[[hang]]`, which by design answers nothing).

use std::sync::Arc;
use std::time::Duration;

use agent_client_protocol_schema::v1::{
    ContentBlock, ContentChunk, PermissionOption, PermissionOptionKind, Plan, PlanEntry,
    PlanEntryPriority, PlanEntryStatus, RequestPermissionOutcome, RequestPermissionRequest,
    RequestPermissionResponse, SessionUpdate, StopReason, ToolCall, ToolCallStatus, ToolCallUpdate,
    ToolCallUpdateFields, ToolKind,
};
use tokio_util::sync::CancellationToken;

use super::peer::Peer;
use super::script::{self, Script};
use super::timestamps::{Timestamps, monotonic_ns};
use crate::agent::updates::wire_name;

/// Everything a turn needs.
pub struct Turn {
    pub peer: Arc<Peer>,
    pub session_id: String,
    pub number: u32,
    pub prompt: String,
    pub cancel: CancellationToken,
    pub chunk_delay: Duration,
    pub echo: bool,
    /// Wait before the echo answer.
    pub echo_delay: Duration,
    /// Where the first chunk's write time is recorded.
    pub timestamps: Arc<Timestamps>,
    /// Text chunks written so far in this turn.
    pub chunks_sent: u32,
    /// The answer so far (for the session history).
    pub answer: String,
    /// The session's mode when the turn began (`[[mode]]` says it).
    pub mode: Option<String>,
}

/// Outcome of a permission request.
enum Permission {
    Granted(&'static str),
    Refused(&'static str),
    Cancelled,
}

impl Turn {
    /// Run the turn to its stop reason.
    pub async fn run(&mut self) -> StopReason {
        let script = Script::parse(&self.prompt);
        if self.echo && !script.is_scripted() {
            let text = format!("echo: {}", self.prompt);
            self.pause(self.echo_delay).await;
            self.say(&text).await;
            return StopReason::EndTurn;
        }
        let header = format!(
            "session {} turn {}:\nprompt: {}\n",
            self.session_id, self.number, self.prompt
        );
        self.say(&header).await;
        if script.is_scripted() {
            self.scripted(&script).await
        } else {
            self.demo().await
        }
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }

    /// Stream one text chunk.
    async fn say(&mut self, text: &str) {
        self.answer.push_str(text);
        let chunk = ContentChunk::new(ContentBlock::from(text.to_owned()));
        let at = monotonic_ns();
        self.peer
            .update(&self.session_id, SessionUpdate::AgentMessageChunk(chunk))
            .await;
        self.chunks_sent += 1;
        if self.chunks_sent == 1 {
            self.timestamps.record("chunk", at, text);
        }
    }

    /// Wait `delay` between chunks; returns early on cancel.
    async fn pause(&self, delay: Duration) {
        if delay.is_zero() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = self.cancel.cancelled() => {}
        }
    }

    /// Stream `text` in pieces of `size` chars, pausing between them;
    /// stops on cancel.
    async fn stream(&mut self, text: &str, size: usize, delay: Duration) {
        for (i, piece) in script::chunks(text, size).iter().enumerate() {
            if self.cancelled() {
                return;
            }
            if i > 0 {
                self.pause(delay).await;
            }
            if self.cancelled() {
                return;
            }
            self.say(piece).await;
        }
    }

    async fn scripted(&mut self, script: &Script) -> StopReason {
        let delay = script
            .slow_ms
            .map_or(self.chunk_delay, Duration::from_millis);
        if script.mode {
            let mode = self.mode.clone().unwrap_or_else(|| "none".to_owned());
            self.say(&format!("mode: {mode}\n")).await;
        }
        if script.env {
            let mut names: Vec<String> = std::env::vars_os()
                .map(|(name, _)| name.to_string_lossy().into_owned())
                .collect();
            names.sort();
            self.say(&format!("env: {}\n", names.join(","))).await;
        }
        if let Some(n) = script.flood_stderr {
            self.peer.flood_stderr(n).await;
        }
        if let Some(n) = script.flood {
            self.peer.flood_stdout(n).await;
            std::future::pending::<()>().await;
        }
        if script.crash {
            eprintln!("demo-agent: [[crash]]: exiting with status 3 mid-turn");
            std::process::exit(3);
        }
        if script.hang {
            eprintln!("demo-agent: [[hang]]: never answering this turn");
            std::future::pending::<()>().await;
        }
        if script.wait_for_cancel {
            self.say("waiting for cancel\n").await;
            self.cancel.cancelled().await;
        }
        if script.tool && !self.cancelled() {
            self.pause(delay).await;
            self.tool_call("tool-1", "Reading notes.txt", ToolKind::Read)
                .await;
            self.pause(delay).await;
            self.tool_done("tool-1", ToolCallStatus::Completed).await;
        }
        if let Some(kind) = script.permission
            && (!self.cancelled() || script.wait_for_cancel)
        {
            let title = format!("A {} tool call", wire_name(&kind));
            self.tool_call("perm-1", &title, kind).await;
            let (said, status) = match self.ask_permission("perm-1", &title, kind).await {
                Permission::Granted(k) => (k, ToolCallStatus::Completed),
                Permission::Refused(k) => (k, ToolCallStatus::Failed),
                Permission::Cancelled => ("cancelled", ToolCallStatus::Failed),
            };
            self.say(&format!("permission: {said}\n")).await;
            self.tool_done("perm-1", status).await;
        }
        if let Some(n) = script.long {
            self.pause(delay).await;
            self.stream(&script::long_text(n), script::LONG_CHUNK_CHARS, delay)
                .await;
        }
        if self.cancelled() {
            StopReason::Cancelled
        } else {
            StopReason::EndTurn
        }
    }

    /// The built-in answer of `switchboard demo`: a plan, a read, a
    /// permission-gated edit, all streamed with small delays.
    async fn demo(&mut self) -> StopReason {
        let delay = self.chunk_delay;
        let steps = [
            ("Read the project notes", PlanEntryStatus::InProgress),
            ("Propose a change", PlanEntryStatus::Pending),
            ("Apply it (with permission)", PlanEntryStatus::Pending),
        ];
        self.plan(&steps).await;
        self.stream("Let me look at the project first. ", 12, delay)
            .await;
        if !self.cancelled() {
            self.tool_call("demo-read", "Reading README.md", ToolKind::Read)
                .await;
            self.pause(delay * 2).await;
            self.tool_done("demo-read", ToolCallStatus::Completed).await;
        }
        self.plan(&[
            (steps[0].0, PlanEntryStatus::Completed),
            (steps[1].0, PlanEntryStatus::Completed),
            (steps[2].0, PlanEntryStatus::InProgress),
        ])
        .await;
        self.stream(
            "The README has no usage section; I'd like to add one with an example:\n\
             ```sh\nswitchboard demo\n```\n",
            12,
            delay,
        )
        .await;
        if self.cancelled() {
            return StopReason::Cancelled;
        }
        let title = "Editing README.md";
        self.tool_call("demo-edit", title, ToolKind::Edit).await;
        let (text, status) = match self
            .ask_permission("demo-edit", title, ToolKind::Edit)
            .await
        {
            Permission::Granted(_) => (
                "Permission granted: the usage section is applied. ✅",
                ToolCallStatus::Completed,
            ),
            Permission::Refused(_) => (
                "Permission denied: I left README.md unchanged.",
                ToolCallStatus::Failed,
            ),
            Permission::Cancelled => ("The change was cancelled.", ToolCallStatus::Failed),
        };
        self.tool_done("demo-edit", status).await;
        self.stream(text, 12, delay).await;
        if self.cancelled() {
            StopReason::Cancelled
        } else {
            StopReason::EndTurn
        }
    }

    async fn plan(&self, steps: &[(&str, PlanEntryStatus)]) {
        let entries = steps
            .iter()
            .map(|(content, status)| {
                PlanEntry::new(*content, PlanEntryPriority::Medium, status.clone())
            })
            .collect();
        self.peer
            .update(&self.session_id, SessionUpdate::Plan(Plan::new(entries)))
            .await;
    }

    async fn tool_call(&self, id: &str, title: &str, kind: ToolKind) {
        let call = ToolCall::new(id.to_owned(), title.to_owned())
            .kind(kind)
            .status(ToolCallStatus::InProgress);
        self.peer
            .update(&self.session_id, SessionUpdate::ToolCall(call))
            .await;
    }

    async fn tool_done(&self, id: &str, status: ToolCallStatus) {
        let update = ToolCallUpdate::new(id.to_owned(), ToolCallUpdateFields::new().status(status));
        self.peer
            .update(&self.session_id, SessionUpdate::ToolCallUpdate(update))
            .await;
    }

    /// Ask the client; the four option kinds carry ids a client cannot
    /// guess, so it has to choose by kind.
    async fn ask_permission(&self, id: &str, title: &str, kind: ToolKind) -> Permission {
        use PermissionOptionKind::{AllowAlways, AllowOnce, RejectAlways, RejectOnce};
        let options = [
            ("opt-q7", "Always reject", RejectAlways, "reject_always"),
            ("opt-x2", "Allow once", AllowOnce, "allow_once"),
            ("opt-m9", "Reject once", RejectOnce, "reject_once"),
            ("opt-b4", "Always allow", AllowAlways, "allow_always"),
        ];
        let call = ToolCallUpdate::new(
            id.to_owned(),
            ToolCallUpdateFields::new()
                .title(title.to_owned())
                .kind(kind),
        );
        let request = RequestPermissionRequest::new(
            self.session_id.clone(),
            call,
            options
                .iter()
                .map(|(id, name, kind, _)| PermissionOption::new(*id, *name, *kind))
                .collect(),
        );
        let answer = self
            .peer
            .request("session/request_permission", &request)
            .await
            .ok()
            .and_then(|value| serde_json::from_value::<RequestPermissionResponse>(value).ok());
        let Some(answer) = answer else {
            return Permission::Cancelled;
        };
        match answer.outcome {
            RequestPermissionOutcome::Selected(selected) => {
                match options.iter().find(|o| *o.0 == *selected.option_id.0) {
                    Some((_, _, AllowOnce | AllowAlways, name)) => Permission::Granted(name),
                    Some((_, _, _, name)) => Permission::Refused(name),
                    None => Permission::Cancelled,
                }
            }
            _ => Permission::Cancelled,
        }
    }
}
