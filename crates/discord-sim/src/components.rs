//! Message components as Discord validates them on create/edit message and
//! on interaction answers: up to 5 action rows (type 1); a row holds up to 5
//! buttons (type 2) or one select menu (types 3, 5-8); a button has a
//! style 1-5, a label of at most 80 characters, and a `custom_id` (1-100
//! characters, unique in the message) unless it is a link (style 5, `url`
//! instead). Components get sequential numeric `id`s when they have none,
//! as Discord fills them in.
//!
//! Pure validation of JSON into the stored shape; it must never touch
//! state. Errors are rooted at the body's `components` field.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::form_error::{FormError, check_len};

pub(crate) const MAX_ROWS: usize = 5;
pub(crate) const MAX_ROW_WIDTH: usize = 5;
pub(crate) const MAX_CUSTOM_ID: usize = 100;
pub(crate) const MAX_LABEL: usize = 80;

const ACTION_ROW: u64 = 1;
const BUTTON: u64 = 2;
const SELECT_MENUS: [u64; 5] = [3, 5, 6, 7, 8];
const LINK_STYLE: u64 = 5;

/// Validates a `components` field; returns the rows as they are stored and
/// sent back.
pub(crate) fn validate(components: &Value) -> Result<Value, FormError> {
    validate_rows(components).map_err(|e| e.under("components"))
}

fn validate_rows(components: &Value) -> Result<Value, FormError> {
    let Some(rows) = components.as_array() else {
        return Err(FormError::new("BASE_TYPE_ARRAY", "Must be an array."));
    };
    if rows.len() > MAX_ROWS {
        return Err(FormError::max_length(MAX_ROWS));
    }
    let mut next_id = 1;
    let mut custom_ids = HashSet::new();
    let mut out = Vec::with_capacity(rows.len());
    for (index, row) in rows.iter().enumerate() {
        let row = validate_row(row, &mut next_id, &mut custom_ids).map_err(|e| e.under(index))?;
        out.push(row);
    }
    Ok(Value::Array(out))
}

fn kind_of(component: &Value) -> Result<u64, FormError> {
    match component.get("type") {
        None | Some(Value::Null) => Err(FormError::required().under("type")),
        Some(t) => t.as_u64().ok_or_else(|| {
            FormError::new("NUMBER_TYPE_COERCE", format!("Value \"{t}\" is not int.")).under("type")
        }),
    }
}

fn validate_row(
    row: &Value,
    next_id: &mut i64,
    custom_ids: &mut HashSet<String>,
) -> Result<Value, FormError> {
    if kind_of(row)? != ACTION_ROW {
        return Err(FormError::new(
            "UNION_TYPE_CHOICES",
            "Value of field \"type\" must be one of (1,).",
        )
        .under("type"));
    }
    let children = row
        .get("components")
        .and_then(Value::as_array)
        .ok_or_else(|| FormError::required().under("components"))?;
    if children.is_empty() || children.len() > MAX_ROW_WIDTH {
        return Err(FormError::bad_length(1, MAX_ROW_WIDTH).under("components"));
    }
    let mut out_row = json!({ "type": ACTION_ROW, "id": take_id(row, next_id) });
    let mut out_children = Vec::with_capacity(children.len());
    for (index, child) in children.iter().enumerate() {
        let kind = kind_of(child).map_err(|e| e.under(index).under("components"))?;
        let validated = if kind == BUTTON {
            validate_button(child, next_id, custom_ids)
        } else if SELECT_MENUS.contains(&kind) {
            if children.len() > 1 {
                return Err(FormError::new(
                    "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                    "The specified component exceeds the maximum width",
                )
                .under(index)
                .under("components"));
            }
            validate_select(child, next_id, custom_ids)
        } else {
            Err(FormError::new(
                "UNION_TYPE_CHOICES",
                "Value of field \"type\" must be one of (2, 3, 5, 6, 7, 8).",
            )
            .under("type"))
        };
        out_children.push(validated.map_err(|e| e.under(index).under("components"))?);
    }
    out_row["components"] = Value::Array(out_children);
    Ok(out_row)
}

/// The component's own `id` if given, else the next sequential one.
fn take_id(component: &Value, next_id: &mut i64) -> i64 {
    let id = component
        .get("id")
        .and_then(Value::as_i64)
        .unwrap_or(*next_id);
    *next_id = (*next_id).max(id) + 1;
    id
}

fn check_custom_id(
    component: &Value,
    custom_ids: &mut HashSet<String>,
) -> Result<String, FormError> {
    check_len(component.get("custom_id"), "custom_id", 1, MAX_CUSTOM_ID)?;
    let custom_id = component["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !custom_ids.insert(custom_id.clone()) {
        return Err(FormError::new(
            "COMPONENT_CUSTOM_ID_DUPLICATED",
            "Component custom id cannot be duplicated",
        )
        .under("custom_id"));
    }
    Ok(custom_id)
}

