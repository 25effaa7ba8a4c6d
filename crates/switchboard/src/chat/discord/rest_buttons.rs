//! Discord REST for buttons: a message with components (one action row of
//! buttons), closing it (its components removed), and the answers to an
//! interaction (the callback, then the interaction's webhook once the
//! callback was deferred). Owns the JSON of components and callbacks; never
//! decides which answer a click gets.

use reqwest::Method;
use serde_json::{Value, json};

use super::rest::{DiscordRest, Made, RestError, channel_id_of, ids};
use super::route::{Route, RouteKind};
use crate::chat::{ButtonStyle, PromptButton};

/// Discord's limits: 5 buttons in an action row, 5 rows, 80-character
/// labels.
const BUTTONS_PER_ROW: usize = 5;
const MAX_ROWS: usize = 5;
const MAX_LABEL_CHARS: usize = 80;

/// Interaction callback types (Discord's numbers).
pub const CALLBACK_CHANNEL_MESSAGE: u8 = 4;
pub const CALLBACK_DEFERRED_MESSAGE: u8 = 5;
pub const CALLBACK_DEFERRED_UPDATE: u8 = 6;
pub const CALLBACK_UPDATE_MESSAGE: u8 = 7;
/// The message flag that shows a message to the interaction's user only.
pub const EPHEMERAL: u64 = 1 << 6;

/// Action rows of buttons (Discord's component JSON). Beyond 25 buttons the
/// rest are left out (no agent offers that many options).
pub fn action_rows(buttons: &[PromptButton]) -> Value {
    let rows: Vec<Value> = buttons
        .chunks(BUTTONS_PER_ROW)
        .take(MAX_ROWS)
        .map(|row| {
            let components: Vec<Value> = row
                .iter()
                .map(|b| {
                    json!({
                        "type": 2,
                        // 3: success (green), 4: danger (red).
                        "style": match b.style { ButtonStyle::Allow => 3, ButtonStyle::Reject => 4 },
                        "label": b.label.chars().take(MAX_LABEL_CHARS).collect::<String>(),
                        "custom_id": b.id,
                    })
                })
                .collect();
            json!({ "type": 1, "components": components })
        })
        .collect();
    Value::Array(rows)
}

impl DiscordRest {
    /// Post `content` with buttons; returns the new message id. `nonce`
    /// as in [`DiscordRest::create_message`].
    pub async fn create_message_with_buttons(
        &self,
        channel_id: u64,
        content: &str,
        nonce: &str,
        buttons: &[PromptButton],
    ) -> Result<u64, RestError> {
        let channel = channel_id_of(channel_id)?.to_string();
        let url = self.url(&["channels", &channel, "messages"], &[])?;
        let body = json!({
            "content": content,
            "nonce": nonce,
            "enforce_nonce": true,
            "components": action_rows(buttons),
        });
        let route = Route::channel(RouteKind::CreateMessage, channel_id);
        let made: Made = self.call(Method::POST, route, url, Some(body)).await?;
        Ok(made.id.get())
    }

    /// Replace a message's content and remove its components.
    pub async fn close_buttons(
        &self,
        channel_id: u64,
        message_id: u64,
        content: &str,
    ) -> Result<(), RestError> {
        let (channel, message) = ids(channel_id, message_id)?;
        let url = self.url(&["channels", &channel, "messages", &message], &[])?;
        let route = Route::channel(RouteKind::EditMessage, channel_id);
        let body = json!({ "content": content, "components": [] });
        self.call_empty(Method::PATCH, route, url, Some(body)).await
    }

    /// The interaction's initial answer (within 3 s of its creation).
    pub async fn interaction_callback(
        &self,
        interaction_id: u64,
        token: &str,
        kind: u8,
        data: Option<Value>,
    ) -> Result<(), RestError> {
        let id = interaction_id.to_string();
        let url = self.url(&["interactions", &id, token, "callback"], &[])?;
        let mut body = json!({ "type": kind });
        if let Some(data) = data {
            body["data"] = data;
        }
        let route = Route::channel(RouteKind::InteractionCallback, interaction_id);
        self.call_empty(Method::POST, route, url, Some(body)).await
    }

    /// Edit the interaction's original message (after a deferred callback;
    /// the token lives 15 minutes).
    pub async fn interaction_edit_original(
        &self,
        application_id: u64,
        token: &str,
        data: Value,
    ) -> Result<(), RestError> {
        let app = application_id.to_string();
        let url = self.url(&["webhooks", &app, token, "messages", "@original"], &[])?;
        let route = Route::channel(RouteKind::InteractionWebhook, application_id);
        self.call_empty(Method::PATCH, route, url, Some(data)).await
    }

    /// A follow-up message to the interaction (after its callback).
    pub async fn interaction_followup(
        &self,
        application_id: u64,
        token: &str,
        data: Value,
    ) -> Result<(), RestError> {
        let app = application_id.to_string();
        let url = self.url(&["webhooks", &app, token], &[])?;
        let route = Route::channel(RouteKind::InteractionWebhook, application_id);
        self.call_empty(Method::POST, route, url, Some(data)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buttons_go_five_to_a_row_with_their_style_and_a_cut_label() {
        let buttons: Vec<PromptButton> = (0..7)
            .map(|i| PromptButton {
                id: format!("b{i}"),
                label: "x".repeat(100),
                style: if i == 0 {
                    ButtonStyle::Allow
                } else {
                    ButtonStyle::Reject
                },
            })
            .collect();
        let rows = action_rows(&buttons);
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0]["components"].as_array().unwrap().len(), 5);
        assert_eq!(rows[1]["components"].as_array().unwrap().len(), 2);
        assert_eq!(rows[0]["components"][0]["style"], 3);
        assert_eq!(rows[0]["components"][1]["style"], 4);
        assert_eq!(
            rows[0]["components"][0]["label"].as_str().unwrap().len(),
            80
        );
        assert_eq!(rows[1]["components"][1]["custom_id"], "b6");
    }
}
