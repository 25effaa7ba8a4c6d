//! The simulated guilds' content: channels (each in its guild), threads,
//! messages, the bot's reactions, and known users; plus the id generator.
//!
//! Pure in-memory model with Discord's rules (thread id == message id, name
//! lengths, pagination). It must never do I/O or know about HTTP or the
//! gateway: callers turn its results into responses and dispatches.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::clock::{FIRST_ID, now_iso, snowflake_now};
use crate::config::{SimConfig, SimUser};
use crate::records::{SimMessage, SimThread};

/// A guild text channel or a public thread.
#[derive(Clone, Debug)]
pub(crate) struct ChannelInfo {
    pub id: u64,
    /// The guild the channel (or the thread's parent) is in.
    pub guild_id: u64,
    pub name: String,
    pub position: i32,
    pub thread: Option<ThreadInfo>,
}

#[derive(Clone, Debug)]
pub(crate) struct ThreadInfo {
    pub parent_id: u64,
    pub owner_id: u64,
    pub auto_archive_duration: u16,
    pub created_iso: String,
}

/// A message plus what its JSON needs beyond the public `SimMessage`.
#[derive(Clone, Debug)]
pub(crate) struct StoredMessage {
    pub sim: SimMessage,
    pub timestamp: String,
    pub edited_timestamp: Option<String>,
    pub mentions: Vec<SimUser>,
    pub mention_everyone: bool,
    /// Message flags (64 EPHEMERAL, 128 LOADING for a deferred answer).
    pub flags: u64,
}

/// Message flag of a deferred interaction answer still "thinking".
pub(crate) const MESSAGE_FLAG_LOADING: u64 = 128;

/// What a message carries beyond its text.
#[derive(Clone, Debug)]
pub(crate) struct Extras {
    /// Validated action rows (`[]` for none).
    pub components: Value,
    pub flags: u64,
}

/// Why a world operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WorldError {
    UnknownChannel,
    UnknownMessage,
    ThreadAlreadyExists,
    WrongChannelType,
}

/// Pagination of GET /channels/{id}/messages.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Page {
    pub after: Option<u64>,
    pub before: Option<u64>,
    pub around: Option<u64>,
    pub limit: usize,
}

pub(crate) struct World {
    /// The first (default) guild.
    pub guild_id: u64,
    /// Every guild the bot is in, the default one first.
    pub guild_ids: Vec<u64>,
    pub bot: SimUser,
    pub joined_at: String,
    pub channels: BTreeMap<u64, ChannelInfo>,
    pub messages: HashMap<u64, Vec<StoredMessage>>,
    pub users: HashMap<u64, SimUser>,
    /// (channel, message) -> the bot's reactions, in the order added.
    pub reactions: HashMap<(u64, u64), Vec<String>>,
    pub threads: Vec<SimThread>,
    /// Guild role ids of members (interaction `member.roles`).
    pub member_roles: HashMap<u64, Vec<u64>>,
    next_id: u64,
}

impl World {
    pub fn new(config: &SimConfig) -> Self {
        let guilds = std::iter::once((config.guild_id, &config.channels))
            .chain(config.more_guilds.iter().map(|g| (g.id, &g.channels)));
        let channels = guilds
            .clone()
            .flat_map(|(guild_id, channels)| {
                channels.iter().enumerate().map(move |(i, c)| {
                    let info = ChannelInfo {
                        id: c.id,
                        guild_id,
                        name: c.name.clone(),
                        position: i as i32,
                        thread: None,
                    };
                    (c.id, info)
                })
            })
            .collect();
        let mut users = HashMap::new();
        users.insert(config.bot_user.id, config.bot_user.clone());
        Self {
            guild_id: config.guild_id,
            guild_ids: guilds.map(|(id, _)| id).collect(),
            bot: config.bot_user.clone(),
            joined_at: now_iso(),
            channels,
            messages: HashMap::new(),
            users,
            reactions: HashMap::new(),
            threads: Vec::new(),
            member_roles: HashMap::new(),
            next_id: FIRST_ID,
        }
    }

    /// The guild of a channel or thread (the default guild for a channel
    /// the world does not know, e.g. one a test injected into).
    pub fn guild_of(&self, channel_id: u64) -> u64 {
        self.channels
            .get(&channel_id)
            .map_or(self.guild_id, |c| c.guild_id)
    }

    /// A new id: a snowflake of now (so its time can be read from it, as
    /// from Discord's), and always above every id handed out before.
    pub fn next_id(&mut self) -> u64 {
        let id = self.next_id.max(snowflake_now());
        self.next_id = id + 1;
        id
    }

