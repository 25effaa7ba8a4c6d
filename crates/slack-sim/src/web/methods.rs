//! The Web API methods the sim implements, each with the token type it
//! needs, Slack's arguments, answers and errors, and the events it causes.
//!
//! Called by the pipeline under the state lock; it must never await, check
//! auth or rate limits (the pipeline did), or build event JSON (`events`).

use serde_json::{Value, json};

use tokio::time::Instant;

use super::Reply;
use super::params::Params;
use crate::blocks;
use crate::clock;
use crate::config::TokenKind;
use crate::events;
use crate::payloads;
use crate::protocol::ApiError;
use crate::records::{EphemeralMessage, EphemeralSource};
use crate::state::{Inner, State};
use crate::world::{Edit, Page, PageOut};

/// Slack's default and maximum page sizes for history and replies.
const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 999;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    AppsConnectionsOpen,
    AuthTest,
    ChatPostMessage,
    ChatUpdate,
    ChatPostEphemeral,
    ReactionsAdd,
    ReactionsRemove,
    ConversationsHistory,
    ConversationsReplies,
    UsersInfo,
    UsergroupsUsersList,
}

impl Method {
    const ALL: [Method; 11] = [
        Method::AppsConnectionsOpen,
        Method::AuthTest,
        Method::ChatPostMessage,
        Method::ChatUpdate,
        Method::ChatPostEphemeral,
        Method::ReactionsAdd,
        Method::ReactionsRemove,
        Method::ConversationsHistory,
        Method::ConversationsReplies,
        Method::UsersInfo,
        Method::UsergroupsUsersList,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Method::AppsConnectionsOpen => "apps.connections.open",
            Method::AuthTest => "auth.test",
            Method::ChatPostMessage => "chat.postMessage",
            Method::ChatUpdate => "chat.update",
            Method::ChatPostEphemeral => "chat.postEphemeral",
            Method::ReactionsAdd => "reactions.add",
            Method::ReactionsRemove => "reactions.remove",
            Method::ConversationsHistory => "conversations.history",
            Method::ConversationsReplies => "conversations.replies",
            Method::UsersInfo => "users.info",
            Method::UsergroupsUsersList => "usergroups.users.list",
        }
    }

    pub fn parse(name: &str) -> Option<Method> {
        Method::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The token type the method accepts: app-level tokens work only for
    /// opening connections; everything else needs the bot token.
    pub fn token_kind(self) -> TokenKind {
        match self {
            Method::AppsConnectionsOpen => TokenKind::App,
            _ => TokenKind::Bot,
        }
    }
}

pub(super) fn handle(
    inner: &Inner,
    s: &mut State,
    method: Method,
    p: &Params,
) -> Result<Reply, ApiError> {
    match method {
        Method::AppsConnectionsOpen => open(inner, s),
        Method::AuthTest => Ok(auth_test(inner)),
        Method::ChatPostMessage => post_message(inner, s, p),
        Method::ChatUpdate => update(inner, s, p),
        Method::ChatPostEphemeral => post_ephemeral(s, p),
        Method::ReactionsAdd => react(s, p, true),
        Method::ReactionsRemove => react(s, p, false),
        Method::ConversationsHistory => history(inner, s, p),
        Method::ConversationsReplies => replies(inner, s, p),
        Method::UsersInfo => user_info(inner, s, p),
        Method::UsergroupsUsersList => usergroup_users(s, p),
    }
}

/// `apps.connections.open`: a one-time `ws://` URL. While refusing, HTTP
/// 503 `service_unavailable`; after `link_disabled`, `link_disabled`.
fn open(inner: &Inner, s: &mut State) -> Result<Reply, ApiError> {
    if s.switches.link_disabled {
        return Err(ApiError::LinkDisabled);
    }
    if s.switches.refuse_open {
        return Ok(Reply::status_error(503, "service_unavailable"));
    }
    let ticket = clock::ticket();
    s.sock.issue_ticket(&ticket);
    let url = format!(
        "ws://{}/socket?ticket={ticket}&app_id={}",
        inner.addr, inner.config.app_id
    );
    Ok(Reply::ok(json!({ "url": url })))
}

fn auth_test(inner: &Inner) -> Reply {
    let c = &inner.config;
    Reply::ok(json!({
        "url": format!("{}/", inner.http_url()),
        "team": c.team_name,
        "user": c.bot_name,
        "team_id": c.team_id,
        "user_id": c.bot_user_id,
        "bot_id": c.bot_id,
        "is_enterprise_install": false,
    }))
}

