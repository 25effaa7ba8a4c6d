//! The script: what the fake model answers to a Messages API request, read
//! from the request's LAST user message only (no hidden state between
//! requests). Claude Code may put a `system` role message after it (its
//! environment notes); that is skipped.
//!
//! - the last user message carries a `tool_result` -> text
//!   "done: <summary of the result>", stop reason `end_turn`;
//! - its text holds `[[bash:<command>]]` -> a `tool_use` block for `Bash`
//!   with `{"command": ...}`, stop reason `tool_use`;
//! - `[[write:<path>:<content>]]` -> `tool_use` for `Write` with
//!   `{"file_path", "content"}`;
//! - `[[think:<thought>]]` -> a thinking block, then the echo below;
//! - anything else -> text "fake model: <text>".
//!
//! Directives are honoured only when the request offers tools; a request
//! without tools (e.g. Claude Code naming the session) gets the echo.
//!
//! Must never: do I/O or keep state; it is a pure function of the request.

use serde_json::{Value, json};

/// One content block of the scripted answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Text(String),
    Thinking(String),
    ToolUse {
        id: String,
        name: String,
        input: Value,
    },
}

/// The scripted answer to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub blocks: Vec<Block>,
    /// `end_turn` or `tool_use`.
    pub stop_reason: &'static str,
}

impl Reply {
    /// A short name of what was answered, for the request record.
    pub fn kind(&self) -> String {
        self.blocks
            .iter()
            .map(|b| match b {
                Block::Text(_) => "text".to_owned(),
                Block::Thinking(_) => "thinking".to_owned(),
                Block::ToolUse { name, .. } => format!("tool_use:{name}"),
            })
            .collect::<Vec<_>>()
            .join("+")
    }
}

/// What the last message of a request says, as far as the script cares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastMessage {
    /// The user's text: the text blocks that are not `<system-reminder>`s,
    /// joined by newlines.
    pub text: String,
    /// Summary of the tool result(s) it carries, if any.
    pub tool_result: Option<String>,
}

