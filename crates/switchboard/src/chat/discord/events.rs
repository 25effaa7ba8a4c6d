//! Gateway dispatches and REST messages -> [`ChatMessage`]s. Only the fields the broker needs
//! are read; everything else in the payload is ignored.

use twilight_model::channel::Message;

use crate::chat::{Author, ChatMessage, MentionedRole, Platform};

/// Map a MESSAGE_CREATE dispatch's JSON (`d`) to a chat event.
/// `bot_user_id` is this bot's id from READY, when known; `parent` is the
/// parent channel when the message's channel is a known thread.
pub fn message_create(
    message: &Message,
    bot_user_id: Option<u64>,
    parent: Option<u64>,
) -> ChatMessage {
    let author_id = message.author.id.get();
    let mentions_bot =
        bot_user_id.is_some_and(|bot| message.mentions.iter().any(|m| m.id.get() == bot));
    ChatMessage {
        platform: Platform::Discord,
        id: message.id.to_string(),
        channel_id: message.channel_id.to_string(),
        parent_channel_id: parent.map(|p| p.to_string()),
        guild_id: message.guild_id.map(|g| g.to_string()),
        author: Author {
            id: author_id.to_string(),
            name: message.author.name.clone(),
            is_bot: message.author.bot,
        },
        content: message.content.clone(),
        mentions_bot,
        bot_mention_markup: bot_user_id
            .map(|bot| vec![format!("<@{bot}>"), format!("<@!{bot}>")])
            .unwrap_or_default(),
        mentioned_roles: message
            .mention_roles
            .iter()
            .map(|role| MentionedRole {
                id: role.to_string(),
                markup: format!("<@&{role}>"),
            })
            .collect(),
        from_self: bot_user_id == Some(author_id),
        caught_up: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(author: u64, bot: bool, mentions: &[u64]) -> Message {
        let mentions: Vec<_> = mentions
            .iter()
            .map(|id| serde_json::json!({"id": id.to_string(), "username": "u", "discriminator": "0", "avatar": null, "public_flags": 0}))
            .collect();
        serde_json::from_value(serde_json::json!({
            "id": "1300000000000000100", "channel_id": "1300000000000000002",
            "guild_id": "1300000000000000001",
            "author": {"id": author.to_string(), "username": "alice", "discriminator": "0", "avatar": null, "bot": bot},
            "content": "<@42> hello", "timestamp": "2026-11-28T10:00:00.000000+00:00",
            "edited_timestamp": null, "tts": false, "mention_everyone": false,
            "mentions": mentions, "mention_roles": [], "attachments": [], "embeds": [],
            "pinned": false, "type": 0
        }))
        .expect("a valid MESSAGE_CREATE")
    }

    #[test]
    fn maps_ids_author_and_content() {
        let m = message_create(&payload(7, false, &[42]), Some(42), Some(5));
        assert_eq!(m.parent_channel_id.as_deref(), Some("5"));
        assert_eq!(m.id, "1300000000000000100");
        assert_eq!(m.channel_id, "1300000000000000002");
        assert_eq!(m.guild_id.as_deref(), Some("1300000000000000001"));
        assert_eq!(
            m.author,
            Author {
                id: "7".into(),
                name: "alice".into(),
                is_bot: false
            }
        );
        assert_eq!(m.content, "<@42> hello");
        assert!(m.mentions_bot);
        assert!(!m.from_self);
    }

    #[test]
    fn knows_its_own_messages_and_missing_mentions() {
        let m = message_create(&payload(42, true, &[]), Some(42), None);
        assert!(m.from_self && m.author.is_bot && !m.mentions_bot);
        let m = message_create(&payload(7, false, &[42]), None, None);
        assert!(!m.mentions_bot, "without READY the bot id is unknown");
    }
}