    /// Stores a new message; unknown channels are created on the fly only
    /// when `lenient` (injection from tests), else refused.
    pub fn create_message(
        &mut self,
        channel_id: u64,
        author: &SimUser,
        content: &str,
        reply_to: Option<u64>,
        lenient: bool,
    ) -> Result<StoredMessage, WorldError> {
        let plain = Extras {
            components: json!([]),
            flags: 0,
        };
        self.create_message_with(channel_id, author, content, reply_to, lenient, plain)
    }

    /// `create_message` with components and flags.
    pub fn create_message_with(
        &mut self,
        channel_id: u64,
        author: &SimUser,
        content: &str,
        reply_to: Option<u64>,
        lenient: bool,
        extras: Extras,
    ) -> Result<StoredMessage, WorldError> {
        if !lenient && !self.channels.contains_key(&channel_id) {
            return Err(WorldError::UnknownChannel);
        }
        self.users.insert(author.id, author.clone());
        let id = self.next_id();
        let stored = StoredMessage {
            sim: SimMessage {
                id,
                channel_id,
                author: author.clone(),
                content: content.to_owned(),
                edits: Vec::new(),
                created_at: Instant::now(),
                edited_at: Vec::new(),
                reply_to,
                components: extras.components,
            },
            timestamp: now_iso(),
            edited_timestamp: None,
            mentions: self.parse_mentions(content),
            mention_everyone: content.contains("@everyone") || content.contains("@here"),
            flags: extras.flags,
        };
        self.messages
            .entry(channel_id)
            .or_default()
            .push(stored.clone());
        Ok(stored)
    }

    pub fn message(&self, channel_id: u64, message_id: u64) -> Result<&StoredMessage, WorldError> {
        if !self.channels.contains_key(&channel_id) {
            return Err(WorldError::UnknownChannel);
        }
        self.messages
            .get(&channel_id)
            .and_then(|ms| ms.iter().find(|m| m.sim.id == message_id))
            .ok_or(WorldError::UnknownMessage)
    }

    /// Replaces the content, and the components when `components` is
    /// given (`[]` removes them); an edit also ends a LOADING flag.
    pub fn edit_message(
        &mut self,
        channel_id: u64,
        message_id: u64,
        content: &str,
        components: Option<Value>,
    ) -> Result<StoredMessage, WorldError> {
        self.message(channel_id, message_id)?;
        let mentions = self.parse_mentions(content);
        let stored = self
            .messages
            .get_mut(&channel_id)
            .and_then(|ms| ms.iter_mut().find(|m| m.sim.id == message_id))
            .ok_or(WorldError::UnknownMessage)?;
        stored.sim.content = content.to_owned();
        stored.sim.edits.push(content.to_owned());
        stored.sim.edited_at.push(Instant::now());
        stored.edited_timestamp = Some(now_iso());
        stored.mentions = mentions;
        stored.mention_everyone = content.contains("@everyone") || content.contains("@here");
        if let Some(components) = components {
            stored.sim.components = components;
        }
        stored.flags &= !MESSAGE_FLAG_LOADING;
        Ok(stored.clone())
    }

    /// Starts a public thread from a message; the thread id is the message id.
    pub fn create_thread(
        &mut self,
        channel_id: u64,
        message_id: u64,
        name: &str,
        auto_archive_duration: u16,
    ) -> Result<ChannelInfo, WorldError> {
        let parent = self
            .channels
            .get(&channel_id)
            .ok_or(WorldError::UnknownChannel)?;
        if parent.thread.is_some() {
            return Err(WorldError::WrongChannelType);
        }
        self.message(channel_id, message_id)?;
        if self.channels.contains_key(&message_id) {
            return Err(WorldError::ThreadAlreadyExists);
        }
        let info = ChannelInfo {
            id: message_id,
            guild_id: parent.guild_id,
            name: name.to_owned(),
            position: 0,
            thread: Some(ThreadInfo {
                parent_id: channel_id,
                owner_id: self.bot.id,
                auto_archive_duration,
                created_iso: now_iso(),
            }),
        };
        self.channels.insert(message_id, info.clone());
        self.threads.push(SimThread {
            id: message_id,
            parent_id: channel_id,
            name: name.to_owned(),
            auto_archive_duration,
        });
        Ok(info)
    }

    /// Adds (`add`) or removes one of the bot's reactions.
    pub fn react(
        &mut self,
        channel_id: u64,
        message_id: u64,
        emoji: &str,
        add: bool,
    ) -> Result<(), WorldError> {
        self.message(channel_id, message_id)?;
        let list = self.reactions.entry((channel_id, message_id)).or_default();
        let present = list.iter().any(|e| e == emoji);
        if add && !present {
            list.push(emoji.to_owned());
        } else if !add {
            list.retain(|e| e != emoji);
        }
        Ok(())
    }