fn validate_button(
    button: &Value,
    next_id: &mut i64,
    custom_ids: &mut HashSet<String>,
) -> Result<Value, FormError> {
    let style = match button.get("style").and_then(Value::as_u64) {
        Some(s @ 1..=5) => s,
        Some(_) => {
            return Err(FormError::new(
                "BUTTON_COMPONENT_INVALID_STYLE",
                "Value must be one of (1, 2, 3, 4, 5).",
            )
            .under("style"));
        }
        None => return Err(FormError::required().under("style")),
    };
    check_len(button.get("label"), "label", 0, MAX_LABEL)?;
    if button.get("label").is_none_or(Value::is_null) && button.get("emoji").is_none() {
        return Err(FormError::new(
            "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED",
            "A label or an emoji is required",
        ));
    }
    let mut out = json!({ "type": BUTTON, "id": take_id(button, next_id), "style": style });
    if style == LINK_STYLE {
        if button.get("custom_id").is_some_and(|c| !c.is_null()) {
            return Err(FormError::new(
                "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                "A custom id cannot be set for link buttons",
            )
            .under("custom_id"));
        }
        check_len(button.get("url"), "url", 1, 512)?;
        out["url"] = button["url"].clone();
    } else {
        out["custom_id"] = json!(check_custom_id(button, custom_ids)?);
    }
    for field in ["label", "emoji"] {
        if let Some(v) = button.get(field).filter(|v| !v.is_null()) {
            out[field] = v.clone();
        }
    }
    out["disabled"] = json!(
        button
            .get("disabled")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    );
    Ok(out)
}

fn validate_select(
    select: &Value,
    next_id: &mut i64,
    custom_ids: &mut HashSet<String>,
) -> Result<Value, FormError> {
    check_custom_id(select, custom_ids)?;
    let mut out = select.clone();
    out["id"] = json!(take_id(select, next_id));
    Ok(out)
}

/// The custom ids of every button in stored rows, in order.
pub(crate) fn button_custom_ids(rows: &Value) -> Vec<String> {
    rows.as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().into_iter().flatten())
        .filter(|c| c["type"] == BUTTON)
        .filter_map(|c| c["custom_id"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn button(custom_id: &str) -> Value {
        json!({ "type": 2, "style": 1, "label": "Go", "custom_id": custom_id })
    }

    fn row(buttons: Vec<Value>) -> Value {
        json!({ "type": 1, "components": buttons })
    }

    fn error_of(components: Value) -> FormError {
        validate(&components).unwrap_err()
    }

    #[test]
    fn valid_rows_get_ids_and_defaults() {
        let rows = validate(&json!([row(vec![button("a"), button("b")])])).unwrap();
        assert_eq!(rows[0]["id"], 1);
        assert_eq!(rows[0]["components"][1]["id"], 3);
        assert_eq!(rows[0]["components"][0]["disabled"], false);
        assert_eq!(button_custom_ids(&rows), vec!["a", "b"]);
    }

    #[test]
    fn discord_limits_are_enforced() {
        let e = error_of(json!([row(vec![
            json!({ "type": 2, "style": 1, "label": "x" })
        ])]));
        assert_eq!(e.code, "BASE_TYPE_REQUIRED");
        assert_eq!(e.path, ["components", "0", "components", "0", "custom_id"]);
        let long = "x".repeat(101);
        assert_eq!(
            error_of(json!([row(vec![button(&long)])])).message,
            "Must be between 1 and 100 in length."
        );
        let six: Vec<Value> = (0..6).map(|i| button(&i.to_string())).collect();
        assert_eq!(error_of(json!([row(six)])).code, "BASE_TYPE_BAD_LENGTH");
        let rows: Vec<Value> = (0..6).map(|i| row(vec![button(&i.to_string())])).collect();
        let e = error_of(Value::Array(rows));
        assert_eq!((e.code, e.path.len()), ("BASE_TYPE_MAX_LENGTH", 1));
        let mut labelled = button("a");
        labelled["label"] = json!("l".repeat(81));
        assert_eq!(
            error_of(json!([row(vec![labelled])])).path.last().unwrap(),
            "label"
        );
        assert_eq!(
            error_of(json!([row(vec![button("a"), button("a")])])).code,
            "COMPONENT_CUSTOM_ID_DUPLICATED"
        );
        let link = json!({ "type": 2, "style": 5, "label": "docs", "url": "https://x.test" });
        assert!(validate(&json!([row(vec![link])])).is_ok());
    }
}
