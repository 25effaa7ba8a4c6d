//! Slack message objects (from an Events API `message`/`app_mention` event,
//! or from conversations.history/.replies) -> [`ChatMessage`].
//!
//! Owns which Slack messages the broker sees as new messages and how their
//! ids, thread, author and mentions are named. Pure: no I/O. Must never
//! decide gating (bots, allowlists): it only reports what the message is.
//!
//! Accepted: no subtype, `thread_broadcast`, `file_share`, `bot_message`.
//! Everything else (`message_changed`, `message_deleted`, `channel_join`,
//! hidden messages, ...) is not a new message and maps to `None`.

use serde_json::Value;

use super::ids;
use super::web::BotIdentity;
use crate::chat::{Author, ChatMessage, MentionedRole, Platform};

/// Subtypes that are a new message someone posted.
const NEW_MESSAGE_SUBTYPES: [&str; 3] = ["thread_broadcast", "file_share", "bot_message"];

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
    channel: &str,
    message: &Value,
    identity: &BotIdentity,
    caught_up: bool,
) -> Option<ChatMessage> {
    let field = |name: &str| {
        message
            .get(name)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
    };
    if let Some(subtype) = field("subtype")
        && !NEW_MESSAGE_SUBTYPES.contains(&subtype)
    {
        return None;
    }
    if message.get("hidden").and_then(Value::as_bool) == Some(true) || channel.is_empty() {
        return None;
    }
    let ts = field("ts")?;
    let user = field("user");
    let bot_id = field("bot_id");
    let author_id = user.or(bot_id)?;
    let raw_text = field("text").unwrap_or_default();
    let (channel_id, parent_channel_id) = match field("thread_ts") {
        Some(root) if root != ts => (ids::message_id(channel, root), Some(channel.to_owned())),
        _ => (channel.to_owned(), None),
    };
    let bot_mention_markup = user_mentions(raw_text, &identity.user_id);
    Some(ChatMessage {
        platform: Platform::Slack,
        id: ids::message_id(channel, ts),
        channel_id,
        parent_channel_id,
        guild_id: field("team").map(str::to_owned),
        author: Author {
            id: author_id.to_owned(),
            name: author_name(message).unwrap_or(author_id).to_owned(),
            is_bot: bot_id.is_some(),
        },
        content: unescape(raw_text),
        mentions_bot: !bot_mention_markup.is_empty(),
        bot_mention_markup,
        mentioned_roles: group_mentions(raw_text),
        from_self: user == Some(identity.user_id.as_str())
            || (bot_id.is_some() && bot_id == identity.bot_id.as_deref()),
        caught_up,
    })
}

/// The display name Slack sent along, if any.
fn author_name(message: &Value) -> Option<&str> {
    [
        "/user_profile/display_name",
        "/user_profile/real_name",
        "/username",
        "/bot_profile/name",
    ]
    .into_iter()
    .filter_map(|pointer| message.pointer(pointer).and_then(Value::as_str))
    .find(|name| !name.is_empty())
}

/// Each `<...>` markup in `text` that starts with `prefix`, with the id it
/// names (what follows the prefix, up to `|` or `>`).
fn markups<'a>(text: &'a str, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
    text.match_indices(prefix).filter_map(move |(start, _)| {
        let len = text[start..].find('>')? + 1;
        let markup = &text[start..start + len];
        let inner = &markup[prefix.len()..len - 1];
        let id = inner.split('|').next().unwrap_or(inner);
        (!id.is_empty()).then_some((markup, id))
    })
}

/// The distinct markups (`<@U1>`, `<@U1|name>`) that mention `user_id`.
fn user_mentions(text: &str, user_id: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for (markup, id) in markups(text, "<@") {
        if id == user_id && !found.iter().any(|m| m == markup) {
            found.push(markup.to_owned());
        }
    }
    found
}

/// User-group mentions (`<!subteam^S1>`, `<!subteam^S1|@team>`), Slack's
/// closest thing to a mentioned role.
fn group_mentions(text: &str) -> Vec<MentionedRole> {
    let mut roles: Vec<MentionedRole> = Vec::new();
    for (markup, id) in markups(text, "<!subteam^") {
        if !roles.iter().any(|role| role.markup == markup) {
            roles.push(MentionedRole {
                id: id.to_owned(),
                markup: markup.to_owned(),
            });
        }
    }
    roles
}

