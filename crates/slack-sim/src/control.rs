//! The control API under /_sim for manual use and scripts: post user
//! messages, deliver raw events, click buttons, run slash commands,
//! trigger faults, read records. No token; loopback peers only. It also
//! serves the response_urls handed out in interaction payloads
//! (`/_sim/response/{id}`), which the app posts to.
//!
//! A thin HTTP shell over `SlackSim` methods; it must never change state
//! any other way.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::TokenKind;
use crate::interactions::InteractionError;
use crate::protocol::DisconnectReason;
use crate::sim::SlackSim;
use crate::sim_interactions::InteractionHandle;
use crate::state::Inner;

pub(crate) fn router() -> Router<Arc<Inner>> {
    Router::new()
        .route("/messages", post(message))
        .route("/events", post(event))
        .route("/faults/{kind}", post(fault))
        .route("/click", post(click))
        .route("/slash", post(slash))
        .route("/response/{id}", post(response_url))
        .route("/records", get(records))
}

#[derive(Deserialize)]
struct MessageBody {
    channel: Option<String>,
    user: String,
    text: String,
    thread_ts: Option<String>,
}

fn forbidden_unless_loopback(peer: SocketAddr) -> Option<Response> {
    (!peer.ip().is_loopback()).then(|| {
        (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "control API is loopback-only" })),
        )
            .into_response()
    })
}

fn bad_request(what: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": what }))).into_response()
}

/// POST /_sim/messages {channel?, user, text, thread_ts?} -> {ts, channel}.
async fn message(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<MessageBody>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let sim = SlackSim::from_inner(inner);
    let Some(channel) = body.channel.or_else(|| sim.channel_ids().first().cloned()) else {
        return bad_request("channel is required");
    };
    let ts = sim.post_user_message(&channel, &body.user, &body.text, body.thread_ts.as_deref());
    Json(json!({ "ts": ts, "channel": channel })).into_response()
}

/// POST /_sim/events <event object> -> {envelope_id}.
async fn event(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(event): Json<Value>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let envelope_id = SlackSim::from_inner(inner).deliver_raw_event(event);
    Json(json!({ "envelope_id": envelope_id })).into_response()
}

async fn fault(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(kind): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let sim = SlackSim::from_inner(inner);
    match apply_fault(&sim, &kind, &q) {
        Ok(()) => Json(json!({ "ok": true, "fault": kind })).into_response(),
        Err(FaultError::Unknown) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": format!("unknown fault {kind:?}") })),
        )
            .into_response(),
        Err(FaultError::Bad(what)) => bad_request(&what),
    }
}

enum FaultError {
    Unknown,
    Bad(String),
}

/// The `events` query parameter: event types separated by commas.
fn kinds(q: &HashMap<String, String>) -> Result<Vec<&str>, FaultError> {
    let kinds: Vec<&str> = q
        .get("events")
        .map(|e| {
            e.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if kinds.is_empty() {
        return Err(FaultError::Bad(
            "events is required, e.g. events=message,app_mention".to_owned(),
        ));
    }
    Ok(kinds)
}

/// `kind` and its query: disconnect?reason=, drop, silent?on=,
/// silence_current, refuse_open?on=, link_disabled?on=,
/// token?which=bot|app&valid=, redeliver_last,
/// mute?events=message,app_mention&all_connections=, unmute,
/// delay?events=message&ms= (ms=0 ends it).
fn apply_fault(sim: &SlackSim, kind: &str, q: &HashMap<String, String>) -> Result<(), FaultError> {
    let flag = |name: &str, default: bool| -> Result<bool, FaultError> {
        match q.get(name).map(String::as_str) {
            None => Ok(default),
            Some("true" | "1" | "on") => Ok(true),
            Some("false" | "0" | "off") => Ok(false),
            Some(_) => Err(FaultError::Bad(format!("{name} must be true or false"))),
        }
    };
    match kind {
        "disconnect" => {
            let reason = q.get("reason").map_or("warning", String::as_str);
            let reason = DisconnectReason::parse(reason)
                .ok_or_else(|| FaultError::Bad(format!("unknown reason {reason:?}")))?;
            sim.send_disconnect(reason);
        }
        "drop" => sim.drop_connections(),
        "silent" => sim.set_silent(flag("on", true)?),
        "silence_current" => sim.silence_current_connections(),
        "refuse_open" => sim.set_refuse_open(flag("on", true)?),
        "link_disabled" => sim.set_link_disabled(flag("on", true)?),
        "token" => {
            let which = match q.get("which").map(String::as_str) {
                Some("bot") | None => TokenKind::Bot,
                Some("app") => TokenKind::App,
                Some(_) => return Err(FaultError::Bad("which must be bot or app".to_owned())),
            };
            sim.set_token_valid(which, flag("valid", true)?);
        }
        "redeliver_last" => {
            sim.redeliver_last();
        }
        "mute" => {
            let kinds = kinds(q)?;
            if flag("all_connections", false)? {
                sim.mute_events_all_connections(&kinds);
            } else {
                sim.mute_events(&kinds);
            }
        }
        "unmute" => sim.unmute_events(),
        "delay" => {
            let ms = q
                .get("ms")
                .ok_or_else(|| FaultError::Bad("ms is required".to_owned()))?
                .parse::<u64>()
                .map_err(|_| FaultError::Bad("ms must be a whole number".to_owned()))?;
            sim.delay_events(&kinds(q)?, Duration::from_millis(ms));
        }
        _ => return Err(FaultError::Unknown),
    }
    Ok(())
}

#[derive(Deserialize)]
struct ClickBody {
    channel: Option<String>,
    message_ts: String,
    action_id: String,
    user: String,
}

#[derive(Deserialize)]
struct SlashBody {
    channel: Option<String>,
    user: String,
    command: String,
    #[serde(default)]
    text: String,
}

fn started(result: Result<InteractionHandle, InteractionError>) -> Response {
    match result {
        Ok(h) => Json(json!({
            "envelope_id": h.envelope_id, "response_url": h.response_url,
            "trigger_id": h.trigger_id, "outcome": h.outcome.as_str(),
        }))
        .into_response(),
        Err(e) => bad_request(&e.to_string()),
    }
}

/// POST /_sim/click {channel?, message_ts, action_id, user}
/// -> {envelope_id, response_url, trigger_id, outcome}.
async fn click(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<ClickBody>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let sim = SlackSim::from_inner(inner);
    let Some(channel) = body.channel.or_else(|| sim.channel_ids().first().cloned()) else {
        return bad_request("channel is required");
    };
    started(sim.click_button(&channel, &body.message_ts, &body.action_id, &body.user))
}

/// POST /_sim/slash {channel?, user, command, text?} -> as /_sim/click.
async fn slash(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<SlashBody>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let sim = SlackSim::from_inner(inner);
    let Some(channel) = body.channel.or_else(|| sim.channel_ids().first().cloned()) else {
        return bad_request("channel is required");
    };
    started(sim.run_slash_command(&channel, &body.user, &body.command, &body.text))
}

/// POST /_sim/response/{id} {text?, blocks?, response_type?, thread_ts?,
/// replace_original?, delete_original?}: a response_url (JSON body, as
/// Slack takes it).
async fn response_url(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let answer = SlackSim::from_inner(inner).post_response_url(&id, body);
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST);
    (status, Json(answer.body)).into_response()
}

async fn records(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    Json(SlackSim::from_inner(inner).records_json()).into_response()
}
