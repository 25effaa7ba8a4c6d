//! The simulated workspace's content: channels, users, messages (with
//! threads, edits and the bot's reactions), the ts clock, and Slack's
//! pagination of `conversations.history` / `conversations.replies`.
//!
//! Pure in-memory model with Slack's rules; it must never do I/O or know
//! about HTTP or Socket Mode (callers turn results into responses/events).

use std::collections::{BTreeMap, HashMap};

use tokio::time::Instant;

use crate::clock::TsClock;
use crate::config::SlackSimConfig;
use crate::protocol::{ApiError, Ts};
use crate::records::SlackMessage;

/// A user the workspace knows (for `users.info`).
#[derive(Clone, Debug)]
pub(crate) struct UserInfo {
    pub id: String,
    pub name: String,
    pub is_bot: bool,
}

/// A message plus what its JSON needs beyond the public record.
#[derive(Clone, Debug)]
pub(crate) struct StoredMessage {
    pub sim: SlackMessage,
    pub ts: Ts,
    /// The thread root for replies (never equal to `ts`).
    pub thread_ts: Option<Ts>,
    pub client_msg_id: Option<String>,
    /// The ts of the last edit.
    pub edited: Option<Ts>,
    /// Message metadata (`event_type`, `event_payload`), as posted.
    pub metadata: Option<serde_json::Value>,
}

impl StoredMessage {
    fn is_reply(&self) -> bool {
        self.thread_ts.is_some()
    }
}

/// What a thread's parent carries: reply_count, reply_users, latest_reply.
#[derive(Clone, Debug)]
pub(crate) struct ThreadSummary {
    pub reply_count: usize,
    pub reply_users: Vec<String>,
    pub latest_reply: Ts,
}

/// What `World::update` changes; `None` keeps the current value.
#[derive(Clone, Debug, Default)]
pub(crate) struct Edit {
    pub text: Option<String>,
    pub blocks: Option<Vec<serde_json::Value>>,
}

impl Edit {
    #[cfg(test)]
    pub fn text(text: &str) -> Edit {
        Edit {
            text: Some(text.to_owned()),
            blocks: None,
        }
    }
}

/// Paging arguments shared by history and replies.
#[derive(Clone, Debug, Default)]
pub(crate) struct Page {
    pub oldest: Option<Ts>,
    pub latest: Option<Ts>,
    pub inclusive: bool,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// One page of messages and the cursor of the next one.
#[derive(Debug)]
pub(crate) struct PageOut {
    pub messages: Vec<StoredMessage>,
    pub next_cursor: Option<String>,
}

pub(crate) struct World {
    pub channels: BTreeMap<String, String>,
    pub users: BTreeMap<String, UserInfo>,
    /// User groups (`S...`) and their members' ids.
    pub usergroups: BTreeMap<String, Vec<String>>,
    messages: HashMap<String, Vec<StoredMessage>>,
    clock: TsClock,
}

impl World {
    pub fn new(config: &SlackSimConfig) -> Self {
        let mut users = BTreeMap::new();
        users.insert(
            config.bot_user_id.clone(),
            UserInfo {
                id: config.bot_user_id.clone(),
                name: config.bot_name.clone(),
                is_bot: true,
            },
        );
        Self {
            channels: config
                .channels
                .iter()
                .map(|c| (c.id.clone(), c.name.clone()))
                .collect(),
            users,
            usergroups: BTreeMap::new(),
            messages: HashMap::new(),
            clock: TsClock::default(),
        }
    }

    /// A fresh ts (for messages and edit events).
    pub fn next_ts(&mut self) -> Ts {
        self.clock.next()
    }

    pub fn has_channel(&self, channel: &str) -> bool {
        self.channels.contains_key(channel)
    }

    pub fn find(&self, channel: &str, ts: Ts) -> Option<&StoredMessage> {
        self.messages.get(channel)?.iter().find(|m| m.ts == ts)
    }

    fn find_mut(&mut self, channel: &str, ts: Ts) -> Option<&mut StoredMessage> {
        self.messages
            .get_mut(channel)?
            .iter_mut()
            .find(|m| m.ts == ts)
    }

