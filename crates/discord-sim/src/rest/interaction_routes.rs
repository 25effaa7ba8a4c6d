//! The REST routes of interactions and application commands: the initial
//! callback (`POST /interactions/{id}/{token}/callback`), the interaction
//! webhook (follow-ups, `@original` read and edit), and command bulk
//! overwrite / list (global and per guild).
//!
//! Callbacks and webhooks are authorized by the interaction token, not the
//! bot token (`needs_no_bot_token`). Every callback and webhook call is
//! recorded. Synchronous, under the state lock; never awaits.

use axum::http::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::routes::{too_long, with_id, world_error};
use super::{Reply, Request};
use crate::components;
use crate::events;
use crate::interactions::{EPHEMERAL, MESSAGE_COMPONENT, Original};
use crate::payloads;
use crate::records::{CallbackRecord, EphemeralMessage, WebhookCallRecord};
use crate::state::{Inner, State};
use crate::world::{Extras, MESSAGE_FLAG_LOADING, StoredMessage};

/// Callback types (`InteractionCallbackType`).
const CHANNEL_MESSAGE_WITH_SOURCE: u8 = 4;
const DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE: u8 = 5;
const DEFERRED_UPDATE_MESSAGE: u8 = 6;
const UPDATE_MESSAGE: u8 = 7;

/// Routes authorized by an interaction token instead of the bot token.
pub(super) fn needs_no_bot_token(r: &Request<'_>) -> bool {
    matches!(r.segments.first(), Some(&"interactions" | &"webhooks"))
}

/// The routes of this module; `None` when the request is not one of them.
pub(super) fn handle(inner: &Inner, s: &mut State, r: &Request<'_>) -> Option<Reply> {
    let m = r.method;
    let reply = match r.segments.as_slice() {
        ["interactions", id, token, "callback"] if m == Method::POST => {
            with_id(id, "interaction_id", |id| {
                callback(inner, s, id, token, r.body.as_ref())
            })
        }
        ["webhooks", app, token] if m == Method::POST => {
            webhook(inner, s, app, token, Target::Followup, m, r.body.as_ref())
        }
        ["webhooks", app, token, "messages", "@original"]
            if m == Method::PATCH || m == Method::GET =>
        {
            webhook(inner, s, app, token, Target::Original, m, r.body.as_ref())
        }
        ["webhooks", app, token, "messages", id] if m == Method::PATCH || m == Method::GET => {
            with_id(id, "message_id", |id| {
                webhook(
                    inner,
                    s,
                    app,
                    token,
                    Target::Message(id),
                    m,
                    r.body.as_ref(),
                )
            })
        }
        ["applications", app, "commands"] => commands(s, app, None, r)?,
        ["applications", app, "guilds", guild, "commands"] => with_id(guild, "guild_id", |guild| {
            commands(s, app, Some(guild), r).unwrap_or_else(not_found)
        }),
        _ => return None,
    };
    Some(reply)
}

fn not_found() -> Reply {
    Reply::error(404, 0, "404: Not Found")
}

fn unknown_interaction() -> Reply {
    Reply::error(404, 10062, "Unknown interaction")
}

fn invalid_webhook_token() -> Reply {
    Reply::error(401, 50027, "Invalid Webhook Token")
}

fn unknown_webhook() -> Reply {
    Reply::error(404, 10015, "Unknown Webhook")
}

fn error_code(reply: &Reply) -> Option<u64> {
    (reply.status >= 400)
        .then(|| reply.body.as_ref()?.get("code")?.as_u64())
        .flatten()
}

/// GET lists, PUT bulk-overwrites; `None` for other methods.
fn commands(s: &mut State, app: &str, guild: Option<u64>, r: &Request<'_>) -> Option<Reply> {
    let app_ok = app.parse::<u64>().is_ok_and(|a| a == s.world.bot.id);
    let guild_ok = guild.is_none_or(|g| g == s.world.guild_id);
    if (r.method == Method::GET || r.method == Method::PUT) && !(app_ok && guild_ok) {
        return Some(Reply::error(403, 50001, "Missing Access"));
    }
    if r.method == Method::GET {
        return Some(Reply::json(200, Value::Array(s.commands.list(guild))));
    }
    if r.method != Method::PUT {
        return None;
    }
    let application_id = s.world.bot.id;
    let world = &mut s.world;
    let result = s
        .commands
        .overwrite(application_id, guild, r.body.as_ref(), || world.next_id());
    Some(match result {
        Ok(stored) => Reply::json(200, Value::Array(stored)),
        Err(e) => Reply::json(400, e.body()),
    })
}

