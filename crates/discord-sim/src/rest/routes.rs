//! The REST routes the sim implements, each validated the way Discord does
//! (snowflakes, 2000-character content, components, thread names, page
//! limits) and each causing the dispatches Discord would send. Interaction
//! and command routes are in `interaction_routes`.
//!
//! Synchronous, under the state lock; uses `world` for the model, `payloads`
//! for JSON and `events` for dispatches. Never awaits.

use axum::http::Method;
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};

use super::{Reply, Request, nonce};
use crate::components;
use crate::events;
use crate::payloads;
use crate::state::{Inner, State};
use crate::world::{Extras, Page, WorldError};

const MAX_CONTENT: usize = 2000;
const ARCHIVE_DURATIONS: [u16; 4] = [60, 1440, 4320, 10080];

/// The rate-limit route (method + template) and major parameter.
pub(super) fn bucket_of(r: &Request<'_>) -> (String, String) {
    let mut major = String::new();
    let template: Vec<&str> = r
        .segments
        .iter()
        .enumerate()
        .map(|(i, seg)| match (i, r.segments.first()) {
            (1, Some(&"channels")) => {
                major = (*seg).to_owned();
                "{channel_id}"
            }
            (3, _) if r.segments.get(2) == Some(&"messages") => "{message_id}",
            (5, _) if r.segments.get(4) == Some(&"reactions") => "{emoji}",
            _ => seg,
        })
        .collect();
    // Discord shares one bucket for all reaction routes of a channel.
    let method = if template.get(4) == Some(&"reactions") {
        "REACTION".to_owned()
    } else {
        r.method.to_string()
    };
    (format!("{method} /{}", template.join("/")), major)
}

pub(super) fn handle(inner: &Inner, s: &mut State, r: &Request<'_>) -> Reply {
    if let Some(reply) = super::interaction_routes::handle(inner, s, r) {
        return reply;
    }
    let m = r.method;
    match r.segments.as_slice() {
        ["gateway"] if m == Method::GET => Reply::json(200, json!({ "url": inner.gateway_url() })),
        ["gateway", "bot"] if m == Method::GET => gateway_bot(inner, s),
        ["users", "@me"] if m == Method::GET => {
            Reply::json(200, payloads::current_user(&s.world.bot))
        }
        ["channels", c] if m == Method::GET => with_id(c, "channel_id", |c| get_channel(s, c)),
        ["channels", c, "typing"] if m == Method::POST => with_id(c, "channel_id", |c| {
            if s.world.channels.contains_key(&c) {
                Reply::no_content()
            } else {
                world_error(WorldError::UnknownChannel)
            }
        }),
        ["channels", c, "messages"] if m == Method::GET => {
            with_id(c, "channel_id", |c| list_messages(s, c, r.query))
        }
        ["channels", c, "messages"] if m == Method::POST => {
            with_id(c, "channel_id", |c| create_message(s, c, r.body.as_ref()))
        }
        ["channels", c, "messages", id] if m == Method::GET => {
            with_ids(c, id, |c, id| match s.world.message(c, id) {
                Ok(msg) => Reply::json(200, payloads::message(&s.world, msg, false)),
                Err(e) => world_error(e),
            })
        }
        ["channels", c, "messages", id] if m == Method::PATCH => {
            with_ids(c, id, |c, id| edit_message(s, c, id, r.body.as_ref()))
        }
        ["channels", c, "messages", id, "threads"] if m == Method::POST => {
            with_ids(c, id, |c, id| create_thread(s, c, id, r.body.as_ref()))
        }
        ["channels", c, "messages", id, "reactions", emoji, "@me"]
            if m == Method::PUT || m == Method::DELETE =>
        {
            let emoji = percent_decode_str(emoji).decode_utf8_lossy().into_owned();
            with_ids(c, id, |c, id| {
                match s.world.react(c, id, &emoji, m == Method::PUT) {
                    Ok(()) => Reply::no_content(),
                    Err(e) => world_error(e),
                }
            })
        }
        _ => Reply::error(404, 0, "404: Not Found"),
    }
}