    /// The thread root a reply to `ts` belongs to, if `ts` is a message.
    pub fn thread_root(&self, channel: &str, ts: Ts) -> Option<Ts> {
        self.find(channel, ts).map(|m| m.thread_ts.unwrap_or(m.ts))
    }

    /// Stores a new message and returns it.
    pub fn post(
        &mut self,
        channel: &str,
        user: &str,
        bot_id: Option<&str>,
        text: &str,
        thread_ts: Option<Ts>,
        client_msg_id: Option<String>,
    ) -> StoredMessage {
        let ts = self.next_ts();
        let stored = StoredMessage {
            sim: SlackMessage {
                channel: channel.to_owned(),
                ts: ts.to_string(),
                thread_ts: thread_ts.map(|t| t.to_string()),
                user: user.to_owned(),
                bot_id: bot_id.map(str::to_owned),
                text: text.to_owned(),
                blocks: Vec::new(),
                edits: Vec::new(),
                reactions: Vec::new(),
                created_at: Instant::now(),
                edited_at: Vec::new(),
            },
            ts,
            thread_ts,
            client_msg_id,
            edited: None,
            metadata: None,
        };
        self.messages
            .entry(channel.to_owned())
            .or_default()
            .push(stored.clone());
        stored
    }

    /// Attaches metadata to a stored message (chat.postMessage's `metadata`).
    pub fn set_metadata(&mut self, channel: &str, ts: Ts, metadata: serde_json::Value) {
        if let Some(m) = self.find_mut(channel, ts) {
            m.metadata = Some(metadata);
        }
    }

    /// Sets a stored message's blocks (chat.postMessage's `blocks`).
    pub fn set_blocks(&mut self, channel: &str, ts: Ts, blocks: Vec<serde_json::Value>) {
        if let Some(m) = self.find_mut(channel, ts) {
            m.sim.blocks = blocks;
        }
    }

    /// Removes a bot message (response_url `delete_original`); returns it.
    pub fn delete(
        &mut self,
        channel: &str,
        ts: Ts,
        editor_bot_id: &str,
    ) -> Result<StoredMessage, ApiError> {
        let list = self
            .messages
            .get_mut(channel)
            .ok_or(ApiError::MessageNotFound)?;
        let index = list
            .iter()
            .position(|m| m.ts == ts)
            .ok_or(ApiError::MessageNotFound)?;
        if list[index].sim.bot_id.as_deref() != Some(editor_bot_id) {
            return Err(ApiError::CantUpdateMessage);
        }
        Ok(list.remove(index))
    }

    /// Edits a bot message; returns it before and after the edit. `None`
    /// keeps the text or the blocks as they were; `Some(vec![])` removes
    /// the blocks (as chat.update's `blocks: []` does).
    pub fn update(
        &mut self,
        channel: &str,
        ts: Ts,
        edit: Edit,
        editor_bot_id: &str,
    ) -> Result<(StoredMessage, StoredMessage), ApiError> {
        let edit_ts = self.next_ts();
        let m = self
            .find_mut(channel, ts)
            .ok_or(ApiError::MessageNotFound)?;
        if m.sim.bot_id.as_deref() != Some(editor_bot_id) {
            return Err(ApiError::CantUpdateMessage);
        }
        let before = m.clone();
        if let Some(text) = edit.text {
            m.sim.text = text;
        }
        if let Some(blocks) = edit.blocks {
            m.sim.blocks = blocks;
        }
        m.sim.edits.push(m.sim.text.clone());
        m.sim.edited_at.push(Instant::now());
        m.edited = Some(edit_ts);
        Ok((before, m.clone()))
    }

    /// Adds (or removes) one of the bot's reactions.
    pub fn react(&mut self, channel: &str, ts: Ts, name: &str, add: bool) -> Result<(), ApiError> {
        let name = name.trim_matches(':');
        if name.is_empty() {
            return Err(ApiError::InvalidName);
        }
        let m = self
            .find_mut(channel, ts)
            .ok_or(ApiError::MessageNotFound)?;
        let at = m.sim.reactions.iter().position(|r| r == name);
        match (add, at) {
            (true, Some(_)) => Err(ApiError::AlreadyReacted),
            (true, None) => {
                m.sim.reactions.push(name.to_owned());
                Ok(())
            }
            (false, None) => Err(ApiError::NoReaction),
            (false, Some(i)) => {
                m.sim.reactions.remove(i);
                Ok(())
            }
        }
    }