/// Read the last user message of a Messages API request body.
pub fn last_message(body: &Value) -> LastMessage {
    let last = body["messages"]
        .as_array()
        .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"));
    let Some(last) = last else {
        return LastMessage::default();
    };
    let mut texts = Vec::new();
    let mut results = Vec::new();
    match &last["content"] {
        Value::String(text) => texts.push(text.clone()),
        Value::Array(blocks) => {
            for block in blocks {
                match block["type"].as_str() {
                    Some("text") => {
                        let text = block["text"].as_str().unwrap_or_default();
                        if !text.trim_start().starts_with("<system-reminder>") {
                            texts.push(text.to_owned());
                        }
                    }
                    Some("tool_result") => results.push(tool_result_summary(block)),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    LastMessage {
        text: texts.join("\n"),
        tool_result: (!results.is_empty()).then(|| results.join("; ")),
    }
}

/// "error: ..." or the result's text, on one line, at most 120 characters.
fn tool_result_summary(block: &Value) -> String {
    let text = match &block["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    };
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = one_line.chars().take(120).collect();
    let cut = if cut.is_empty() {
        "(no output)".to_owned()
    } else {
        cut
    };
    if block["is_error"].as_bool() == Some(true) {
        format!("error: {cut}")
    } else {
        cut
    }
}

/// The scripted answer to a request whose last user message is `last`
/// (`tools_offered`: the request has tools); `sequence` numbers tool_use
/// ids so they are unique per server.
pub fn reply(last: &LastMessage, tools_offered: bool, sequence: u64) -> Reply {
    if let Some(result) = &last.tool_result {
        return text_reply(vec![Block::Text(format!("done: {result}"))]);
    }
    if !tools_offered {
        return text_reply(vec![Block::Text(format!(
            "fake model: {}",
            last.text.trim()
        ))]);
    }
    if let Some(command) = directive(&last.text, "bash") {
        return tool_reply(sequence, "Bash", json!({ "command": command }));
    }
    if let Some(args) = directive(&last.text, "write") {
        let (path, content) = args.split_once(':').unwrap_or((args, ""));
        return tool_reply(
            sequence,
            "Write",
            json!({ "file_path": path, "content": content }),
        );
    }
    let mut blocks = Vec::new();
    if let Some(thought) = directive(&last.text, "think") {
        blocks.push(Block::Thinking(thought.to_owned()));
    }
    blocks.push(Block::Text(format!("fake model: {}", last.text.trim())));
    text_reply(blocks)
}

fn text_reply(blocks: Vec<Block>) -> Reply {
    Reply {
        blocks,
        stop_reason: "end_turn",
    }
}

fn tool_reply(sequence: u64, name: &str, input: Value) -> Reply {
    Reply {
        blocks: vec![Block::ToolUse {
            id: format!("toolu_fake{sequence:06}"),
            name: name.to_owned(),
            input,
        }],
        stop_reason: "tool_use",
    }
}

/// The argument of the first `[[name:<argument>]]` in `text`.
fn directive<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("[[{name}:");
    let start = text.find(&open)? + open.len();
    let len = text[start..].find("]]")?;
    Some(&text[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(content: Value) -> Value {
        json!({ "messages": [
            { "role": "user", "content": "earlier [[bash:rm -rf /]]" },
            { "role": "assistant", "content": "ok" },
            { "role": "user", "content": content },
            { "role": "system", "content": "environment notes" },
        ]})
    }

    #[test]
    fn plain_text_is_echoed_and_reminders_are_skipped() {
        let body = user(json!([
            { "type": "text", "text": "<system-reminder>be nice</system-reminder>" },
            { "type": "text", "text": "hello there" },
        ]));
        let last = last_message(&body);
        assert_eq!(last.text, "hello there");
        let reply = reply(&last, true, 1);
        assert_eq!(
            reply.blocks,
            vec![Block::Text("fake model: hello there".into())]
        );
        assert_eq!(reply.stop_reason, "end_turn");
    }

    #[test]
    fn directives_become_tool_uses() {
        let bash = reply(
            &last_message(&user(json!("please [[bash:touch x]] now"))),
            true,
            7,
        );
        assert_eq!(bash.stop_reason, "tool_use");
        assert_eq!(
            bash.blocks,
            vec![Block::ToolUse {
                id: "toolu_fake000007".into(),
                name: "Bash".into(),
                input: json!({ "command": "touch x" }),
            }]
        );
        let write = reply(
            &last_message(&user(json!("[[write:/tmp/a.txt:hi: there]]"))),
            true,
            8,
        );
        assert_eq!(write.kind(), "tool_use:Write");
        let Block::ToolUse { input, .. } = &write.blocks[0] else {
            panic!()
        };
        assert_eq!(
            input,
            &json!({ "file_path": "/tmp/a.txt", "content": "hi: there" })
        );
    }

    #[test]
    fn a_tool_result_ends_the_turn_with_its_summary() {
        let body = user(json!([{
            "type": "tool_result", "tool_use_id": "toolu_1", "is_error": true,
            "content": [{ "type": "text", "text": "permission\n denied" }],
        }]));
        let reply = reply(&last_message(&body), true, 2);
        assert_eq!(
            reply.blocks,
            vec![Block::Text("done: error: permission denied".into())]
        );
        assert_eq!(reply.stop_reason, "end_turn");
    }

    #[test]
    fn think_adds_a_thinking_block_first() {
        let reply = reply(&last_message(&user(json!("[[think:hmm]] hi"))), true, 3);
        assert_eq!(reply.kind(), "thinking+text");
        let reply = super::reply(&last_message(&user(json!("[[think:hmm]] hi"))), false, 3);
        assert_eq!(reply.kind(), "text");
    }

    #[test]
    fn without_tools_a_directive_is_only_echoed() {
        let reply = reply(&last_message(&user(json!("[[bash:touch x]]"))), false, 4);
        assert_eq!(
            reply.blocks,
            vec![Block::Text("fake model: [[bash:touch x]]".into())]
        );
    }
}