    /// Messages of a channel as Discord pages them: newest first.
    pub fn page(&self, channel_id: u64, page: Page) -> Result<Vec<&StoredMessage>, WorldError> {
        if !self.channels.contains_key(&channel_id) {
            return Err(WorldError::UnknownChannel);
        }
        let all: Vec<&StoredMessage> = self
            .messages
            .get(&channel_id)
            .map(|ms| ms.iter().collect())
            .unwrap_or_default();
        let limit = page.limit;
        let mut out: Vec<&StoredMessage> = if let Some(around) = page.around {
            let before: Vec<_> = all.iter().filter(|m| m.sim.id < around).collect();
            let after: Vec<_> = all.iter().filter(|m| m.sim.id >= around).collect();
            let take_before = limit / 2;
            let take_after = limit - take_before;
            let mut v: Vec<&StoredMessage> = before[before.len().saturating_sub(take_before)..]
                .iter()
                .map(|m| **m)
                .collect();
            v.extend(after.iter().take(take_after).map(|m| **m));
            v
        } else if let Some(after) = page.after {
            all.iter()
                .filter(|m| m.sim.id > after)
                .take(limit)
                .copied()
                .collect()
        } else {
            let eligible: Vec<&StoredMessage> = all
                .iter()
                .filter(|m| page.before.is_none_or(|b| m.sim.id < b))
                .copied()
                .collect();
            eligible[eligible.len().saturating_sub(limit)..].to_vec()
        };
        out.reverse();
        Ok(out)
    }

    /// Resolves `<@id>` and `<@!id>` mentions to known (or stub) users.
    fn parse_mentions(&self, content: &str) -> Vec<SimUser> {
        let mut found: Vec<SimUser> = Vec::new();
        let mut rest = content;
        while let Some(start) = rest.find("<@") {
            rest = &rest[start + 2..];
            let body = rest.strip_prefix('!').unwrap_or(rest);
            let digits: String = body.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() || !body[digits.len()..].starts_with('>') {
                continue;
            }
            let Ok(id) = digits.parse::<u64>() else {
                continue;
            };
            if found.iter().any(|u| u.id == id) {
                continue;
            }
            let user = self.users.get(&id).cloned().unwrap_or_else(|| SimUser {
                id,
                name: format!("user{id}"),
                bot: false,
            });
            found.push(user);
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new(&SimConfig::default())
    }

    #[test]
    fn mentions_are_parsed_once_each() {
        let w = world();
        let bot = w.bot.id;
        let m = w.parse_mentions(&format!("<@{bot}> hi <@!{bot}> <@12> <@x> <@"));
        let ids: Vec<u64> = m.iter().map(|u| u.id).collect();
        assert_eq!(ids, vec![bot, 12]);
        assert!(m[0].bot);
    }

    #[test]
    fn paging_is_newest_first() {
        let mut w = world();
        let ch = *w.channels.keys().next().unwrap();
        let u = SimUser {
            id: 5,
            name: "u".into(),
            bot: false,
        };
        let ids: Vec<u64> = (0..10)
            .map(|i| {
                w.create_message(ch, &u, &i.to_string(), None, false)
                    .unwrap()
                    .sim
                    .id
            })
            .collect();
        let get =
            |p: Page| -> Vec<u64> { w.page(ch, p).unwrap().iter().map(|m| m.sim.id).collect() };
        let lim = |limit| Page {
            limit,
            ..Page::default()
        };
        assert_eq!(get(lim(3)), vec![ids[9], ids[8], ids[7]]);
        let before = Page {
            before: Some(ids[5]),
            ..lim(2)
        };
        assert_eq!(get(before), vec![ids[4], ids[3]]);
        let after = Page {
            after: Some(ids[5]),
            ..lim(2)
        };
        assert_eq!(get(after), vec![ids[7], ids[6]]);
        let around = Page {
            around: Some(ids[5]),
            ..lim(3)
        };
        assert_eq!(get(around), vec![ids[6], ids[5], ids[4]]);
    }

    #[test]
    fn threads_take_the_message_id_once() {
        let mut w = world();
        let ch = *w.channels.keys().next().unwrap();
        let bot = w.bot.clone();
        let m = w.create_message(ch, &bot, "x", None, false).unwrap().sim.id;
        let t = w.create_thread(ch, m, "t", 1440).unwrap();
        assert_eq!(t.id, m);
        assert_eq!(
            w.create_thread(ch, m, "t", 1440).unwrap_err(),
            WorldError::ThreadAlreadyExists
        );
        assert_eq!(
            w.create_thread(ch, 42, "t", 1440).unwrap_err(),
            WorldError::UnknownMessage
        );
        assert_eq!(
            w.create_thread(m, m, "t", 1440).unwrap_err(),
            WorldError::WrongChannelType
        );
    }
}
