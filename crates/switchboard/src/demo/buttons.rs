//! The demo's buttons: reading a message's buttons off what the simulated
//! platform stores (Discord action rows, Slack Block Kit), showing them as
//! numbered choices in the terminal, and the key (`1`, `2`, ...) that
//! picks one.
//!
//! Owns no I/O: the views print what [`numbered`] returns, and the
//! platform's world clicks the button [`choice_key`] names through its
//! simulator (never through the broker).

use serde_json::Value;

/// One button of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Button {
    pub label: String,
    /// Discord's `custom_id`, Slack's `action_id`.
    pub id: String,
}

/// The buttons of a Discord message's components, in order (rows of type
/// 1 holding buttons of type 2).
pub fn discord_buttons(components: &Value) -> Vec<Button> {
    let rows = components.as_array().map_or(&[][..], Vec::as_slice);
    rows.iter()
        .filter(|row| row["type"] == 1)
        .flat_map(|row| row["components"].as_array().map_or(&[][..], Vec::as_slice))
        .filter(|c| c["type"] == 2)
        .filter_map(|c| {
            Some(Button {
                label: c["label"].as_str().unwrap_or_default().to_owned(),
                id: c["custom_id"].as_str()?.to_owned(),
            })
        })
        .collect()
}

/// The buttons of a Slack message's blocks, in order (the elements of type
/// `button` in its `actions` blocks).
pub fn slack_buttons(blocks: &[Value]) -> Vec<Button> {
    blocks
        .iter()
        .filter(|block| block["type"] == "actions")
        .flat_map(|block| block["elements"].as_array().map_or(&[][..], Vec::as_slice))
        .filter(|e| e["type"] == "button")
        .filter_map(|e| {
            Some(Button {
                label: e["text"]["text"].as_str().unwrap_or_default().to_owned(),
                id: e["action_id"].as_str()?.to_owned(),
            })
        })
        .collect()
}

/// How a message's buttons show in the terminal: `[1] Allow once  [2] ...`
/// (empty for none).
pub fn numbered(buttons: &[Button]) -> String {
    buttons
        .iter()
        .enumerate()
        .map(|(i, b)| format!("[{}] {}", i + 1, b.label))
        .collect::<Vec<_>>()
        .join("  ")
}

/// A message's text as the terminal shows it: the text, then its buttons
/// numbered on a line of their own.
pub fn with_choices(text: &str, buttons: &[Button]) -> String {
    if buttons.is_empty() {
        text.to_owned()
    } else {
        format!("{text}\n{}", numbered(buttons))
    }
}

/// The button a typed line picks: a lone digit 1-9 (1-based).
pub fn choice_key(line: &str) -> Option<usize> {
    match line.trim().as_bytes() {
        [digit @ b'1'..=b'9'] => Some(usize::from(digit - b'0')),
        _ => None,
    }
}

/// What the person is told when they pick `n` of `buttons`.
pub fn clicked(n: usize, buttons: &[Button]) -> Result<&Button, String> {
    buttons.get(n.wrapping_sub(1)).ok_or_else(|| {
        format!(
            "(the open prompt has {} choices: {})",
            buttons.len(),
            numbered(buttons)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn button(label: &str, id: &str) -> Button {
        Button {
            label: label.into(),
            id: id.into(),
        }
    }

    #[test]
    fn discord_rows_and_slack_actions_read_as_buttons_in_order() {
        let rows = json!([
            {"type": 1, "components": [
                {"type": 2, "style": 3, "label": "Allow once", "custom_id": "sbp:1:0:aa"},
                {"type": 2, "style": 3, "label": "Always allow", "custom_id": "sbp:1:1:bb"},
            ]},
            {"type": 1, "components": [
                {"type": 2, "style": 4, "label": "Reject once", "custom_id": "sbp:1:2:cc"},
            ]},
        ]);
        assert_eq!(
            discord_buttons(&rows),
            vec![
                button("Allow once", "sbp:1:0:aa"),
                button("Always allow", "sbp:1:1:bb"),
                button("Reject once", "sbp:1:2:cc"),
            ]
        );
        assert!(discord_buttons(&json!([])).is_empty());
        let blocks = [
            json!({"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}),
            json!({"type": "actions", "elements": [
                {"type": "button", "action_id": "sbp:1:0:aa",
                 "text": {"type": "plain_text", "text": "Allow once"}},
                {"type": "button", "action_id": "sbp:1:1:bb",
                 "text": {"type": "plain_text", "text": "Reject once"}},
            ]}),
        ];
        assert_eq!(
            slack_buttons(&blocks),
            vec![
                button("Allow once", "sbp:1:0:aa"),
                button("Reject once", "sbp:1:1:bb")
            ]
        );
    }

    #[test]
    fn choices_are_numbered_and_a_lone_digit_picks_one() {
        let buttons = [button("Allow once", "a"), button("Reject once", "r")];
        assert_eq!(
            with_choices("🔐 Permission needed", &buttons),
            "🔐 Permission needed\n[1] Allow once  [2] Reject once"
        );
        assert_eq!(with_choices("plain", &[]), "plain");
        assert_eq!(choice_key("1"), Some(1));
        assert_eq!(choice_key(" 3 "), Some(3));
        for not_a_key in ["0", "10", "1.", "one", ""] {
            assert_eq!(choice_key(not_a_key), None, "{not_a_key:?}");
        }
        assert_eq!(clicked(2, &buttons), Ok(&buttons[1]));
        assert_eq!(
            clicked(3, &buttons),
            Err("(the open prompt has 2 choices: [1] Allow once  [2] Reject once)".to_owned())
        );
    }
}