fn gateway_bot(inner: &Inner, s: &State) -> Reply {
    let used = s.rec.identifies.len() as u64;
    Reply::json(
        200,
        json!({
            "url": inner.gateway_url(),
            "shards": inner.config.recommended_shards,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000u64.saturating_sub(used),
                "reset_after": 86_400_000u64,
                "max_concurrency": inner.config.max_concurrency,
            },
        }),
    )
}

fn get_channel(s: &State, channel_id: u64) -> Reply {
    match s.world.channels.get(&channel_id) {
        Some(c) => Reply::json(200, payloads::channel(&s.world, c, false)),
        None => world_error(WorldError::UnknownChannel),
    }
}

fn list_messages(s: &State, channel_id: u64, query: Option<&str>) -> Reply {
    let mut page = Page {
        limit: 50,
        ..Page::default()
    };
    for (key, value) in query
        .unwrap_or_default()
        .split('&')
        .filter_map(|kv| kv.split_once('='))
    {
        let target = match key {
            "after" => &mut page.after,
            "before" => &mut page.before,
            "around" => &mut page.around,
            "limit" => {
                match value.parse::<usize>() {
                    Ok(l @ 1..=100) => page.limit = l,
                    _ => {
                        return Reply::form_error(
                            "limit",
                            "NUMBER_TYPE_MAX",
                            "Must be between 1 and 100.",
                        );
                    }
                }
                continue;
            }
            _ => continue,
        };
        match value.parse::<u64>() {
            Ok(id) => *target = Some(id),
            Err(_) => return not_snowflake(key, value),
        }
    }
    match s.world.page(channel_id, page) {
        Ok(messages) => Reply::json(
            200,
            Value::Array(
                messages
                    .iter()
                    .map(|m| payloads::message(&s.world, m, false))
                    .collect(),
            ),
        ),
        Err(e) => world_error(e),
    }
}

/// The validated `components` of a body: `None` when absent (or null).
fn components_of(body: Option<&Value>) -> Result<Option<Value>, Reply> {
    match body
        .and_then(|b| b.get("components"))
        .filter(|c| !c.is_null())
    {
        None => Ok(None),
        Some(c) => components::validate(c)
            .map(Some)
            .map_err(|e| Reply::json(400, e.body())),
    }
}