/// A channel id, or a name with or without '#'.
fn channel(s: &State, p: &Params) -> Result<String, ApiError> {
    let given = p.str("channel").ok_or(ApiError::ChannelNotFound)?;
    if s.world.has_channel(&given) {
        return Ok(given);
    }
    let name = given.trim_start_matches('#');
    s.world
        .channels
        .iter()
        .find(|(_, n)| n.as_str() == name)
        .map(|(id, _)| id.clone())
        .ok_or(ApiError::ChannelNotFound)
}

/// Message text and checked blocks; blocks without text are accepted with
/// empty text, and `blocks: []` counts as no blocks.
fn content(p: &Params) -> Result<(String, Vec<Value>), ApiError> {
    let blocks = blocks::parse(p.value("blocks"))?.unwrap_or_default();
    match p.str("text") {
        Some(t) => Ok((t, blocks)),
        None if !blocks.is_empty() => Ok((String::new(), blocks)),
        None => Err(ApiError::NoText),
    }
}

/// `metadata` as Slack takes it (an object, or that object as a JSON
/// string in a form): `event_type` a non-empty string and `event_payload`
/// an object; anything else is `invalid_metadata_format`.
fn metadata(p: &Params) -> Result<Option<Value>, ApiError> {
    let raw = match p.value("metadata") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(text)) => {
            serde_json::from_str(&text).map_err(|_| ApiError::InvalidMetadataFormat)?
        }
        Some(other) => other,
    };
    let event_type_ok = raw
        .get("event_type")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty());
    let payload_ok = raw.get("event_payload").is_some_and(Value::is_object);
    if !event_type_ok || !payload_ok {
        return Err(ApiError::InvalidMetadataFormat);
    }
    Ok(Some(
        json!({ "event_type": raw["event_type"], "event_payload": raw["event_payload"] }),
    ))
}

/// `chat.postMessage`: stores a bot message (a `thread_ts` naming any
/// message of a thread joins that thread; an unknown one posts top-level)
/// and emits its `message` event.
fn post_message(inner: &Inner, s: &mut State, p: &Params) -> Result<Reply, ApiError> {
    let c = &inner.config;
    let channel = channel(s, p)?;
    let (text, blocks) = content(p)?;
    let thread = p
        .ts("thread_ts", ApiError::InvalidArguments)?
        .and_then(|t| s.world.thread_root(&channel, t));
    let metadata = metadata(p)?;
    let mut m = s.world.post(
        &channel,
        &c.bot_user_id,
        Some(&c.bot_id),
        &text,
        thread,
        None,
    );
    if let Some(metadata) = metadata {
        s.world.set_metadata(&channel, m.ts, metadata.clone());
        m.metadata = Some(metadata);
    }
    if !blocks.is_empty() {
        s.world.set_blocks(&channel, m.ts, blocks.clone());
        m.sim.blocks = blocks;
    }
    events::bot_message(s, c, &m);
    let message = payloads::message_with_metadata(&s.world, c, &m, true);
    Ok(Reply::ok(
        json!({ "channel": channel, "ts": m.sim.ts, "message": message }),
    ))
}

/// `chat.update`: edits one of the bot's messages; emits `message_changed`.
/// Without `blocks` the message keeps its blocks; `blocks: []` removes
/// them. With blocks but no `text` the text is kept.
fn update(inner: &Inner, s: &mut State, p: &Params) -> Result<Reply, ApiError> {
    let c = &inner.config;
    let channel = channel(s, p)?;
    let ts = p
        .ts("ts", ApiError::MessageNotFound)?
        .ok_or(ApiError::MessageNotFound)?;
    let blocks = blocks::parse(p.value("blocks"))?;
    let text = p.str("text");
    if text.is_none() && blocks.is_none() {
        return Err(ApiError::NoText);
    }
    let edit = Edit { text, blocks };
    let (before, after) = s.world.update(&channel, ts, edit, &c.bot_id)?;
    events::message_changed(s, c, &before, &after);
    let message = payloads::message(&s.world, c, &after);
    Ok(Reply::ok(json!({
        "channel": channel, "ts": after.sim.ts, "text": after.sim.text, "message": message,
    })))
}

