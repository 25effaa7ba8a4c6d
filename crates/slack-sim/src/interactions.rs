//! Interactions: a user clicks a Block Kit button or runs a slash command.
//! Each becomes one `interactive` / `slash_commands` envelope (through
//! `delivery`, so connection choice, mute and delay rules are the events'
//! ones), a record of what became of it (acked, timed out, not sent), and a
//! response_url (see `response_url`). A slash command's ack may carry a
//! response (text/blocks, response_type ephemeral by default or
//! in_channel), which is shown as Slack would: to that user only, or as the
//! app's message in the channel. Ephemeral messages are kept here and never
//! in the channel's history.
//!
//! Bookkeeping under the state lock: it must never await or touch a socket.
//! The records grow with use like the sim's other records (a test's worth).

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use crate::blocks;
use crate::clock::{self, unix_now_secs};
use crate::config::SlackSimConfig;
use crate::delivery::{self, Dispatched, EnvelopeKind};
use crate::events;
use crate::interaction_payloads::{self as ip, Actor};
use crate::protocol::Ts;
use crate::records::{
    EphemeralMessage, EphemeralSource, InteractionKind, InteractionOutcome, InteractionRecord,
    ResponseUrlUse,
};
use crate::state::{Inner, State};

/// Why a click or command could not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InteractionError {
    /// No message with that ts in that channel.
    MessageNotFound,
    /// The message has no button with that action_id.
    ButtonNotFound,
    /// The command does not start with '/'.
    BadCommand,
}

impl std::fmt::Display for InteractionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            InteractionError::MessageNotFound => "message_not_found",
            InteractionError::ButtonNotFound => "button_not_found",
            InteractionError::BadCommand => "command must start with '/'",
        })
    }
}

impl std::error::Error for InteractionError {}

/// What one response_url may do, and how much of its life is used.
#[derive(Clone, Debug)]
pub(crate) struct ResponseUrl {
    pub envelope_id: String,
    pub created_at: Instant,
    pub uses: u32,
    pub channel: String,
    pub user: String,
    /// The message the button was on (block_actions only): what
    /// `replace_original` and `delete_original` act on.
    pub original: Option<Ts>,
    /// The thread a new response joins unless the body names one.
    pub thread: Option<Ts>,
}

#[derive(Debug, Default)]
pub(crate) struct Interactions {
    pub records: Vec<InteractionRecord>,
    pub ephemerals: Vec<EphemeralMessage>,
    pub response_uses: Vec<ResponseUrlUse>,
    /// By the secret id in the URL.
    pub urls: HashMap<String, ResponseUrl>,
    count: u64,
}

impl Interactions {
    fn record_mut(&mut self, envelope_id: &str) -> Option<&mut InteractionRecord> {
        self.records
            .iter_mut()
            .rev()
            .find(|r| r.envelope_id == envelope_id)
    }
}

/// What a new interaction returns to the caller.
#[derive(Clone, Debug)]
pub(crate) struct Started {
    pub envelope_id: String,
    pub response_url: String,
    pub trigger_id: String,
    pub outcome: InteractionOutcome,
}

/// The parts every interaction shares, before its payload is built.
struct Fresh {
    envelope_id: String,
    url_id: String,
    response_url: String,
    trigger_id: String,
}

fn fresh(inner: &Inner, s: &mut State) -> Fresh {
    s.interactions.count += 1;
    let url_id = clock::ticket();
    Fresh {
        envelope_id: clock::uuid4(),
        response_url: format!("{}/_sim/response/{url_id}", inner.http_url()),
        url_id,
        trigger_id: ip::trigger_id(unix_now_secs(), s.interactions.count),
    }
}

fn user_name(s: &State, id: &str) -> String {
    s.world
        .users
        .get(id)
        .map_or_else(|| id.to_owned(), |u| u.name.clone())
}

fn channel_name(s: &State, id: &str) -> String {
    s.world
        .channels
        .get(id)
        .cloned()
        .unwrap_or_else(|| id.to_owned())
}

