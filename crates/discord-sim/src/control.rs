//! The control API under /_sim for manual use and scripts: inject messages,
//! click buttons and run slash commands as a user, trigger faults, read
//! records. No token; loopback peers only.
//!
//! A thin HTTP shell over `DiscordSim` methods; it must never change state
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

use crate::config::SimUser;
use crate::interact::{InteractionError, InteractionHandle};
use crate::sim::DiscordSim;
use crate::state::Inner;

pub(crate) fn router() -> Router<Arc<Inner>> {
    Router::new()
        .route("/messages", post(inject))
        .route("/faults/{kind}", post(fault))
        .route("/records", get(records))
        .route("/interactions/click", post(click))
        .route("/interactions/command", post(command))
}

/// A snowflake given as a JSON number or string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Snowflake {
    Number(u64),
    Text(String),
}

impl Snowflake {
    fn get(&self) -> Option<u64> {
        match self {
            Snowflake::Number(n) => Some(*n),
            Snowflake::Text(s) => s.parse().ok(),
        }
    }
}

#[derive(Deserialize)]
struct InjectBody {
    channel_id: Option<Snowflake>,
    author_id: Snowflake,
    author_name: String,
    content: String,
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

async fn inject(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<InjectBody>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let sim = DiscordSim::from_inner(inner);
    let channel_id = match &body.channel_id {
        Some(c) => c.get(),
        None => sim.channel_ids().first().copied(),
    };
    let (Some(channel_id), Some(author_id)) = (channel_id, body.author_id.get()) else {
        return bad_request("channel_id and author_id must be snowflakes");
    };
    let author = SimUser {
        id: author_id,
        name: body.author_name,
        bot: false,
    };
    let id = sim.inject_message(channel_id, &author, &body.content);
    Json(json!({ "id": id.to_string(), "channel_id": channel_id.to_string() })).into_response()
}

/// A user of the guild, as the control API names one.
#[derive(Deserialize)]
struct ActingUser {
    user_id: Snowflake,
    user_name: String,
}

impl ActingUser {
    fn user(&self) -> Option<SimUser> {
        Some(SimUser {
            id: self.user_id.get()?,
            name: self.user_name.clone(),
            bot: false,
        })
    }
}

#[derive(Deserialize)]
struct ClickBody {
    channel_id: Snowflake,
    message_id: Snowflake,
    custom_id: String,
    #[serde(flatten)]
    user: ActingUser,
    /// Skip the check that the message carries the button (a forged id).
    #[serde(default)]
    unchecked: bool,
}

#[derive(Deserialize)]
struct CommandBody {
    channel_id: Option<Snowflake>,
    name: String,
    #[serde(default)]
    options: Value,
    #[serde(flatten)]
    user: ActingUser,
}

/// `{"interaction_id", "token"}`, or 404 with the reason.
fn interaction_made(made: Result<InteractionHandle, InteractionError>) -> Response {
    match made {
        Ok(handle) => Json(json!({
            "interaction_id": handle.id().to_string(),
            "token": handle.token(),
        }))
        .into_response(),
        Err(e) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

async fn click(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<ClickBody>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let sim = DiscordSim::from_inner(inner);
    let (Some(channel_id), Some(message_id), Some(user)) = (
        body.channel_id.get(),
        body.message_id.get(),
        body.user.user(),
    ) else {
        return bad_request("channel_id, message_id and user_id must be snowflakes");
    };
    interaction_made(if body.unchecked {
        sim.click_button_unchecked(channel_id, message_id, &body.custom_id, &user)
    } else {
        sim.click_button(channel_id, message_id, &body.custom_id, &user)
    })
}

async fn command(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Json(body): Json<CommandBody>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let sim = DiscordSim::from_inner(inner);
    let channel_id = match &body.channel_id {
        Some(c) => c.get(),
        None => sim.channel_ids().first().copied(),
    };
    let (Some(channel_id), Some(user)) = (channel_id, body.user.user()) else {
        return bad_request("channel_id and user_id must be snowflakes");
    };
    interaction_made(sim.run_command(channel_id, &user, &body.name, body.options))
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
    let sim = DiscordSim::from_inner(inner);
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

/// The `events` query parameter: dispatch names separated by commas.
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
            "events is required, e.g. events=MESSAGE_CREATE".to_owned(),
        ));
    }
    Ok(kinds)
}

/// `kind` and its query: drop, reconnect, heartbeat,
/// invalid_session?resumable=, close?code=, acks?enabled=, silent?on=,
/// refuse?on=, token?valid=, mute?events=A,B&all_sessions=, unmute,
/// delay?events=A,B&ms= (ms=0 ends it).
fn apply_fault(
    sim: &DiscordSim,
    kind: &str,
    q: &HashMap<String, String>,
) -> Result<(), FaultError> {
    let flag = |name: &str, default: bool| -> Result<bool, FaultError> {
        match q.get(name).map(String::as_str) {
            None => Ok(default),
            Some("true" | "1" | "on") => Ok(true),
            Some("false" | "0" | "off") => Ok(false),
            Some(_) => Err(FaultError::Bad(format!("{name} must be true or false"))),
        }
    };
    match kind {
        "drop" => sim.drop_connections(),
        "reconnect" => sim.send_reconnect(),
        "heartbeat" => sim.request_heartbeat(),
        "invalid_session" => sim.send_invalid_session(flag("resumable", false)?),
        "close" => {
            let code = match q.get("code") {
                None => 4000,
                Some(c) => c
                    .parse::<u16>()
                    .map_err(|_| FaultError::Bad("code must be a u16".to_owned()))?,
            };
            sim.close_connections(code);
        }
        "acks" => sim.set_heartbeat_acks(flag("enabled", true)?),
        "silent" => sim.set_silent(flag("on", true)?),
        "refuse" => sim.set_refuse_connections(flag("on", true)?),
        "token" => sim.set_token_valid(flag("valid", true)?),
        "mute" => {
            let kinds = kinds(q)?;
            if flag("all_sessions", false)? {
                sim.mute_dispatches_all_sessions(&kinds);
            } else {
                sim.mute_dispatches(&kinds);
            }
        }
        "unmute" => sim.unmute_dispatches(),
        "delay" => {
            let ms = q
                .get("ms")
                .ok_or_else(|| FaultError::Bad("ms is required".to_owned()))?
                .parse::<u64>()
                .map_err(|_| FaultError::Bad("ms must be a whole number".to_owned()))?;
            sim.delay_dispatches(&kinds(q)?, Duration::from_millis(ms));
        }
        _ => return Err(FaultError::Unknown),
    }
    Ok(())
}

async fn records(
    State(inner): State<Arc<Inner>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
) -> Response {
    if let Some(denied) = forbidden_unless_loopback(peer) {
        return denied;
    }
    let sim = DiscordSim::from_inner(inner);
    let mut all: Value = sim.records_json();
    all["last_session_id"] = json!(sim.last_session_id());
    Json(all).into_response()
}
