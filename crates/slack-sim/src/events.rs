//! Turns world changes into Events API events with Slack's rules: every new
//! message is a `message` event (the bot's own posts included, with
//! `bot_id`); a user message naming the bot (`<@BOTID>`) is additionally an
//! `app_mention` (its own envelope and event_id, same ts); an edit is a
//! `message` with subtype `message_changed`, a removal `message_deleted`.
//!
//! Runs under the state lock; never awaits and never builds JSON shapes
//! itself (that is `payloads`).

use crate::config::SlackSimConfig;
use crate::delivery;
use crate::payloads;
use crate::state::State;
use crate::world::StoredMessage;

/// Whether `text` mentions `user_id` as Slack encodes it: `<@U123>` or
/// `<@U123|name>`.
pub(crate) fn mentions(text: &str, user_id: &str) -> bool {
    text.match_indices("<@").any(|(i, _)| {
        text[i + 2..]
            .strip_prefix(user_id)
            .is_some_and(|rest| rest.starts_with('>') || rest.starts_with('|'))
    })
}

/// A user's new message: `app_mention` (if it names the bot) and `message`.
pub(crate) fn user_message(s: &mut State, config: &SlackSimConfig, m: &StoredMessage) {
    if mentions(&m.sim.text, &config.bot_user_id) {
        let event = payloads::app_mention_event(config, m);
        delivery::deliver_event(s, config, event);
    }
    let event = payloads::message_event(config, m);
    delivery::deliver_event(s, config, event);
}

/// The bot's own new message (from `chat.postMessage`).
pub(crate) fn bot_message(s: &mut State, config: &SlackSimConfig, m: &StoredMessage) {
    let event = payloads::message_event(config, m);
    delivery::deliver_event(s, config, event);
}

/// An edit (from `chat.update`).
pub(crate) fn message_changed(
    s: &mut State,
    config: &SlackSimConfig,
    before: &StoredMessage,
    after: &StoredMessage,
) {
    let event_ts = after.edited.unwrap_or_else(|| s.world.next_ts());
    let event = payloads::message_changed_event(config, before, after, event_ts);
    delivery::deliver_event(s, config, event);
}

/// A removal (response_url `delete_original`).
pub(crate) fn message_deleted(s: &mut State, config: &SlackSimConfig, deleted: &StoredMessage) {
    let event_ts = s.world.next_ts();
    let event = payloads::message_deleted_event(config, deleted, event_ts);
    delivery::deliver_event(s, config, event);
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn mention_forms() {
        assert!(mentions("<@U0BOT> hi", "U0BOT"));
        assert!(mentions("hey <@U0BOT|switchboard>", "U0BOT"));
        assert!(!mentions("<@U0BOTX> hi", "U0BOT"));
        assert!(!mentions("U0BOT", "U0BOT"));
        assert!(!mentions("<@U0BO", "U0BOT"));
    }
}