    /// All messages of a channel (threads included), oldest first.
    pub fn all(&self, channel: &str) -> &[StoredMessage] {
        self.messages.get(channel).map_or(&[], Vec::as_slice)
    }

    /// Replies of the thread rooted at `root`, oldest first.
    fn replies_of(&self, channel: &str, root: Ts) -> impl Iterator<Item = &StoredMessage> {
        self.all(channel)
            .iter()
            .filter(move |m| m.thread_ts == Some(root))
    }

    pub fn thread_summary(&self, channel: &str, root: Ts) -> Option<ThreadSummary> {
        let mut users: Vec<String> = Vec::new();
        let mut count = 0;
        let mut latest = None;
        for m in self.replies_of(channel, root) {
            count += 1;
            latest = Some(m.ts);
            if !users.contains(&m.sim.user) {
                users.push(m.sim.user.clone());
            }
        }
        latest.map(|latest_reply| ThreadSummary {
            reply_count: count,
            reply_users: users,
            latest_reply,
        })
    }

    /// `conversations.history`: top-level messages, newest first.
    pub fn history(&self, channel: &str, page: &Page) -> Result<PageOut, ApiError> {
        if !self.has_channel(channel) {
            return Err(ApiError::ChannelNotFound);
        }
        let from = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let mut all: Vec<&StoredMessage> = self
            .all(channel)
            .iter()
            .filter(|m| !m.is_reply() && in_range(m.ts, page) && from.is_none_or(|c| m.ts <= c))
            .collect();
        all.reverse();
        Ok(paginate(all, page.limit, 0))
    }

