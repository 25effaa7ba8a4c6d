//! Slack message objects (from an Events API `message`/`app_mention` event,
//! or from conversations.history/.replies) -> [`ChatMessage`].
//!
//! SKELETON: signature agreed between the Slack modules; body to be written.

use serde_json::Value;

use super::web::BotIdentity;
use crate::chat::ChatMessage;

/// The broker's view of one Slack message object posted in `channel`, or
/// `None` for what is not a user-visible new message (edits, deletions,
/// joins and other subtypes, objects without a ts).
///
/// Ids follow `ids`: `id` is `channel:ts`; a reply in a thread has
/// `channel_id = channel:thread_ts` and `parent_channel_id = channel`.
/// `mentions_bot` when the text holds `<@{identity.user_id}>` (that markup
/// goes in `bot_mention_markup`); `from_self` when the author is the bot
/// (user id or bot id). Text has Slack's `&amp; &lt; &gt;` unescaped.
pub fn chat_message(
    _channel: &str,
    _message: &Value,
    _identity: &BotIdentity,
    _caught_up: bool,
) -> Option<ChatMessage> {
    todo!("issue 6")
}
