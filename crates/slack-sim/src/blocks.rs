//! Block Kit as Slack checks it on `chat.postMessage`, `chat.update`,
//! `chat.postEphemeral` and response_url posts: the `blocks` argument (a
//! JSON array, or that array as a JSON string in a form) with the rules the
//! sim knows (section, actions with button elements, divider, header,
//! context), Slack's limits, and the ids Slack fills in (`block_id`, and a
//! button's `action_id`) when the app leaves them out.
//!
//! Pure checking and filling; it must never touch state or decide what a
//! message does with its blocks. A block or element type the sim does not
//! model is refused as `invalid_blocks` rather than passed on unchecked.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::protocol::ApiError;

/// At most this many blocks in one message.
pub(crate) const MAX_BLOCKS: usize = 50;
/// At most this many elements in one actions block.
pub(crate) const MAX_ACTION_ELEMENTS: usize = 25;
/// `block_id` and `action_id` length limit.
pub(crate) const MAX_ID: usize = 255;
/// A button's `value` length limit.
pub(crate) const MAX_BUTTON_VALUE: usize = 2_000;
/// A button's label (`text`, plain_text) length limit.
pub(crate) const MAX_BUTTON_TEXT: usize = 75;
/// A section's `text` length limit.
const MAX_SECTION_TEXT: usize = 3_000;
/// A section's `fields`: at most 10, each up to 2,000 characters.
const MAX_FIELDS: usize = 10;
const MAX_FIELD_TEXT: usize = 2_000;
/// A header's plain_text length limit.
const MAX_HEADER_TEXT: usize = 150;
/// A button's `url` length limit.
const MAX_URL: usize = 3_000;

/// The `blocks` argument: `None` when absent, the checked blocks (ids
/// filled in) otherwise. Not an array (or not JSON) is
/// `invalid_blocks_format`; an array breaking a rule is `invalid_blocks`.
pub(crate) fn parse(raw: Option<Value>) -> Result<Option<Vec<Value>>, ApiError> {
    let value = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => {
            serde_json::from_str(&text).map_err(|_| ApiError::InvalidBlocksFormat)?
        }
        Some(other) => other,
    };
    let Value::Array(blocks) = value else {
        return Err(ApiError::InvalidBlocksFormat);
    };
    check(blocks).map(Some)
}

/// Checks every block and fills in missing ids.
pub(crate) fn check(mut blocks: Vec<Value>) -> Result<Vec<Value>, ApiError> {
    if blocks.len() > MAX_BLOCKS {
        return Err(ApiError::InvalidBlocks);
    }
    let mut block_ids = HashSet::new();
    for (index, block) in blocks.iter_mut().enumerate() {
        check_block(block, index)?;
        let id = block["block_id"].as_str().unwrap_or_default().to_owned();
        if !block_ids.insert(id) {
            return Err(ApiError::InvalidBlocks);
        }
    }
    Ok(blocks)
}

fn check_block(block: &mut Value, index: usize) -> Result<(), ApiError> {
    let Some(o) = block.as_object_mut() else {
        return Err(ApiError::InvalidBlocks);
    };
    match o.get("block_id") {
        None => {
            o.insert("block_id".into(), json!(generated_id("b", index)));
        }
        Some(Value::String(id)) if !id.is_empty() && id.chars().count() <= MAX_ID => {}
        Some(_) => return Err(ApiError::InvalidBlocks),
    }
    match o.get("type").and_then(Value::as_str) {
        Some("section") => check_section(block),
        Some("actions") => check_actions(block),
        Some("divider") => Ok(()),
        Some("header") => text_object(&block["text"], MAX_HEADER_TEXT, true).map(|_| ()),
        Some("context") => check_context(block),
        _ => Err(ApiError::InvalidBlocks),
    }
}

/// A section needs `text` or `fields`.
fn check_section(block: &Value) -> Result<(), ApiError> {
    let text = block.get("text");
    let fields = block.get("fields");
    if text.is_none() && fields.is_none() {
        return Err(ApiError::InvalidBlocks);
    }
    if let Some(text) = text {
        text_object(text, MAX_SECTION_TEXT, false)?;
    }
    if let Some(fields) = fields {
        let fields = fields.as_array().ok_or(ApiError::InvalidBlocks)?;
        if fields.is_empty() || fields.len() > MAX_FIELDS {
            return Err(ApiError::InvalidBlocks);
        }
        for field in fields {
            text_object(field, MAX_FIELD_TEXT, false)?;
        }
    }
    Ok(())
}

