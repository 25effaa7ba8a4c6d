//! Mapping ACP `session/update` notifications to [`AgentUpdate`]s.
//!
//! Owns: which update kinds switchboard renders and how they flatten; the
//! rule that unknown kinds are ignored without error while malformed known
//! ones are reported.
//!
//! Must never: fail a turn because of an update it does not understand.

use agent_client_protocol_schema::v1::{
    ContentBlock, ContentChunk, SessionNotification, SessionUpdate, ToolCallUpdate,
};
use serde::Serialize;
use serde_json::Value;

use super::AgentUpdate;

/// The update kinds switchboard maps; others are ignored.
const MAPPED_KINDS: [&str; 5] = [
    "agent_message_chunk",
    "agent_thought_chunk",
    "tool_call",
    "tool_call_update",
    "plan",
];

/// A `session/update` notification, read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ParsedUpdate {
    /// A kind we map.
    Known(Box<SessionNotification>),
    /// A kind we do not map (or do not know); `kind` is its tag.
    Ignored {
        /// The `sessionUpdate` tag, or `?` when missing.
        kind: String,
    },
    /// A kind we map, but the payload does not match the schema.
    Malformed(String),
}

/// Read the params of a `session/update` notification.
pub(crate) fn parse(params: &Value) -> ParsedUpdate {
    let kind = params
        .get("update")
        .and_then(|update| update.get("sessionUpdate"))
        .and_then(Value::as_str)
        .unwrap_or("?");
    if !MAPPED_KINDS.contains(&kind) {
        return ParsedUpdate::Ignored {
            kind: kind.to_owned(),
        };
    }
    match serde_json::from_value::<SessionNotification>(params.clone()) {
        Ok(notification) => ParsedUpdate::Known(Box::new(notification)),
        Err(err) => ParsedUpdate::Malformed(format!("{kind}: {err}")),
    }
}

/// The wire (serde) name of a schema enum value, e.g. `ToolKind::Read` ->
/// `read`.
pub(crate) fn wire_name(value: &impl Serialize) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(_) => "?".into(),
    }
}

fn chunk_text(chunk: &ContentChunk) -> Option<String> {
    match &chunk.content {
        ContentBlock::Text(text) => Some(text.text.clone()),
        _ => None,
    }
}

/// Flatten an update for rendering; `None` for content switchboard does not
/// show (e.g. an image chunk).
pub(crate) fn to_agent_update(update: &SessionUpdate) -> Option<AgentUpdate> {
    match update {
        SessionUpdate::AgentMessageChunk(chunk) => chunk_text(chunk).map(AgentUpdate::MessageChunk),
        SessionUpdate::AgentThoughtChunk(chunk) => chunk_text(chunk).map(AgentUpdate::ThoughtChunk),
        SessionUpdate::ToolCall(call) => Some(AgentUpdate::ToolCall {
            id: call.tool_call_id.0.to_string(),
            title: call.title.clone(),
            kind: wire_name(&call.kind),
            status: wire_name(&call.status),
        }),
        SessionUpdate::ToolCallUpdate(ToolCallUpdate {
            tool_call_id,
            fields,
            ..
        }) => Some(AgentUpdate::ToolCallUpdate {
            id: tool_call_id.0.to_string(),
            title: fields.title.clone(),
            status: fields.status.as_ref().map(wire_name),
        }),
        SessionUpdate::Plan(plan) => Some(AgentUpdate::Plan(
            plan.entries
                .iter()
                .map(|entry| (entry.content.clone(), wire_name(&entry.status)))
                .collect(),
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn mapped(update: Value) -> Option<AgentUpdate> {
        match parse(&json!({"sessionId": "s1", "update": update})) {
            ParsedUpdate::Known(n) => to_agent_update(&n.update),
            other => panic!("not known: {other:?}"),
        }
    }

    #[test]
    fn maps_the_rendered_kinds() {
        assert_eq!(
            mapped(
                json!({"sessionUpdate":"agent_message_chunk","content":{"type":"text","text":"hé"}})
            ),
            Some(AgentUpdate::MessageChunk("hé".into()))
        );
        assert_eq!(
            mapped(
                json!({"sessionUpdate":"agent_thought_chunk","content":{"type":"text","text":"hm"}})
            ),
            Some(AgentUpdate::ThoughtChunk("hm".into()))
        );
        assert_eq!(
            mapped(
                json!({"sessionUpdate":"tool_call","toolCallId":"c1","title":"Read x","kind":"read","status":"pending"})
            ),
            Some(AgentUpdate::ToolCall {
                id: "c1".into(),
                title: "Read x".into(),
                kind: "read".into(),
                status: "pending".into()
            })
        );
        // kind and status default when omitted.
        assert_eq!(
            mapped(json!({"sessionUpdate":"tool_call","toolCallId":"c2","title":"T"})),
            Some(AgentUpdate::ToolCall {
                id: "c2".into(),
                title: "T".into(),
                kind: "other".into(),
                status: "pending".into()
            })
        );
        assert_eq!(
            mapped(
                json!({"sessionUpdate":"tool_call_update","toolCallId":"c1","status":"completed"})
            ),
            Some(AgentUpdate::ToolCallUpdate {
                id: "c1".into(),
                title: None,
                status: Some("completed".into())
            })
        );
        assert_eq!(
            mapped(json!({"sessionUpdate":"plan","entries":[
                {"content":"a","priority":"high","status":"completed"},
                {"content":"b","priority":"low","status":"in_progress"}]})),
            Some(AgentUpdate::Plan(vec![
                ("a".into(), "completed".into()),
                ("b".into(), "in_progress".into())
            ]))
        );
        assert_eq!(
            mapped(
                json!({"sessionUpdate":"agent_message_chunk","content":{"type":"image","data":"AA==","mimeType":"image/png"}})
            ),
            None
        );
    }

    #[test]
    fn unknown_kinds_are_ignored_and_bad_known_ones_reported() {
        assert_eq!(
            parse(
                &json!({"sessionId":"s","update":{"sessionUpdate":"available_commands_update","availableCommands":[]}})
            ),
            ParsedUpdate::Ignored {
                kind: "available_commands_update".into()
            }
        );
        assert_eq!(
            parse(&json!({"sessionId":"s","update":{"sessionUpdate":"brand_new_thing","x":1}})),
            ParsedUpdate::Ignored {
                kind: "brand_new_thing".into()
            }
        );
        assert_eq!(
            parse(&json!({})),
            ParsedUpdate::Ignored { kind: "?".into() }
        );
        assert!(matches!(
            parse(&json!({"sessionId":"s","update":{"sessionUpdate":"tool_call","title":5}})),
            ParsedUpdate::Malformed(_)
        ));
    }
}
