//! A permission request put to people (policy `ask`): what the agent asks,
//! the options it offers (allow first), and the one-time reply.
//!
//! [`PermissionReply`] is a guard: whoever holds it must answer, and if it
//! is dropped unanswered (the turn ended, the thread went away, a task was
//! cancelled) the agent is answered `cancelled`, so no request is ever left
//! open. It never decides anything by itself.

use agent_client_protocol_schema::v1::{
    PermissionOptionKind, ToolCallContent, ToolCallUpdateFields,
};
use tokio::sync::mpsc;

use super::actor::Command;
use super::permission::option_kind_name;

/// One option the agent offered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AskOption {
    /// The agent's optionId: what a choice sends back.
    pub option_id: String,
    /// The agent's label for it.
    pub name: String,
    /// `allow_once`, `allow_always`, `reject_once`, `reject_always`.
    pub kind: &'static str,
}

impl AskOption {
    pub fn allows(&self) -> bool {
        self.kind.starts_with("allow")
    }
}

/// What the agent asks, ready to be shown.
#[derive(Debug)]
pub struct PermissionAsk {
    /// The tool call's title.
    pub tool_title: String,
    /// The ACP tool kind (`execute`, `edit`, ...; `unknown`).
    pub tool_kind: String,
    /// A short preview of what the call will do (a command, a path and a
    /// line summary of a diff), empty when the request says nothing.
    pub preview: String,
    /// Allow options first, in the agent's order within each group.
    pub options: Vec<AskOption>,
    /// The answer; dropping it answers `cancelled`.
    pub reply: PermissionReply,
}

/// Two asks are the same request shown the same way (the reply is a
/// one-time handle, compared by the request it answers).
impl PartialEq for PermissionAsk {
    fn eq(&self, other: &Self) -> bool {
        self.tool_title == other.tool_title
            && self.tool_kind == other.tool_kind
            && self.preview == other.preview
            && self.options == other.options
            && self.reply.request == other.reply.request
    }
}

impl Eq for PermissionAsk {}

/// How a request was answered, as the agent is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AskOutcome {
    /// The option with this optionId.
    Selected(String),
    Cancelled,
}

/// The one-time answer to a [`PermissionAsk`].
#[derive(Debug)]
pub struct PermissionReply {
    commands: mpsc::WeakUnboundedSender<Command>,
    /// The request's JSON-RPC id, as the actor keys it.
    request: String,
    answered: bool,
}

impl PermissionReply {
    pub(crate) fn new(commands: mpsc::WeakUnboundedSender<Command>, request: String) -> Self {
        Self {
            commands,
            request,
            answered: false,
        }
    }

    /// Choose the option `option_id` (one the request offered; anything
    /// else is refused by the actor and answered `cancelled`).
    pub fn select(mut self, option_id: &str) {
        self.send(AskOutcome::Selected(option_id.to_owned()));
    }

    /// Answer `cancelled` (the turn is being cancelled).
    pub fn cancel(mut self) {
        self.send(AskOutcome::Cancelled);
    }

    fn send(&mut self, outcome: AskOutcome) {
        self.answered = true;
        if let Some(commands) = self.commands.upgrade() {
            let _ = commands.send(Command::Answer {
                request: self.request.clone(),
                outcome,
            });
        }
    }
}

impl Drop for PermissionReply {
    fn drop(&mut self) {
        if !self.answered {
            self.send(AskOutcome::Cancelled);
        }
    }
}

/// The longest preview shown, in characters.
const PREVIEW_MAX: usize = 300;