/// `user` clicks the button `action_id` on the message `message_ts`.
pub(crate) fn click(
    inner: &Inner,
    s: &mut State,
    channel: &str,
    message_ts: &str,
    action_id: &str,
    user: &str,
) -> Result<Started, InteractionError> {
    let ts = Ts::parse(message_ts).ok_or(InteractionError::MessageNotFound)?;
    let m = s
        .world
        .find(channel, ts)
        .cloned()
        .ok_or(InteractionError::MessageNotFound)?;
    let (block_id, button) = blocks::find_button(&m.sim.blocks, action_id)
        .map(|(b, e)| (b.to_owned(), e.clone()))
        .ok_or(InteractionError::ButtonNotFound)?;
    let f = fresh(inner, s);
    let name = user_name(s, user);
    let click = ip::Click {
        actor: Actor {
            id: user,
            name: &name,
        },
        channel_name: &channel_name(s, channel),
        block_id: &block_id,
        button: &button,
        response_url: &f.response_url,
        trigger_id: &f.trigger_id,
    };
    let payload = ip::block_actions(&inner.config, &s.world, &m, &click);
    let url = ResponseUrl {
        envelope_id: f.envelope_id.clone(),
        created_at: Instant::now(),
        uses: 0,
        channel: channel.to_owned(),
        user: user.to_owned(),
        original: Some(m.ts),
        thread: m.thread_ts,
    };
    let record = InteractionRecord {
        kind: InteractionKind::BlockActions,
        action_id: Some(action_id.to_owned()),
        message_ts: Some(m.sim.ts.clone()),
        command: None,
        text: None,
        ..blank_record(&f, channel, user)
    };
    Ok(dispatch(
        inner,
        s,
        f,
        url,
        record,
        EnvelopeKind::Interactive,
        payload,
    ))
}

/// `user` runs `command text` in `channel` (Slack allows app commands in
/// channels only, never in threads).
pub(crate) fn slash_command(
    inner: &Inner,
    s: &mut State,
    channel: &str,
    user: &str,
    command: &str,
    text: &str,
) -> Result<Started, InteractionError> {
    if !command.starts_with('/') || command.len() < 2 {
        return Err(InteractionError::BadCommand);
    }
    let f = fresh(inner, s);
    let name = user_name(s, user);
    let cmd = ip::Command {
        actor: Actor {
            id: user,
            name: &name,
        },
        channel,
        channel_name: &channel_name(s, channel),
        command,
        text,
        response_url: &f.response_url,
        trigger_id: &f.trigger_id,
    };
    let payload = ip::slash_command(&inner.config, &cmd);
    let url = ResponseUrl {
        envelope_id: f.envelope_id.clone(),
        created_at: Instant::now(),
        uses: 0,
        channel: channel.to_owned(),
        user: user.to_owned(),
        original: None,
        thread: None,
    };
    let record = InteractionRecord {
        kind: InteractionKind::SlashCommand,
        action_id: None,
        message_ts: None,
        command: Some(command.to_owned()),
        text: Some(text.to_owned()),
        ..blank_record(&f, channel, user)
    };
    Ok(dispatch(
        inner,
        s,
        f,
        url,
        record,
        EnvelopeKind::SlashCommands,
        payload,
    ))
}

fn blank_record(f: &Fresh, channel: &str, user: &str) -> InteractionRecord {
    InteractionRecord {
        envelope_id: f.envelope_id.clone(),
        kind: InteractionKind::BlockActions,
        channel: channel.to_owned(),
        user: user.to_owned(),
        trigger_id: f.trigger_id.clone(),
        response_url: f.response_url.clone(),
        action_id: None,
        message_ts: None,
        command: None,
        text: None,
        created_at: Instant::now(),
        outcome: InteractionOutcome::Awaiting,
        acked_at: None,
        ack_latency: None,
        ack_payload: None,
        response_error: None,
    }
}

/// Records the interaction, registers its response_url, sends the envelope.
fn dispatch(
    inner: &Inner,
    s: &mut State,
    f: Fresh,
    url: ResponseUrl,
    mut record: InteractionRecord,
    kind: EnvelopeKind,
    payload: Value,
) -> Started {
    s.interactions.urls.insert(f.url_id, url);
    let sent = delivery::deliver_interaction(s, &inner.config, kind, &f.envelope_id, payload);
    record.outcome = match sent {
        Dispatched::Sent => InteractionOutcome::Awaiting,
        Dispatched::NoConnection => InteractionOutcome::NoConnection,
        Dispatched::Muted => InteractionOutcome::Muted,
    };
    if record.outcome != InteractionOutcome::Awaiting {
        tracing::debug!(envelope_id = %f.envelope_id, outcome = record.outcome.as_str(), "interaction not sent");
    }
    let outcome = record.outcome;
    s.interactions.records.push(record);
    Started {
        envelope_id: f.envelope_id,
        response_url: f.response_url,
        trigger_id: f.trigger_id,
        outcome,
    }
}

