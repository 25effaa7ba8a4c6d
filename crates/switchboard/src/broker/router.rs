//! Who gets an answer: the gating rules that turn one incoming message into
//! a [`Route`]. Pure: no I/O, no state of its own; the caller says which
//! threads switchboard already owns.
//!
//! Order of the rules: own messages, other bots, channel allowlist (a thread
//! inherits its parent's), addressed (a mention, a configured role, or any
//! message in a thread switchboard owns), user allowlist, then commands.

use crate::chat::ChatMessage;
use crate::config::{BotMessages, Gating};

/// A command typed in a thread switchboard owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// `!cancel`: stop the running turn.
    Cancel,
    /// `!reset`: end the agent session; the next message starts fresh.
    Reset,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// Not for us; the reason is for the debug log.
    Ignore(&'static str),
    /// Addressed to us by someone not allowed: react, do not answer.
    Deny,
    /// A mention in a channel: open a thread from this message.
    Start { prompt: String },
    /// A mention inside a thread switchboard does not own yet: answer there.
    Adopt {
        thread_id: String,
        parent_id: String,
        prompt: String,
    },
    /// A message in a thread switchboard owns.
    Continue { thread_id: String, prompt: String },
    /// A command in a thread switchboard owns.
    Command { thread_id: String, command: Command },
}

/// Decide what to do with `message`. `owned_parent(thread_id)` gives the
/// parent channel of a thread switchboard started or has answered in.
pub fn route(
    message: &ChatMessage,
    gating: &Gating,
    owned_parent: impl Fn(&str) -> Option<String>,
) -> Route {
    if message.from_self {
        return Route::Ignore("own message");
    }
    let mentioned = message.mentions_bot
        || message
            .mentioned_roles
            .iter()
            .any(|role| gating.mention_roles.contains(&role.id));
    if message.author.is_bot {
        match gating.allow_bot_messages {
            BotMessages::None => return Route::Ignore("message from a bot"),
            BotMessages::Mentions if !mentioned => {
                return Route::Ignore("bot message without a mention");
            }
            _ => {}
        }
        // Bots are heard only from the trusted list, whatever the user
        // allowlist says (an empty list hears no bot).
        if !gating.trusted_bot_ids.contains(&message.author.id) {
            return Route::Ignore("message from an untrusted bot");
        }
    }
    let owned = owned_parent(&message.channel_id);
    let parent = message.parent_channel_id.clone().or_else(|| owned.clone());
    let home = parent.as_deref().unwrap_or(&message.channel_id);
    if !channel_allowed(gating, home) {
        return Route::Ignore("channel not allowed");
    }
    let thread = parent.as_ref().map(|_| message.channel_id.as_str());
    let owned = owned.is_some();
    if !owned && !mentioned {
        return Route::Ignore("no mention outside a thread switchboard owns");
    }
    // The user allowlist is for people: a bot passes it only by being in
    // `trusted_bot_ids` (checked above), never through `allowed_users` or
    // `allow_all_users`.
    let user_allowed = if message.author.is_bot {
        gating.trusted_bot_ids.contains(&message.author.id)
    } else {
        gating.allow_all_users || gating.allowed_users.contains(&message.author.id)
    };
    if !user_allowed {
        return Route::Deny;
    }
    let prompt = strip_mentions(message, gating);
    match (thread, owned) {
        (Some(thread_id), true) => match prompt.as_str() {
            "!cancel" => Route::Command {
                thread_id: thread_id.to_owned(),
                command: Command::Cancel,
            },
            "!reset" => Route::Command {
                thread_id: thread_id.to_owned(),
                command: Command::Reset,
            },
            _ => Route::Continue {
                thread_id: thread_id.to_owned(),
                prompt,
            },
        },
        (Some(thread_id), false) => Route::Adopt {
            thread_id: thread_id.to_owned(),
            parent_id: home.to_owned(),
            prompt,
        },
        (None, _) => Route::Start { prompt },
    }
}

/// Whether `message` was posted where the bot listens (the channel rule
/// of [`route`] alone: a thread counts as its parent channel) by someone
/// other than the bot: a message that, missed, must be fetched again.
pub fn in_scope(
    message: &ChatMessage,
    gating: &Gating,
    owned_parent: impl Fn(&str) -> Option<String>,
) -> bool {
    if message.from_self {
        return false;
    }
    let parent = message
        .parent_channel_id
        .clone()
        .or_else(|| owned_parent(&message.channel_id));
    channel_allowed(gating, parent.as_deref().unwrap_or(&message.channel_id))
}

fn channel_allowed(gating: &Gating, home: &str) -> bool {
    gating.allow_all_channels || gating.allowed_channels.iter().any(|c| c == home)
}