/// Slack's escaping undone: `&lt;` `&gt;` `&amp;` (in one pass, so
/// `&amp;lt;` becomes `&lt;`, as typed).
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let (plain, len) = if tail.starts_with("&lt;") {
            ('<', 4)
        } else if tail.starts_with("&gt;") {
            ('>', 4)
        } else if tail.starts_with("&amp;") {
            ('&', 5)
        } else {
            ('&', 1)
        };
        out.push(plain);
        rest = &tail[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bot() -> BotIdentity {
        BotIdentity {
            user_id: "U0BOT".into(),
            bot_id: Some("B0BOT".into()),
            team_id: "T1".into(),
        }
    }

    fn map(message: Value) -> Option<ChatMessage> {
        chat_message("C1", &message, &bot(), false)
    }

    #[test]
    fn a_channel_mention_is_a_top_level_message_that_mentions_the_bot() {
        let m = map(json!({
            "type": "app_mention", "user": "U1", "ts": "1700000000.000100",
            "text": "<@U0BOT> fix &lt;this&gt; &amp; that", "team": "T1",
        }))
        .unwrap();
        assert_eq!(m.platform, Platform::Slack);
        assert_eq!(m.id, "C1:1700000000.000100");
        assert_eq!(m.channel_id, "C1");
        assert_eq!(m.parent_channel_id, None);
        assert_eq!(m.guild_id.as_deref(), Some("T1"));
        assert_eq!(m.content, "<@U0BOT> fix <this> & that");
        assert!(m.mentions_bot);
        assert_eq!(m.bot_mention_markup, ["<@U0BOT>"]);
        assert_eq!(m.author.id, "U1");
        assert_eq!(m.author.name, "U1", "no profile: the id stands in");
        assert!(!m.author.is_bot && !m.from_self && !m.caught_up);
    }

    #[test]
    fn a_reply_is_keyed_by_its_thread_root() {
        let m = map(json!({
            "type": "message", "user": "U1", "ts": "2.000000", "thread_ts": "1.000000",
            "text": "more", "user_profile": { "display_name": "", "real_name": "Ada" },
        }))
        .unwrap();
        assert_eq!(m.id, "C1:2.000000");
        assert_eq!(m.channel_id, "C1:1.000000");
        assert_eq!(m.parent_channel_id.as_deref(), Some("C1"));
        assert_eq!(m.author.name, "Ada");
        assert!(!m.mentions_bot);
        // A thread's root carries thread_ts == ts: still top-level.
        let root =
            map(json!({ "user": "U1", "ts": "1.000000", "thread_ts": "1.000000", "text": "q" }))
                .unwrap();
        assert_eq!(root.channel_id, "C1");
        assert_eq!(root.parent_channel_id, None);
    }

    #[test]
    fn bots_and_the_bot_itself() {
        let own =
            map(json!({ "user": "U0BOT", "bot_id": "B0BOT", "ts": "1.1", "text": "hi" })).unwrap();
        assert!(own.from_self && own.author.is_bot);
        let own_by_bot_id =
            map(json!({ "subtype": "bot_message", "bot_id": "B0BOT", "ts": "1.2", "text": "x" }))
                .unwrap();
        assert!(own_by_bot_id.from_self);
        assert_eq!(own_by_bot_id.author.id, "B0BOT");
        let other = map(json!({
            "subtype": "bot_message", "bot_id": "B9", "username": "ci", "ts": "1.3",
            "text": "<@U0BOT|switchboard> build failed",
        }))
        .unwrap();
        assert!(other.author.is_bot && !other.from_self);
        assert_eq!(other.author.name, "ci");
        assert_eq!(other.bot_mention_markup, ["<@U0BOT|switchboard>"]);
    }

    #[test]
    fn only_new_messages_pass() {
        for subtype in ["thread_broadcast", "file_share"] {
            assert!(
                map(json!({ "subtype": subtype, "user": "U1", "ts": "1.1", "text": "x" }))
                    .is_some(),
                "{subtype}"
            );
        }
        for subtype in [
            "message_changed",
            "message_deleted",
            "channel_join",
            "bot_add",
        ] {
            assert!(
                map(json!({ "subtype": subtype, "user": "U1", "ts": "1.1", "text": "x" }))
                    .is_none(),
                "{subtype}"
            );
        }
        assert!(map(json!({ "user": "U1", "text": "no ts" })).is_none());
        assert!(map(json!({ "ts": "1.1", "text": "no author" })).is_none());
        assert!(map(json!({ "hidden": true, "user": "U1", "ts": "1.1" })).is_none());
        assert!(chat_message("", &json!({ "user": "U1", "ts": "1.1" }), &bot(), false).is_none());
    }

    #[test]
    fn mentions_of_others_and_groups_are_kept_apart() {
        let m = map(json!({
            "user": "U1", "ts": "1.1",
            "text": "<@U0BOTX> <@U0BOT> <@U0BOT> <!subteam^S1|@devs> <!here> <@U0BOT",
        }))
        .unwrap();
        assert_eq!(m.bot_mention_markup, ["<@U0BOT>"], "deduplicated, exact id");
        assert_eq!(
            m.mentioned_roles,
            [MentionedRole {
                id: "S1".into(),
                markup: "<!subteam^S1|@devs>".into()
            }]
        );
        let caught =
            chat_message("C1", &json!({ "user": "U1", "ts": "1.1" }), &bot(), true).unwrap();
        assert!(caught.caught_up);
        assert_eq!(caught.content, "");
    }

    #[test]
    fn unescaping_is_one_pass_and_leaves_other_entities() {
        assert_eq!(unescape("a &amp;lt; b"), "a &lt; b");
        assert_eq!(unescape("&lt;&gt;&amp;&quot; & &"), "<>&&quot; & &");
        assert_eq!(unescape("漢字 &amp; ✓"), "漢字 & ✓");
    }
}