/// 1 to 10 text or image elements; the sim checks text ones only.
fn check_context(block: &Value) -> Result<(), ApiError> {
    let elements = block["elements"]
        .as_array()
        .ok_or(ApiError::InvalidBlocks)?;
    if elements.is_empty() || elements.len() > 10 {
        return Err(ApiError::InvalidBlocks);
    }
    for e in elements {
        match e["type"].as_str() {
            Some("plain_text" | "mrkdwn") => {
                text_object(e, MAX_SECTION_TEXT, false)?;
            }
            Some("image") => {}
            _ => return Err(ApiError::InvalidBlocks),
        }
    }
    Ok(())
}

/// 1 to 25 buttons with distinct action ids.
fn check_actions(block: &mut Value) -> Result<(), ApiError> {
    let elements = block
        .get_mut("elements")
        .and_then(Value::as_array_mut)
        .ok_or(ApiError::InvalidBlocks)?;
    if elements.is_empty() || elements.len() > MAX_ACTION_ELEMENTS {
        return Err(ApiError::InvalidBlocks);
    }
    let mut action_ids = HashSet::new();
    for (index, element) in elements.iter_mut().enumerate() {
        check_button(element, index)?;
        let id = element["action_id"].as_str().unwrap_or_default().to_owned();
        if !action_ids.insert(id) {
            return Err(ApiError::InvalidBlocks);
        }
    }
    Ok(())
}

fn check_button(element: &mut Value, index: usize) -> Result<(), ApiError> {
    let Some(o) = element.as_object_mut() else {
        return Err(ApiError::InvalidBlocks);
    };
    if o.get("type").and_then(Value::as_str) != Some("button") {
        return Err(ApiError::InvalidBlocks);
    }
    match o.get("action_id") {
        None => {
            o.insert("action_id".into(), json!(generated_id("a", index)));
        }
        Some(Value::String(id)) if !id.is_empty() && id.chars().count() <= MAX_ID => {}
        Some(_) => return Err(ApiError::InvalidBlocks),
    }
    let text = o.get("text").ok_or(ApiError::InvalidBlocks)?;
    text_object(text, MAX_BUTTON_TEXT, true)?;
    if let Some(value) = o.get("value") {
        let ok = value
            .as_str()
            .is_some_and(|v| v.chars().count() <= MAX_BUTTON_VALUE);
        if !ok {
            return Err(ApiError::InvalidBlocks);
        }
    }
    if let Some(url) = o.get("url") {
        let ok = url
            .as_str()
            .is_some_and(|u| !u.is_empty() && u.chars().count() <= MAX_URL);
        if !ok {
            return Err(ApiError::InvalidBlocks);
        }
    }
    match o.get("style").map(Value::as_str) {
        None | Some(Some("primary" | "danger")) => Ok(()),
        Some(_) => Err(ApiError::InvalidBlocks),
    }
}

/// A text object: `type` plain_text (or mrkdwn unless `plain_only`) and a
/// non-empty `text` of at most `max` characters.
fn text_object(v: &Value, max: usize, plain_only: bool) -> Result<(), ApiError> {
    let kind_ok = match v["type"].as_str() {
        Some("plain_text") => true,
        Some("mrkdwn") => !plain_only,
        _ => false,
    };
    let text_ok = v["text"]
        .as_str()
        .is_some_and(|t| !t.is_empty() && t.chars().count() <= max);
    if kind_ok && text_ok {
        Ok(())
    } else {
        Err(ApiError::InvalidBlocks)
    }
}

/// An id Slack would make up for an unnamed block or button (stable per
/// position, so a test can predict it).
fn generated_id(prefix: &str, index: usize) -> String {
    format!("sim-{prefix}{index}")
}