/// The message fields an answer may carry, validated.
struct Answer {
    content: Option<String>,
    components: Option<Value>,
    flags: u64,
}

fn answer(data: Option<&Value>) -> Result<Answer, Reply> {
    let content = data
        .and_then(|d| d.get("content"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(bad) = content.as_deref().and_then(too_long) {
        return Err(bad);
    }
    let components = match data
        .and_then(|d| d.get("components"))
        .filter(|c| !c.is_null())
    {
        None => None,
        Some(c) => Some(components::validate(c).map_err(|e| Reply::json(400, e.body()))?),
    };
    let flags = data
        .and_then(|d| d.get("flags"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Ok(Answer {
        content,
        components,
        flags,
    })
}

fn callback(inner: &Inner, s: &mut State, id: u64, token: &str, body: Option<&Value>) -> Reply {
    let now = Instant::now();
    let kind = body
        .and_then(|b| b.get("type"))
        .and_then(Value::as_u64)
        .and_then(|k| u8::try_from(k).ok())
        .unwrap_or(0);
    let data = body.and_then(|b| b.get("data"));
    let fields = answer(data);
    let (reply, after) = callback_inner(inner, s, id, token, kind, &fields, now);
    let (content, flags, components) = match &fields {
        Ok(a) => (a.content.clone(), a.flags, a.components.clone()),
        Err(_) => (None, 0, None),
    };
    s.rec.callbacks.push(CallbackRecord {
        interaction_id: id,
        kind,
        status: reply.status,
        error_code: error_code(&reply),
        at: now,
        after: after.unwrap_or_default(),
        content,
        flags,
        components,
    });
    reply
}

/// The callback itself; also returns the time since the dispatch, when
/// the interaction is known.
fn callback_inner(
    inner: &Inner,
    s: &mut State,
    id: u64,
    token: &str,
    kind: u8,
    fields: &Result<Answer, Reply>,
    now: Instant,
) -> (Reply, Option<std::time::Duration>) {
    let deadline = inner.config.interaction_callback_deadline;
    let Some(interaction) = s.interactions.get_mut(id, token) else {
        return (unknown_interaction(), None);
    };
    let after = now.saturating_duration_since(interaction.dispatched_at);
    if interaction.acknowledged {
        let reply = Reply::error(400, 40060, "Interaction has already been acknowledged.");
        return (reply, Some(after));
    }
    if !interaction.callback_open(now, deadline) {
        return (unknown_interaction(), Some(after));
    }
    let allowed: &[u8] = if interaction.kind == MESSAGE_COMPONENT {
        &[4, 5, 6, 7, 9]
    } else {
        &[4, 5, 9]
    };
    if !allowed.contains(&kind) {
        let choices = allowed
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        let e = crate::form_error::FormError::new(
            "BASE_TYPE_CHOICES",
            format!("Value must be one of {{{choices}}}."),
        )
        .under("type");
        return (Reply::json(400, e.body()), Some(after));
    }
    let answer = match fields {
        Ok(a) => a,
        Err(refused) => {
            return (
                Reply {
                    status: refused.status,
                    body: refused.body.clone(),
                    headers: Vec::new(),
                },
                Some(after),
            );
        }
    };
    let (channel_id, user_id, clicked) = (
        interaction.channel_id,
        interaction.user.id,
        interaction.message_id,
    );
    let original = match kind {
        CHANNEL_MESSAGE_WITH_SOURCE | DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE => {
            let loading = kind == DEFERRED_CHANNEL_MESSAGE_WITH_SOURCE;
            if !loading
                && answer.content.as_deref().unwrap_or_default().is_empty()
                && answer.components.as_ref().is_none_or(|c| c == &json!([]))
            {
                return (
                    Reply::error(400, 50006, "Cannot send an empty message"),
                    Some(after),
                );
            }
            match post_answer(s, id, channel_id, user_id, answer, loading) {
                Ok(original) => original,
                Err(refused) => return (refused, Some(after)),
            }
        }
        UPDATE_MESSAGE => {
            let message_id = clicked.unwrap_or_default();
            let current = s
                .world
                .message(channel_id, message_id)
                .map(|m| m.sim.content.clone());
            let content = answer.content.clone().or(current.ok()).unwrap_or_default();
            match s
                .world
                .edit_message(channel_id, message_id, &content, answer.components.clone())
            {
                Ok(stored) => events::message(s, "MESSAGE_UPDATE", &stored),
                Err(e) => return (world_error(e), Some(after)),
            }
            Original::Channel(message_id)
        }
        DEFERRED_UPDATE_MESSAGE => Original::Channel(clicked.unwrap_or_default()),
        // 9 MODAL: accepted; the sim does not model modals further.
        _ => Original::None,
    };
    if let Some(interaction) = s.interactions.get_mut(id, token) {
        interaction.acknowledged = true;
        interaction.original = original;
    }
    (Reply::no_content(), Some(after))
}

/// Posts an answer (initial or follow-up): ephemeral -> recorded for the
/// user only; else a bot message in the channel with MESSAGE_CREATE.
fn post_answer(
    s: &mut State,
    interaction_id: u64,
    channel_id: u64,
    user_id: u64,
    answer: &Answer,
    loading: bool,
) -> Result<Original, Reply> {
    let bot = s.world.bot.clone();
    let content = answer.content.clone().unwrap_or_default();
    let extras = Extras {
        components: answer.components.clone().unwrap_or_else(|| json!([])),
        flags: (answer.flags & EPHEMERAL) | if loading { MESSAGE_FLAG_LOADING } else { 0 },
    };
    if answer.flags & EPHEMERAL != 0 {
        let stored = ephemeral_message(s, channel_id, &bot, &content, extras);
        s.rec.ephemeral.push(EphemeralMessage {
            id: stored.sim.id,
            interaction_id,
            channel_id,
            visible_to: user_id,
            content,
            components: stored.sim.components.clone(),
            edits: Vec::new(),
            created_at: stored.sim.created_at,
        });
        let id = stored.sim.id;
        s.interactions.add_ephemeral(interaction_id, stored);
        return Ok(Original::Ephemeral(id));
    }
    match s
        .world
        .create_message_with(channel_id, &bot, &content, None, false, extras)
    {
        Ok(stored) => {
            events::message(s, "MESSAGE_CREATE", &stored);
            Ok(Original::Channel(stored.sim.id))
        }
        Err(e) => Err(world_error(e)),
    }
}

/// An ephemeral message: shaped like a stored one, kept out of the world.
fn ephemeral_message(
    s: &mut State,
    channel_id: u64,
    bot: &crate::config::SimUser,
    content: &str,
    extras: Extras,
) -> StoredMessage {
    let id = s.world.next_id();
    StoredMessage {
        sim: crate::records::SimMessage {
            id,
            channel_id,
            author: bot.clone(),
            content: content.to_owned(),
            edits: Vec::new(),
            created_at: Instant::now(),
            edited_at: Vec::new(),
            reply_to: None,
            components: extras.components,
        },
        timestamp: crate::clock::now_iso(),
        edited_timestamp: None,
        mentions: Vec::new(),
        mention_everyone: false,
        flags: extras.flags,
    }
}

/// What a webhook call addresses.
#[derive(Clone, Copy)]
enum Target {
    Followup,
    Original,
    Message(u64),
}

fn webhook(
    inner: &Inner,
    s: &mut State,
    app: &str,
    token: &str,
    target: Target,
    method: &Method,
    body: Option<&Value>,
) -> Reply {
    let now = Instant::now();
    let known = s
        .interactions
        .by_token_mut(token)
        .map(|i| (i.id, now.saturating_duration_since(i.dispatched_at)));
    let (reply, message_id) = webhook_inner(inner, s, app, token, target, method, body, now);
    s.rec.webhook_calls.push(WebhookCallRecord {
        interaction_id: known.map(|k| k.0),
        method: method.to_string(),
        target: match target {
            Target::Followup => "followup".to_owned(),
            Target::Original => "@original".to_owned(),
            Target::Message(id) => id.to_string(),
        },
        status: reply.status,
        error_code: error_code(&reply),
        at: now,
        after: known.map(|k| k.1),
        message_id,
        body: body.cloned(),
    });
    reply
}

#[allow(clippy::too_many_arguments)]
fn webhook_inner(
    inner: &Inner,
    s: &mut State,
    app: &str,
    token: &str,
    target: Target,
    method: &Method,
    body: Option<&Value>,
    now: Instant,
) -> (Reply, Option<u64>) {
    if app.parse::<u64>().ok() != Some(s.world.bot.id) {
        return (unknown_webhook(), None);
    }
    let config = &inner.config;
    let Some(interaction) = s.interactions.by_token_mut(token) else {
        return (invalid_webhook_token(), None);
    };
    let alive = interaction.token_alive(
        now,
        config.interaction_callback_deadline,
        config.interaction_token_life,
    );
    if !alive {
        return (invalid_webhook_token(), None);
    }
    if !interaction.acknowledged {
        return (unknown_webhook(), None);
    }
    let (id, channel_id, user_id, original) = (
        interaction.id,
        interaction.channel_id,
        interaction.user.id,
        interaction.original,
    );
    let answer = match answer(body) {
        Ok(a) => a,
        Err(refused) => return (refused, None),
    };
    let addressed = match target {
        Target::Original => original,
        Target::Message(m) => {
            if s.interactions.ephemeral_mut(id, m).is_some() {
                Original::Ephemeral(m)
            } else {
                Original::Channel(m)
            }
        }
        Target::Followup => {
            // Right after a deferred answer, the first follow-up fills in
            // the loading message (Discord keeps this for compatibility).
            if is_loading(s, id, channel_id, original) {
                original
            } else {
                if answer.content.as_deref().unwrap_or_default().is_empty()
                    && answer.components.as_ref().is_none_or(|c| c == &json!([]))
                {
                    return (
                        Reply::error(400, 50006, "Cannot send an empty message"),
                        None,
                    );
                }
                return match post_answer(s, id, channel_id, user_id, &answer, false) {
                    Ok(created) => render(s, id, channel_id, created),
                    Err(refused) => (refused, None),
                };
            }
        }
    };
    if *method == Method::GET {
        return render(s, id, channel_id, addressed);
    }
    match addressed {
        Original::None => (Reply::error(404, 10008, "Unknown Message"), None),
        Original::Channel(message_id) => {
            let current = match s.world.message(channel_id, message_id) {
                Ok(m) => m.sim.content.clone(),
                Err(e) => return (world_error(e), None),
            };
            let content = answer.content.clone().unwrap_or(current);
            match s
                .world
                .edit_message(channel_id, message_id, &content, answer.components)
            {
                Ok(stored) => {
                    events::message(s, "MESSAGE_UPDATE", &stored);
                    render(s, id, channel_id, addressed)
                }
                Err(e) => (world_error(e), None),
            }
        }
        Original::Ephemeral(message_id) => {
            let Some(stored) = s.interactions.ephemeral_mut(id, message_id) else {
                return (Reply::error(404, 10008, "Unknown Message"), None);
            };
            if let Some(content) = &answer.content {
                stored.sim.content.clone_from(content);
                stored.sim.edits.push(content.clone());
                stored.sim.edited_at.push(now);
                stored.edited_timestamp = Some(crate::clock::now_iso());
            }
            if let Some(components) = &answer.components {
                stored.sim.components = components.clone();
            }
            stored.flags &= !MESSAGE_FLAG_LOADING;
            let (content, components) = (stored.sim.content.clone(), stored.sim.components.clone());
            if let Some(record) = s.rec.ephemeral.iter_mut().find(|e| e.id == message_id) {
                if answer.content.is_some() {
                    record.edits.push(content.clone());
                }
                record.content = content;
                record.components = components;
            }
            render(s, id, channel_id, addressed)
        }
    }
}

fn is_loading(s: &mut State, interaction_id: u64, channel_id: u64, original: Original) -> bool {
    let flags = match original {
        Original::None => return false,
        Original::Channel(m) => s.world.message(channel_id, m).map(|m| m.flags).unwrap_or(0),
        Original::Ephemeral(m) => s
            .interactions
            .ephemeral_mut(interaction_id, m)
            .map_or(0, |m| m.flags),
    };
    flags & MESSAGE_FLAG_LOADING != 0
}

/// The message JSON of an interaction's message.
fn render(
    s: &mut State,
    interaction_id: u64,
    channel_id: u64,
    which: Original,
) -> (Reply, Option<u64>) {
    let unknown = || (Reply::error(404, 10008, "Unknown Message"), None);
    match which {
        Original::None => unknown(),
        Original::Channel(m) => match s.world.message(channel_id, m) {
            Ok(stored) => (
                Reply::json(200, payloads::message(&s.world, stored, false)),
                Some(m),
            ),
            Err(_) => unknown(),
        },
        Original::Ephemeral(m) => {
            let Some(stored) = s.interactions.ephemeral_mut(interaction_id, m).cloned() else {
                return unknown();
            };
            (
                Reply::json(200, payloads::message(&s.world, &stored, false)),
                Some(m),
            )
        }
    }
}