/// The message text without the markup that addressed the bot (its own
/// mention, and mentions of configured roles), whitespace kept except at
/// the ends. Other mentions stay: they are part of what was said.
pub fn strip_mentions(message: &ChatMessage, gating: &Gating) -> String {
    let mut text = message.content.clone();
    let roles = message
        .mentioned_roles
        .iter()
        .filter(|role| gating.mention_roles.contains(&role.id))
        .map(|role| role.markup.as_str());
    for markup in message
        .bot_mention_markup
        .iter()
        .map(String::as_str)
        .chain(roles)
    {
        text = text.replace(markup, "");
    }
    text.trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::{Author, MentionedRole, Platform};

    const BOT: &str = "42";

    fn gating() -> Gating {
        Gating {
            approver_users: Vec::new(),
            approver_groups: Vec::new(),
            allowed_channels: vec!["100".into()],
            allow_all_channels: false,
            allowed_users: vec!["7".into()],
            allow_all_users: false,
            mention_roles: vec!["900".into()],
            allow_bot_messages: BotMessages::None,
            trusted_bot_ids: vec![],
        }
    }

    fn msg(channel: &str, parent: Option<&str>, author: &str, content: &str) -> ChatMessage {
        ChatMessage {
            platform: Platform::Discord,
            id: "555".into(),
            channel_id: channel.into(),
            parent_channel_id: parent.map(Into::into),
            guild_id: None,
            author: Author {
                id: author.into(),
                name: "alice".into(),
                is_bot: false,
            },
            content: content.into(),
            mentions_bot: content.contains("<@42>") || content.contains("<@!42>"),
            bot_mention_markup: vec![format!("<@{BOT}>"), format!("<@!{BOT}>")],
            mentioned_roles: vec![],
            from_self: author == BOT,
            caught_up: false,
        }
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    fn owns_200(id: &str) -> Option<String> {
        (id == "200").then(|| "100".to_owned())
    }

    #[test]
    fn a_mention_in_an_allowed_channel_starts_a_thread_without_the_mention() {
        let route = route(
            &msg("100", None, "7", "<@42> fix the  build\nplease"),
            &gating(),
            none,
        );
        assert_eq!(
            route,
            Route::Start {
                prompt: "fix the  build\nplease".into()
            }
        );
    }

    #[test]
    fn follow_ups_in_owned_threads_need_no_mention_and_elsewhere_are_ignored() {
        let owns = owns_200;
        let follow = msg("200", Some("100"), "7", "and the tests?");
        assert_eq!(
            route(&follow, &gating(), owns),
            Route::Continue {
                thread_id: "200".into(),
                prompt: "and the tests?".into()
            }
        );
        let elsewhere = msg("100", None, "7", "just chatting");
        assert_eq!(
            route(&elsewhere, &gating(), owns),
            Route::Ignore("no mention outside a thread switchboard owns")
        );
        let other_thread = msg("300", Some("100"), "7", "no mention here");
        assert!(matches!(
            route(&other_thread, &gating(), owns),
            Route::Ignore(_)
        ));
    }

    #[test]
    fn an_owned_thread_unknown_to_the_platform_directory_still_counts() {
        let follow = msg("200", None, "7", "more");
        assert_eq!(
            route(&follow, &gating(), owns_200),
            Route::Continue {
                thread_id: "200".into(),
                prompt: "more".into()
            }
        );
    }

    #[test]
    fn in_scope_is_the_channel_rule_alone() {
        let g = gating();
        // Any text, any user, in an allowed channel or a thread of one.
        assert!(in_scope(&msg("100", None, "8", "no mention"), &g, none));
        assert!(in_scope(&msg("300", Some("100"), "8", "hi"), &g, none));
        assert!(in_scope(&msg("200", None, "7", "hi"), &g, owns_200));
        assert!(!in_scope(&msg("101", None, "7", "<@42> hi"), &g, none));
        assert!(!in_scope(&msg("100", None, BOT, "own"), &g, none));
    }

    #[test]
    fn a_mention_in_someone_elses_thread_adopts_it_when_its_parent_is_allowed() {
        let m = msg("300", Some("100"), "7", "<@!42> look");
        assert_eq!(
            route(&m, &gating(), none),
            Route::Adopt {
                thread_id: "300".into(),
                parent_id: "100".into(),
                prompt: "look".into()
            }
        );
        let m = msg("301", Some("999"), "7", "<@42> look");
        assert_eq!(
            route(&m, &gating(), none),
            Route::Ignore("channel not allowed")
        );
    }

    #[test]
    fn unallowed_channel_and_user_and_own_messages() {
        assert_eq!(
            route(&msg("999", None, "7", "<@42> hi"), &gating(), none),
            Route::Ignore("channel not allowed")
        );
        assert_eq!(
            route(&msg("100", None, "8", "<@42> hi"), &gating(), none),
            Route::Deny
        );
        assert_eq!(
            route(&msg("100", None, BOT, "<@42> hi"), &gating(), none),
            Route::Ignore("own message")
        );
        let mut open = gating();
        open.allow_all_channels = true;
        open.allow_all_users = true;
        assert!(matches!(
            route(&msg("999", None, "8", "<@42> hi"), &open, none),
            Route::Start { .. }
        ));
    }

    #[test]
    fn bots_are_ignored_unless_allowed_and_trusted() {
        let mut m = msg("100", None, "77", "<@42> beep");
        m.author.is_bot = true;
        assert_eq!(
            route(&m, &gating(), none),
            Route::Ignore("message from a bot")
        );
        let mut g = gating();
        g.allow_bot_messages = BotMessages::Mentions;
        assert_eq!(
            route(&m, &g, none),
            Route::Ignore("message from an untrusted bot"),
            "an empty trusted list hears no bot"
        );
        g.trusted_bot_ids = vec!["77".into()];
        assert!(
            matches!(route(&m, &g, none), Route::Start { .. }),
            "a trusted bot needs no place in the user list"
        );
        g.trusted_bot_ids = vec!["78".into()];
        assert_eq!(
            route(&m, &g, none),
            Route::Ignore("message from an untrusted bot")
        );
        g.trusted_bot_ids = vec!["77".into()];
        let mut quiet = m.clone();
        quiet.content = "beep".into();
        quiet.mentions_bot = false;
        assert_eq!(
            route(&quiet, &g, none),
            Route::Ignore("bot message without a mention")
        );
        g.allow_bot_messages = BotMessages::All;
        assert!(
            matches!(route(&quiet, &g, none), Route::Ignore(_)),
            "not in a thread"
        );
    }

    #[test]
    fn the_user_allowlist_never_admits_an_untrusted_bot() {
        let mut m = msg("100", None, "77", "<@42> beep");
        m.author.is_bot = true;
        for bots in [BotMessages::Mentions, BotMessages::All] {
            // Listed as a user, or every user allowed: still not trusted.
            let mut listed = gating();
            listed.allow_bot_messages = bots;
            listed.allowed_users = vec!["7".into(), "77".into()];
            listed.trusted_bot_ids = vec!["5".into()];
            assert_eq!(
                route(&m, &listed, none),
                Route::Ignore("message from an untrusted bot")
            );
            let mut everyone = listed.clone();
            everyone.allowed_users.clear();
            everyone.allow_all_users = true;
            assert_eq!(
                route(&m, &everyone, none),
                Route::Ignore("message from an untrusted bot")
            );
            everyone.trusted_bot_ids.clear();
            assert_eq!(
                route(&m, &everyone, none),
                Route::Ignore("message from an untrusted bot")
            );
            // Trusted: heard, even with a user list that does not name it.
            let mut trusted = gating();
            trusted.allow_bot_messages = bots;
            trusted.trusted_bot_ids = vec!["77".into()];
            assert!(matches!(route(&m, &trusted, none), Route::Start { .. }));
        }
        // People are unaffected by the bot list.
        let mut g = gating();
        g.allow_bot_messages = BotMessages::All;
        g.trusted_bot_ids = vec!["7".into()];
        let person = msg("100", None, "8", "<@42> hi");
        assert_eq!(route(&person, &g, none), Route::Deny);
    }

    #[test]
    fn a_configured_role_mention_counts_and_is_stripped() {
        let mut m = msg("100", None, "7", "<@&900> deploy <@&901> now");
        m.mentioned_roles = vec![
            MentionedRole {
                id: "900".into(),
                markup: "<@&900>".into(),
            },
            MentionedRole {
                id: "901".into(),
                markup: "<@&901>".into(),
            },
        ];
        assert_eq!(
            route(&m, &gating(), none),
            Route::Start {
                prompt: "deploy <@&901> now".into()
            }
        );
    }

    #[test]
    fn commands_in_owned_threads() {
        let owns = owns_200;
        let cancel = msg("200", Some("100"), "7", "!cancel");
        assert_eq!(
            route(&cancel, &gating(), owns),
            Route::Command {
                thread_id: "200".into(),
                command: Command::Cancel
            }
        );
        let reset = msg("200", Some("100"), "7", "<@42> !reset");
        assert_eq!(
            route(&reset, &gating(), owns),
            Route::Command {
                thread_id: "200".into(),
                command: Command::Reset
            }
        );
    }
}