/// The button with `action_id` in `blocks`, and its block's id.
pub(crate) fn find_button<'a>(
    blocks: &'a [Value],
    action_id: &str,
) -> Option<(&'a str, &'a Value)> {
    blocks.iter().find_map(|block| {
        if block["type"] != "actions" {
            return None;
        }
        let button = block["elements"]
            .as_array()?
            .iter()
            .find(|e| e["action_id"] == action_id)?;
        Some((block["block_id"].as_str()?, button))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(action_id: &str, label: &str) -> Value {
        json!({ "type": "button", "action_id": action_id, "value": "v",
                "text": { "type": "plain_text", "text": label } })
    }

    fn actions(elements: Vec<Value>) -> Value {
        json!({ "type": "actions", "elements": elements })
    }

    #[test]
    fn good_blocks_pass_and_get_ids() {
        let blocks = json!([
            { "type": "section", "text": { "type": "mrkdwn", "text": "*run* `ls`" } },
            actions(vec![button("allow", "Allow"), json!({
                "type": "button", "style": "danger",
                "text": { "type": "plain_text", "text": "Deny" } })]),
        ]);
        let out = parse(Some(blocks)).unwrap().unwrap();
        assert_eq!(out[0]["block_id"], "sim-b0");
        assert_eq!(out[1]["elements"][1]["action_id"], "sim-a1");
        let (block_id, b) = find_button(&out, "allow").unwrap();
        assert_eq!((block_id, &b["value"]), ("sim-b1", &json!("v")));
        let as_text = Value::String(json!([{ "type": "divider" }]).to_string());
        assert_eq!(parse(Some(as_text)).unwrap().unwrap().len(), 1);
        assert_eq!(parse(None), Ok(None));
        assert_eq!(parse(Some(json!([]))), Ok(Some(Vec::new())));
    }

    #[test]
    fn slacks_limits_are_enforced() {
        let bad = |blocks: Value| parse(Some(blocks)).unwrap_err();
        let long = |n: usize| "x".repeat(n);
        assert_eq!(
            bad(json!({ "type": "divider" })),
            ApiError::InvalidBlocksFormat
        );
        assert_eq!(bad(json!("[nope")), ApiError::InvalidBlocksFormat);
        let many: Vec<Value> = (0..51).map(|_| json!({ "type": "divider" })).collect();
        assert_eq!(
            parse(Some(json!(many))).unwrap_err(),
            ApiError::InvalidBlocks
        );
        let buttons: Vec<Value> = (0..26).map(|i| button(&format!("a{i}"), "x")).collect();
        assert_eq!(bad(json!([actions(buttons)])), ApiError::InvalidBlocks);
        assert_eq!(
            bad(json!([actions(vec![button(&long(256), "x")])])),
            ApiError::InvalidBlocks
        );
        assert!(parse(Some(json!([actions(vec![button(&long(255), "x")])]))).is_ok());
        assert_eq!(
            bad(json!([actions(vec![button("a", &long(76))])])),
            ApiError::InvalidBlocks
        );
        let mut big_value = button("a", "x");
        big_value["value"] = json!(long(2_001));
        assert_eq!(
            bad(json!([actions(vec![big_value])])),
            ApiError::InvalidBlocks
        );
        let mut styled = button("a", "x");
        styled["style"] = json!("secondary");
        assert_eq!(bad(json!([actions(vec![styled])])), ApiError::InvalidBlocks);
        let mut mrkdwn_label = button("a", "x");
        mrkdwn_label["text"]["type"] = json!("mrkdwn");
        assert_eq!(
            bad(json!([actions(vec![mrkdwn_label])])),
            ApiError::InvalidBlocks
        );
        assert_eq!(
            bad(json!([actions(vec![button("a", "x"), button("a", "y")])])),
            ApiError::InvalidBlocks
        );
        assert_eq!(bad(json!([actions(vec![])])), ApiError::InvalidBlocks);
        assert_eq!(bad(json!([{ "type": "section" }])), ApiError::InvalidBlocks);
        assert_eq!(bad(json!([{ "type": "video" }])), ApiError::InvalidBlocks);
        let twice =
            json!([{ "type": "divider", "block_id": "d" }, { "type": "divider", "block_id": "d" }]);
        assert_eq!(bad(twice), ApiError::InvalidBlocks);
    }
}