fn create_message(s: &mut State, channel_id: u64, body: Option<&Value>) -> Reply {
    let content = body
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let components = match components_of(body) {
        Ok(c) => c.unwrap_or_else(|| json!([])),
        Err(refused) => return refused,
    };
    if content.is_empty() && components == json!([]) {
        return Reply::error(400, 50006, "Cannot send an empty message");
    }
    if let Some(bad) = too_long(content) {
        return bad;
    }
    let reference = body.and_then(|b| b.get("message_reference"));
    let reply_to = match reference.and_then(|r| r.get("message_id")).map(id_value) {
        None => None,
        Some(Some(id)) => Some(id),
        Some(None) => return not_snowflake("message_reference.message_id", "?"),
    };
    if !s.world.channels.contains_key(&channel_id) {
        return world_error(WorldError::UnknownChannel);
    }
    let fail_if_missing = reference
        .and_then(|r| r.get("fail_if_not_exists"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let reply_to = match reply_to {
        Some(id) if s.world.message(channel_id, id).is_err() => {
            if fail_if_missing {
                return Reply::form_error(
                    "message_reference",
                    "REPLIES_UNKNOWN_MESSAGE",
                    "Unknown message",
                );
            }
            None
        }
        other => other,
    };
    let nonce = match nonce::parse(body) {
        Ok(nonce) => nonce,
        Err(refused) => return refused,
    };
    let bot = s.world.bot.clone();
    let now = tokio::time::Instant::now();
    if nonce::enforced(body)
        && let Some(nonce) = &nonce
        && let Some((channel, id)) = s.rest.nonces.find(bot.id, nonce, now)
        && let Ok(existing) = s.world.message(channel, id)
    {
        // The message made before, not a second one (and no dispatch).
        return Reply::json(200, payloads::message(&s.world, existing, false));
    }
    let extras = Extras {
        components,
        flags: 0,
    };
    match s
        .world
        .create_message_with(channel_id, &bot, content, reply_to, false, extras)
    {
        Ok(stored) => {
            if let Some(nonce) = nonce {
                s.rest
                    .nonces
                    .remember(bot.id, nonce, channel_id, stored.sim.id, now);
            }
            events::message(s, "MESSAGE_CREATE", &stored);
            Reply::json(200, payloads::message(&s.world, &stored, false))
        }
        Err(e) => world_error(e),
    }
}

fn edit_message(s: &mut State, channel_id: u64, message_id: u64, body: Option<&Value>) -> Reply {
    let author = match s.world.message(channel_id, message_id) {
        Ok(m) => m.sim.author.id,
        Err(e) => return world_error(e),
    };
    if author != s.world.bot.id {
        return Reply::error(403, 50005, "Cannot edit a message authored by another user");
    }
    let current = s
        .world
        .message(channel_id, message_id)
        .map(|m| m.sim.content.clone())
        .unwrap_or_default();
    let content = body
        .and_then(|b| b.get("content"))
        .and_then(Value::as_str)
        .map_or(current, str::to_owned);
    if let Some(bad) = too_long(&content) {
        return bad;
    }
    let components = match components_of(body) {
        Ok(c) => c,
        Err(refused) => return refused,
    };
    match s
        .world
        .edit_message(channel_id, message_id, &content, components)
    {
        Ok(stored) => {
            events::message(s, "MESSAGE_UPDATE", &stored);
            Reply::json(200, payloads::message(&s.world, &stored, false))
        }
        Err(e) => world_error(e),
    }
}

fn create_thread(s: &mut State, channel_id: u64, message_id: u64, body: Option<&Value>) -> Reply {
    let name = body
        .and_then(|b| b.get("name"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let len = name.chars().count();
    if !(1..=100).contains(&len) {
        return Reply::form_error(
            "name",
            "BASE_TYPE_BAD_LENGTH",
            "Must be between 1 and 100 in length.",
        );
    }
    let duration = match body.and_then(|b| b.get("auto_archive_duration")) {
        None | Some(Value::Null) => 1440,
        Some(v) => match v.as_u64().and_then(|d| u16::try_from(d).ok()) {
            Some(d) if ARCHIVE_DURATIONS.contains(&d) => d,
            _ => {
                return Reply::form_error(
                    "auto_archive_duration",
                    "BASE_TYPE_CHOICES",
                    "Value must be one of {60, 1440, 4320, 10080}.",
                );
            }
        },
    };
    match s
        .world
        .create_thread(channel_id, message_id, name, duration)
    {
        Ok(thread) => {
            events::thread_create(s, &thread);
            Reply::json(201, payloads::channel(&s.world, &thread, false))
        }
        Err(e) => world_error(e),
    }
}

pub(super) fn too_long(content: &str) -> Option<Reply> {
    (content.chars().count() > MAX_CONTENT).then(|| {
        Reply::form_error(
            "content",
            "BASE_TYPE_MAX_LENGTH",
            "Must be 2000 or fewer in length.",
        )
    })
}

pub(super) fn world_error(e: WorldError) -> Reply {
    match e {
        WorldError::UnknownChannel => Reply::error(404, 10003, "Unknown Channel"),
        WorldError::UnknownMessage => Reply::error(404, 10008, "Unknown Message"),
        WorldError::ThreadAlreadyExists => Reply::error(
            400,
            160004,
            "A thread has already been created for this message",
        ),
        WorldError::WrongChannelType => {
            Reply::error(400, 50024, "Cannot execute action on this channel type")
        }
    }
}

/// Reads a snowflake sent as a JSON string or number.
fn id_value(v: &Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

fn not_snowflake(field: &str, value: &str) -> Reply {
    Reply::form_error(
        field,
        "NUMBER_TYPE_COERCE",
        &format!("Value \"{value}\" is not snowflake."),
    )
}

pub(super) fn with_id(raw: &str, field: &str, f: impl FnOnce(u64) -> Reply) -> Reply {
    match raw.parse() {
        Ok(id) => f(id),
        Err(_) => not_snowflake(field, raw),
    }
}

fn with_ids(c: &str, m: &str, f: impl FnOnce(u64, u64) -> Reply) -> Reply {
    with_id(c, "channel_id", |c| with_id(m, "message_id", |m| f(c, m)))
}
