//! The Messages API's answer shapes for a scripted [`Reply`]: the streamed
//! form (server-sent events, in the order and with the fields the API
//! documents) and the plain JSON message for `stream: false`.
//!
//! Stream order: `message_start`, `ping`, then per content block
//! `content_block_start`, its deltas (`text_delta`, `thinking_delta` +
//! `signature_delta`, `input_json_delta`), `content_block_stop`; then
//! `message_delta` (stop reason, output usage) and `message_stop`.
//!
//! Must never: depend on the HTTP layer; it only builds values.

use serde_json::{Value, json};

use crate::script::{Block, Reply};

/// Longest piece of text or JSON in one delta event.
const DELTA_CHARS: usize = 24;

/// One server-sent event: its `event:` name and `data:` JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct SseEvent {
    pub event: &'static str,
    pub data: Value,
}

impl SseEvent {
    fn new(event: &'static str, data: Value) -> Self {
        Self { event, data }
    }

    /// The event as it goes on the wire, blank line included.
    pub fn to_wire(&self) -> String {
        format!("event: {}\ndata: {}\n\n", self.event, self.data)
    }
}

/// Token counts reported for one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// Rough token counts: a token per four characters, at least one.
pub fn usage(request_chars: usize, reply: &Reply) -> Usage {
    let reply_chars: usize = reply
        .blocks
        .iter()
        .map(|b| match b {
            Block::Text(t) | Block::Thinking(t) => t.len(),
            Block::ToolUse { input, .. } => input.to_string().len(),
        })
        .sum();
    Usage {
        input_tokens: (request_chars / 4).max(1) as u64,
        output_tokens: (reply_chars / 4).max(1) as u64,
    }
}

/// The streamed answer, event by event.
pub fn stream_events(id: &str, model: &str, reply: &Reply, usage: Usage) -> Vec<SseEvent> {
    let mut message = message_json(
        id,
        model,
        &Reply {
            blocks: Vec::new(),
            ..reply.clone()
        },
        usage,
    );
    message["stop_reason"] = Value::Null;
    message["usage"]["output_tokens"] = json!(1);
    let mut events = vec![
        SseEvent::new(
            "message_start",
            json!({ "type": "message_start", "message": message }),
        ),
        SseEvent::new("ping", json!({ "type": "ping" })),
    ];
    for (index, block) in reply.blocks.iter().enumerate() {
        let (start, deltas) = match block {
            Block::Text(text) => (
                json!({ "type": "text", "text": "" }),
                pieces(text)
                    .map(|t| json!({ "type": "text_delta", "text": t }))
                    .collect::<Vec<_>>(),
            ),
            Block::Thinking(thought) => (
                json!({ "type": "thinking", "thinking": "", "signature": "" }),
                pieces(thought)
                    .map(|t| json!({ "type": "thinking_delta", "thinking": t }))
                    .chain(std::iter::once(
                        json!({ "type": "signature_delta", "signature": signature(thought) }),
                    ))
                    .collect(),
            ),
            Block::ToolUse { id, name, input } => (
                json!({ "type": "tool_use", "id": id, "name": name, "input": {} }),
                pieces(&input.to_string())
                    .map(|j| json!({ "type": "input_json_delta", "partial_json": j }))
                    .collect(),
            ),
        };
        events.push(SseEvent::new(
            "content_block_start",
            json!({ "type": "content_block_start", "index": index, "content_block": start }),
        ));
        events.extend(deltas.into_iter().map(|delta| {
            SseEvent::new(
                "content_block_delta",
                json!({ "type": "content_block_delta", "index": index, "delta": delta }),
            )
        }));
        events.push(SseEvent::new(
            "content_block_stop",
            json!({ "type": "content_block_stop", "index": index }),
        ));
    }
    events.push(SseEvent::new(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": { "stop_reason": reply.stop_reason, "stop_sequence": null },
            "usage": { "output_tokens": usage.output_tokens },
        }),
    ));
    events.push(SseEvent::new(
        "message_stop",
        json!({ "type": "message_stop" }),
    ));
    events
}

/// The whole answer as one JSON message (`stream: false`).
pub fn message_json(id: &str, model: &str, reply: &Reply, usage: Usage) -> Value {
    let content: Vec<Value> = reply
        .blocks
        .iter()
        .map(|block| match block {
            Block::Text(text) => json!({ "type": "text", "text": text }),
            Block::Thinking(thought) => json!({
                "type": "thinking", "thinking": thought, "signature": signature(thought),
            }),
            Block::ToolUse { id, name, input } => json!({
                "type": "tool_use", "id": id, "name": name, "input": input,
            }),
        })
        .collect();
    json!({
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": reply.stop_reason,
        "stop_sequence": null,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        },
    })
}