/// An ack for any envelope: if it is an interaction's, record it; an
/// in-time slash command ack with a payload is shown as its response.
pub(crate) fn on_ack(
    s: &mut State,
    config: &SlackSimConfig,
    envelope_id: &str,
    payload: Option<Value>,
    latency: Option<Duration>,
) {
    let Some(r) = s.interactions.record_mut(envelope_id) else {
        return;
    };
    if r.acked_at.is_some() {
        return;
    }
    r.acked_at = Some(Instant::now());
    r.ack_payload = payload.clone();
    let in_time = r.outcome == InteractionOutcome::Awaiting;
    if !in_time {
        return;
    }
    r.outcome = InteractionOutcome::Acked;
    r.ack_latency = latency;
    // Slack shows a response from the ack of a slash command only; a
    // block_actions ack's body is not a message.
    if r.kind != InteractionKind::SlashCommand {
        return;
    }
    let Some(body) = payload.filter(|p| p.get("text").is_some() || p.get("blocks").is_some())
    else {
        return;
    };
    let (channel, user) = (r.channel.clone(), r.user.clone());
    let target = Target {
        channel: &channel,
        user: &user,
        thread: None,
    };
    if let Err(error) = respond(s, config, &target, &body, EphemeralSource::CommandAck)
        && let Some(r) = s.interactions.record_mut(envelope_id)
    {
        r.response_error = Some(error.to_owned());
    }
}

/// An interaction's envelope went unacked past `ack_timeout`.
pub(crate) fn on_ack_timeout(s: &mut State, envelope_id: &str) {
    if let Some(r) = s.interactions.record_mut(envelope_id)
        && r.outcome == InteractionOutcome::Awaiting
    {
        tracing::debug!(envelope_id, "interaction not acked in time");
        r.outcome = InteractionOutcome::TimedOut;
    }
}

/// Where a new response message goes.
pub(crate) struct Target<'a> {
    pub channel: &'a str,
    /// Who sees an ephemeral response.
    pub user: &'a str,
    pub thread: Option<Ts>,
}

/// Shows a response body (`text`, `blocks`, `response_type`, `thread_ts`)
/// as a new message: to `user` only (ephemeral, the default) or as the
/// app's message in the channel. Returns "ephemeral" or "in_channel".
pub(crate) fn respond(
    s: &mut State,
    config: &SlackSimConfig,
    target: &Target<'_>,
    body: &Value,
    source: EphemeralSource,
) -> Result<&'static str, &'static str> {
    let blocks = blocks::parse(body.get("blocks").cloned())
        .map_err(|e| e.as_str())?
        .unwrap_or_default();
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
    if text.is_empty() && blocks.is_empty() {
        return Err("no_text");
    }
    let thread = body
        .get("thread_ts")
        .and_then(Value::as_str)
        .and_then(Ts::parse)
        .and_then(|t| s.world.thread_root(target.channel, t))
        .or(target.thread);
    let in_channel = body.get("response_type").and_then(Value::as_str) == Some("in_channel");
    if in_channel {
        let mut m = s.world.post(
            target.channel,
            &config.bot_user_id,
            Some(&config.bot_id),
            text,
            thread,
            None,
        );
        if !blocks.is_empty() {
            s.world.set_blocks(target.channel, m.ts, blocks.clone());
            m.sim.blocks = blocks;
        }
        events::bot_message(s, config, &m);
        return Ok("in_channel");
    }
    let message_ts = s.world.next_ts().to_string();
    s.interactions.ephemerals.push(EphemeralMessage {
        channel: target.channel.to_owned(),
        user: target.user.to_owned(),
        text: text.to_owned(),
        blocks,
        thread_ts: thread.map(|t| t.to_string()),
        message_ts,
        source,
        at: Instant::now(),
    });
    Ok("ephemeral")
}
