//! response_url: the URL an interaction payload carries, on which the app
//! may answer that interaction with `{text, blocks?, response_type?,
//! thread_ts?, replace_original?, delete_original?}`. Slack's documented
//! limits: valid for 30 minutes (`response_url_life`) and at most 5 uses
//! (`response_url_max_uses`); past them, HTTP 404 with `expired_url` /
//! `used_url`. A refused post does not count as a use. An unknown URL gets
//! 404 `no_service` (what Slack's hooks say for a URL they never issued).
//!
//! `replace_original` / `delete_original` act on the message whose button
//! was clicked (as the app: only the bot's own messages); a slash command
//! has no original, so its responses are always new messages. New messages
//! are ephemeral to the interacting user unless `response_type` is
//! `in_channel`.
//!
//! Runs under the state lock; it must never await.

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::blocks;
use crate::config::SlackSimConfig;
use crate::events;
use crate::interactions::{self, Target};
use crate::records::{EphemeralSource, ResponseUrlUse};
use crate::state::State;
use crate::world::Edit;

/// An HTTP answer to a response_url post.
#[derive(Debug)]
pub(crate) struct UrlAnswer {
    pub status: u16,
    pub body: Value,
}

/// One POST to the response_url with secret id `url_id`.
pub(crate) fn post(s: &mut State, config: &SlackSimConfig, url_id: &str, body: Value) -> UrlAnswer {
    let now = Instant::now();
    let outcome = apply(s, config, url_id, &body, now);
    let envelope_id = s
        .interactions
        .urls
        .get(url_id)
        .map(|u| u.envelope_id.clone())
        .unwrap_or_default();
    let (status, error, effect) = match outcome {
        Ok(effect) => (200, None, Some(effect.to_owned())),
        Err((status, error)) => (status, Some(error.to_owned()), None),
    };
    s.interactions.response_uses.push(ResponseUrlUse {
        envelope_id,
        at: now,
        status,
        error: error.clone(),
        effect,
        body,
    });
    let body = match error {
        None => json!({ "ok": true }),
        Some(error) => json!({ "ok": false, "error": error }),
    };
    UrlAnswer { status, body }
}

type Refusal = (u16, &'static str);

fn apply(
    s: &mut State,
    config: &SlackSimConfig,
    url_id: &str,
    body: &Value,
    now: Instant,
) -> Result<&'static str, Refusal> {
    let url = s
        .interactions
        .urls
        .get(url_id)
        .cloned()
        .ok_or((404, "no_service"))?;
    if now.saturating_duration_since(url.created_at) >= config.response_url_life {
        return Err((404, "expired_url"));
    }
    if url.uses >= config.response_url_max_uses {
        return Err((404, "used_url"));
    }
    if !body.is_object() {
        return Err((400, "invalid_payload"));
    }
    let flag = |key: &str| body.get(key).and_then(Value::as_bool).unwrap_or(false);
    let effect = match url.original {
        Some(ts) if flag("delete_original") => {
            let gone = s
                .world
                .delete(&url.channel, ts, &config.bot_id)
                .map_err(|e| (400, e.as_str()))?;
            events::message_deleted(s, config, &gone);
            "deleted"
        }
        Some(ts) if flag("replace_original") => {
            let blocks = blocks::parse(body.get("blocks").cloned())
                .map_err(|e| (400, e.as_str()))?
                .unwrap_or_default();
            let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
            if text.is_empty() && blocks.is_empty() {
                return Err((400, "no_text"));
            }
            let edit = Edit {
                text: Some(text.to_owned()),
                blocks: Some(blocks),
            };
            let (before, after) = s
                .world
                .update(&url.channel, ts, edit, &config.bot_id)
                .map_err(|e| (400, e.as_str()))?;
            events::message_changed(s, config, &before, &after);
            "replaced"
        }
        _ => {
            let target = Target {
                channel: &url.channel,
                user: &url.user,
                thread: url.thread,
            };
            interactions::respond(s, config, &target, body, EphemeralSource::ResponseUrl)
                .map_err(|e| (400, e))?
        }
    };
    if let Some(u) = s.interactions.urls.get_mut(url_id) {
        u.uses += 1;
    }
    Ok(effect)
}