/// The API's error body, e.g. `("not_found_error", "...")`.
pub fn error_json(kind: &str, message: &str) -> Value {
    json!({ "type": "error", "error": { "type": kind, "message": message } })
}

/// `text` cut into pieces of at most [`DELTA_CHARS`] characters (one empty
/// piece for empty text, so every block has a delta).
fn pieces(text: &str) -> impl Iterator<Item = String> + '_ {
    let chars: Vec<char> = text.chars().collect();
    let count = chars.len().div_ceil(DELTA_CHARS).max(1);
    (0..count).map(move |i| {
        chars
            .iter()
            .skip(i * DELTA_CHARS)
            .take(DELTA_CHARS)
            .collect()
    })
}

/// A stand-in for the API's opaque thinking signature.
fn signature(thought: &str) -> String {
    format!("fake-signature-{}", thought.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(events: &[SseEvent]) -> Vec<&'static str> {
        events.iter().map(|e| e.event).collect()
    }

    #[test]
    fn a_text_answer_streams_in_the_documented_order() {
        let reply = Reply {
            blocks: vec![Block::Text(
                "fake model: a reply longer than one delta".into(),
            )],
            stop_reason: "end_turn",
        };
        let events = stream_events(
            "msg_1",
            "claude-x",
            &reply,
            Usage {
                input_tokens: 9,
                output_tokens: 5,
            },
        );
        assert_eq!(
            names(&events),
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        let start = &events[0].data["message"];
        assert_eq!(start["id"], "msg_1");
        assert_eq!(start["model"], "claude-x");
        assert_eq!(start["content"], json!([]));
        assert_eq!(start["stop_reason"], Value::Null);
        assert_eq!(start["usage"]["input_tokens"], 9);
        let text: String = events
            .iter()
            .filter(|e| e.event == "content_block_delta")
            .map(|e| e.data["delta"]["text"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(text, "fake model: a reply longer than one delta");
        assert_eq!(events[6].data["delta"]["stop_reason"], "end_turn");
        assert_eq!(events[6].data["usage"]["output_tokens"], 5);
        // Every event's data names its own type.
        assert!(events.iter().all(|e| e.data["type"] == e.event));
    }

    #[test]
    fn a_tool_use_streams_its_input_as_json_pieces() {
        let input = json!({ "command": "touch a-file-with-a-long-name" });
        let reply = Reply {
            blocks: vec![Block::ToolUse {
                id: "toolu_1".into(),
                name: "Bash".into(),
                input: input.clone(),
            }],
            stop_reason: "tool_use",
        };
        let events = stream_events(
            "msg_2",
            "m",
            &reply,
            Usage {
                input_tokens: 1,
                output_tokens: 1,
            },
        );
        let start = &events[2].data["content_block"];
        assert_eq!(
            start,
            &json!({ "type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {} })
        );
        let json: String = events
            .iter()
            .filter(|e| e.event == "content_block_delta")
            .inspect(|e| assert_eq!(e.data["delta"]["type"], "input_json_delta"))
            .map(|e| e.data["delta"]["partial_json"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), input);
        assert!(events.len() > 6, "more than one delta");
        assert_eq!(
            events[events.len() - 2].data["delta"]["stop_reason"],
            "tool_use"
        );
    }

    #[test]
    fn thinking_ends_with_a_signature_and_indices_count_blocks() {
        let reply = Reply {
            blocks: vec![Block::Thinking("hmm".into()), Block::Text("hi".into())],
            stop_reason: "end_turn",
        };
        let events = stream_events(
            "msg_3",
            "m",
            &reply,
            Usage {
                input_tokens: 1,
                output_tokens: 1,
            },
        );
        let kinds: Vec<(u64, String)> = events
            .iter()
            .filter(|e| e.event == "content_block_delta")
            .map(|e| {
                (
                    e.data["index"].as_u64().unwrap(),
                    e.data["delta"]["type"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (0, "thinking_delta".into()),
                (0, "signature_delta".into()),
                (1, "text_delta".into())
            ]
        );
    }

    #[test]
    fn the_wire_form_is_event_then_data_then_a_blank_line() {
        let event = SseEvent::new("message_stop", json!({ "type": "message_stop" }));
        assert_eq!(
            event.to_wire(),
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
        );
    }

    #[test]
    fn the_json_form_holds_the_whole_content() {
        let reply = Reply {
            blocks: vec![Block::Text("hi".into())],
            stop_reason: "end_turn",
        };
        let message = message_json(
            "msg_4",
            "m",
            &reply,
            Usage {
                input_tokens: 3,
                output_tokens: 1,
            },
        );
        assert_eq!(
            message["content"],
            json!([{ "type": "text", "text": "hi" }])
        );
        assert_eq!(message["stop_reason"], "end_turn");
    }
}