/// A short description of what the call will do: the command it runs, or
/// each file it changes with a line summary (`src/a.rs (+3 -1)`), or the
/// paths it touches.
pub(crate) fn preview(fields: &ToolCallUpdateFields) -> String {
    let command = fields
        .raw_input
        .as_ref()
        .and_then(|input| input.get("command"))
        .and_then(serde_json::Value::as_str);
    let mut text = match command {
        Some(command) => format!("$ {command}"),
        None => {
            let diffs: Vec<String> = fields
                .content
                .iter()
                .flatten()
                .filter_map(|content| match content {
                    ToolCallContent::Diff(diff) => Some(diff_summary(
                        &diff.path.display().to_string(),
                        diff.old_text.as_deref(),
                        &diff.new_text,
                    )),
                    _ => None,
                })
                .collect();
            if diffs.is_empty() {
                fields
                    .locations
                    .iter()
                    .flatten()
                    .map(|l| l.path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            } else {
                diffs.join(", ")
            }
        }
    };
    if text.chars().count() > PREVIEW_MAX {
        text = text.chars().take(PREVIEW_MAX - 1).collect::<String>() + "…";
    }
    text
}

/// `path (+added -removed)`, counting lines not common to both texts.
fn diff_summary(path: &str, old: Option<&str>, new: &str) -> String {
    use std::collections::HashMap;
    let mut counts: HashMap<&str, i64> = HashMap::new();
    for line in old.unwrap_or_default().lines() {
        *counts.entry(line).or_default() -= 1;
    }
    for line in new.lines() {
        *counts.entry(line).or_default() += 1;
    }
    let added: i64 = counts.values().filter(|n| **n > 0).sum();
    let removed: i64 = -counts.values().filter(|n| **n < 0).sum::<i64>();
    format!("{path} (+{added} -{removed})")
}

/// The options in the order people see them: allow kinds first.
pub(crate) fn allow_first(options: Vec<(String, String, PermissionOptionKind)>) -> Vec<AskOption> {
    let mut shown: Vec<AskOption> = options
        .into_iter()
        .map(|(option_id, name, kind)| AskOption {
            option_id,
            name,
            kind: option_kind_name(kind),
        })
        .collect();
    shown.sort_by_key(|o| !o.allows());
    shown
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: serde_json::Value) -> ToolCallUpdateFields {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_preview_shows_the_command_or_the_diffs_or_the_paths() {
        assert_eq!(
            preview(&fields(
                serde_json::json!({"rawInput": {"command": "rm -rf build"}})
            )),
            "$ rm -rf build"
        );
        let diff = fields(serde_json::json!({"content": [
            {"type": "diff", "path": "/w/src/a.rs", "oldText": "a\nb\nc\n", "newText": "a\nB\nc\nd\n"},
            {"type": "diff", "path": "/w/new.txt", "newText": "x\n"}
        ]}));
        assert_eq!(preview(&diff), "/w/src/a.rs (+2 -1), /w/new.txt (+1 -0)");
        assert_eq!(
            preview(&fields(
                serde_json::json!({"locations": [{"path": "/w/README.md"}]})
            )),
            "/w/README.md"
        );
        assert_eq!(preview(&fields(serde_json::json!({}))), "");
        let long = "x".repeat(1_000);
        let cut = preview(&fields(serde_json::json!({"rawInput": {"command": long}})));
        assert_eq!(cut.chars().count(), PREVIEW_MAX);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn allow_options_come_first_in_the_agents_order() {
        use PermissionOptionKind::{AllowAlways, AllowOnce, RejectOnce};
        let shown = allow_first(vec![
            ("r".into(), "Reject".into(), RejectOnce),
            ("a".into(), "Allow".into(), AllowOnce),
            ("aa".into(), "Always".into(), AllowAlways),
        ]);
        let ids: Vec<&str> = shown.iter().map(|o| o.option_id.as_str()).collect();
        assert_eq!(ids, ["a", "aa", "r"]);
        assert_eq!(shown[1].kind, "allow_always");
    }

    #[tokio::test]
    async fn a_reply_dropped_unanswered_answers_cancelled_and_one_answered_only_once() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        drop(PermissionReply::new(tx.downgrade(), "7".into()));
        match rx.recv().await {
            Some(Command::Answer { request, outcome }) => {
                assert_eq!((request.as_str(), outcome), ("7", AskOutcome::Cancelled));
            }
            _ => panic!("expected an answer"),
        }
        PermissionReply::new(tx.downgrade(), "8".into()).select("allow");
        match rx.recv().await {
            Some(Command::Answer { outcome, .. }) => {
                assert_eq!(outcome, AskOutcome::Selected("allow".into()));
            }
            _ => panic!("expected an answer"),
        }
        assert!(rx.try_recv().is_err(), "answered once, not again on drop");
    }
}