    /// `conversations.replies`: the parent first (on the first page, even
    /// when `oldest` excludes it, as Slack does), then replies oldest first.
    pub fn replies(&self, channel: &str, ts: Ts, page: &Page) -> Result<PageOut, ApiError> {
        if !self.has_channel(channel) {
            return Err(ApiError::ChannelNotFound);
        }
        let root = self
            .thread_root(channel, ts)
            .ok_or(ApiError::ThreadNotFound)?;
        let from = page.cursor.as_deref().map(decode_cursor).transpose()?;
        let mut list: Vec<&StoredMessage> = Vec::new();
        let parent = if from.is_none() {
            self.find(channel, root)
        } else {
            None
        };
        list.extend(parent);
        list.extend(
            self.replies_of(channel, root)
                .filter(|m| in_range(m.ts, page) && from.is_none_or(|c| m.ts >= c)),
        );
        Ok(paginate(list, page.limit, usize::from(parent.is_some())))
    }
}

fn in_range(ts: Ts, page: &Page) -> bool {
    let after = page
        .oldest
        .is_none_or(|o| if page.inclusive { ts >= o } else { ts > o });
    let before = page
        .latest
        .is_none_or(|l| if page.inclusive { ts <= l } else { ts < l });
    after && before
}

/// Takes `limit` messages; the cursor names the first one left over.
/// `pinned` leading entries (the parent) never become a cursor.
fn paginate(list: Vec<&StoredMessage>, limit: usize, pinned: usize) -> PageOut {
    let limit = limit.max(pinned + 1);
    let next_cursor = list.get(limit).map(|m| encode_cursor(m.ts));
    PageOut {
        messages: list.into_iter().take(limit).cloned().collect(),
        next_cursor,
    }
}

/// An opaque cursor: "next_ts:<ts>", hex-encoded.
pub(crate) fn encode_cursor(ts: Ts) -> String {
    format!("next_ts:{ts}")
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<Ts, ApiError> {
    let bytes: Option<Vec<u8>> = (0..cursor.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(cursor.get(i..i + 2)?, 16).ok())
        .collect();
    let text = bytes
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or(ApiError::InvalidCursor)?;
    text.strip_prefix("next_ts:")
        .and_then(Ts::parse)
        .ok_or(ApiError::InvalidCursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world() -> World {
        World::new(&SlackSimConfig::default())
    }

    fn page(limit: usize, cursor: Option<String>) -> Page {
        Page {
            limit,
            cursor,
            ..Page::default()
        }
    }

    #[test]
    fn cursor_round_trips_and_rejects_junk() {
        let ts = Ts::parse("1700000000.000100").unwrap();
        assert_eq!(decode_cursor(&encode_cursor(ts)), Ok(ts));
        assert_eq!(decode_cursor("zz"), Err(ApiError::InvalidCursor));
        assert_eq!(decode_cursor("abc"), Err(ApiError::InvalidCursor));
    }

    #[tokio::test]
    async fn history_pages_newest_first_without_replies() {
        let mut w = world();
        let c = "C0GENERAL";
        let a = w.post(c, "U1", None, "a", None, None).ts;
        w.post(c, "U1", None, "reply", Some(a), None);
        let b = w.post(c, "U1", None, "b", None, None).ts;
        let d = w.post(c, "U1", None, "d", None, None).ts;
        let p1 = w.history(c, &page(2, None)).unwrap();
        let got: Vec<Ts> = p1.messages.iter().map(|m| m.ts).collect();
        assert_eq!(got, vec![d, b]);
        let p2 = w.history(c, &page(2, p1.next_cursor)).unwrap();
        assert_eq!(p2.messages[0].ts, a);
        assert!(p2.next_cursor.is_none());
        assert_eq!(
            w.history("C404", &page(2, None)).unwrap_err(),
            ApiError::ChannelNotFound
        );
    }

    #[tokio::test]
    async fn replies_keep_parent_first_and_honour_oldest() {
        let mut w = world();
        let c = "C0GENERAL";
        let root = w.post(c, "U1", None, "root", None, None).ts;
        let r1 = w.post(c, "U2", None, "r1", Some(root), None).ts;
        let r2 = w.post(c, "U1", None, "r2", Some(root), None).ts;
        let r3 = w.post(c, "U2", None, "r3", Some(root), None).ts;
        let p = Page {
            oldest: Some(r1),
            ..page(10, None)
        };
        let got: Vec<Ts> = w
            .replies(c, r2, &p)
            .unwrap()
            .messages
            .iter()
            .map(|m| m.ts)
            .collect();
        assert_eq!(got, vec![root, r2, r3]);
        let p1 = w.replies(c, root, &page(2, None)).unwrap();
        assert_eq!(p1.messages.len(), 2);
        let p2 = w.replies(c, root, &page(2, p1.next_cursor)).unwrap();
        let got: Vec<Ts> = p2.messages.iter().map(|m| m.ts).collect();
        assert_eq!(got, vec![r2, r3]);
        let s = w.thread_summary(c, root).unwrap();
        assert_eq!((s.reply_count, s.latest_reply), (3, r3));
        assert_eq!(s.reply_users, vec!["U2".to_owned(), "U1".to_owned()]);
    }

    #[tokio::test]
    async fn edits_and_reactions_follow_slack_rules() {
        let mut w = world();
        let c = "C0GENERAL";
        let user = w.post(c, "U1", None, "hi", None, None).ts;
        let bot = w.post(c, "U0BOT", Some("B0BOT"), "v1", None, None).ts;
        assert_eq!(
            w.update(c, user, Edit::text("x"), "B0BOT").unwrap_err(),
            ApiError::CantUpdateMessage
        );
        let (before, after) = w.update(c, bot, Edit::text("v2"), "B0BOT").unwrap();
        assert_eq!((before.sim.text.as_str(), after.sim.edits.len()), ("v1", 1));
        assert_eq!(w.react(c, user, ":eyes:", true), Ok(()));
        assert_eq!(
            w.react(c, user, "eyes", true),
            Err(ApiError::AlreadyReacted)
        );
        assert_eq!(w.react(c, user, "eyes", false), Ok(()));
        assert_eq!(w.react(c, user, "eyes", false), Err(ApiError::NoReaction));
    }
}