/// `chat.postEphemeral`: a message only `user` sees (recorded, never
/// stored in the channel); answers `message_ts`. Ephemeral messages in a
/// thread need an existing thread: an unknown `thread_ts` posts unthreaded.
fn post_ephemeral(s: &mut State, p: &Params) -> Result<Reply, ApiError> {
    let channel = channel(s, p)?;
    let user = p.required("user")?;
    let (text, blocks) = content(p)?;
    let thread = p
        .ts("thread_ts", ApiError::InvalidArguments)?
        .and_then(|t| s.world.thread_root(&channel, t));
    let message_ts = s.world.next_ts().to_string();
    s.interactions.ephemerals.push(EphemeralMessage {
        channel,
        user,
        text,
        blocks,
        thread_ts: thread.map(|t| t.to_string()),
        message_ts: message_ts.clone(),
        source: EphemeralSource::PostEphemeral,
        at: Instant::now(),
    });
    Ok(Reply::ok(json!({ "message_ts": message_ts })))
}

/// `reactions.add` / `reactions.remove` as the bot.
fn react(s: &mut State, p: &Params, add: bool) -> Result<Reply, ApiError> {
    let channel = channel(s, p)?;
    let ts = p
        .ts("timestamp", ApiError::MessageNotFound)?
        .ok_or(ApiError::MessageNotFound)?;
    let name = p.str("name").ok_or(ApiError::InvalidName)?;
    s.world.react(&channel, ts, &name, add)?;
    Ok(Reply::ok(json!({})))
}

fn page(p: &Params) -> Result<Page, ApiError> {
    Ok(Page {
        oldest: p.ts("oldest", ApiError::InvalidTsOldest)?,
        latest: p.ts("latest", ApiError::InvalidTsLatest)?,
        inclusive: p.flag("inclusive"),
        limit: p
            .usize("limit")
            .unwrap_or(DEFAULT_LIMIT)
            .clamp(1, MAX_LIMIT),
        cursor: p.str("cursor"),
    })
}

fn page_reply(inner: &Inner, s: &State, out: PageOut, p: &Params) -> Reply {
    let with_metadata = p.flag("include_all_metadata");
    let messages: Vec<Value> = out
        .messages
        .iter()
        .map(|m| payloads::message_with_metadata(&s.world, &inner.config, m, with_metadata))
        .collect();
    Reply::ok(json!({
        "messages": messages,
        "has_more": out.next_cursor.is_some(),
        "response_metadata": { "next_cursor": out.next_cursor.unwrap_or_default() },
    }))
}

/// `conversations.history`: top-level messages, newest first.
fn history(inner: &Inner, s: &mut State, p: &Params) -> Result<Reply, ApiError> {
    let channel = channel(s, p)?;
    let out = s.world.history(&channel, &page(p)?)?;
    Ok(page_reply(inner, s, out, p))
}

/// `conversations.replies`: the parent, then the replies oldest first.
fn replies(inner: &Inner, s: &mut State, p: &Params) -> Result<Reply, ApiError> {
    let channel = channel(s, p)?;
    let ts = p
        .ts("ts", ApiError::ThreadNotFound)?
        .ok_or(ApiError::InvalidArguments)?;
    let out = s.world.replies(&channel, ts, &page(p)?)?;
    Ok(page_reply(inner, s, out, p))
}

/// `usergroups.users.list`: the user ids of a user group (`S...`), as set
/// with `SlackSim::set_usergroup`; `no_such_subteam` for another id.
fn usergroup_users(s: &mut State, p: &Params) -> Result<Reply, ApiError> {
    let id = p.required("usergroup")?;
    let users = s.world.usergroups.get(&id).ok_or(ApiError::NoSuchSubteam)?;
    Ok(Reply::ok(json!({ "users": users })))
}

fn user_info(inner: &Inner, s: &mut State, p: &Params) -> Result<Reply, ApiError> {
    let id = p.required("user")?;
    let u = s.world.users.get(&id).ok_or(ApiError::UserNotFound)?;
    let mut profile = json!({ "real_name": u.name, "display_name": u.name });
    if u.is_bot {
        profile["bot_id"] = json!(inner.config.bot_id);
    }
    Ok(Reply::ok(json!({
        "user": {
            "id": u.id, "team_id": inner.config.team_id, "name": u.name,
            "real_name": u.name, "deleted": false, "is_bot": u.is_bot, "profile": profile,
        }
    })))
}
