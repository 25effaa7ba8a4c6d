//! slack-sim: a protocol-faithful fake Slack for tests and demos. One
//! loopback port serves the Web API under `api_base_path` (default `/api`,
//! so a client's `api_url` is `http://127.0.0.1:PORT/api`), Socket Mode
//! WebSockets at `/socket?ticket=...` (URLs come from
//! `apps.connections.open`), and a control API under `/_sim`.
//!
//! Module map:
//! - `config`    static configuration (tokens, ids, channels, timing) and fault types
//! - `protocol`  Slack facts as types: `Ts`, `DisconnectReason`, error codes
//! - `sim`       the `SlackSim` handle: start/stop, workspace, records, waiting
//! - `faults`    fault switches on the handle (Socket Mode and Web API)
//! - `state`     the one locked state and its change signal
//! - `sockets`   connection registry: tickets, phases, silence, picking
//! - `socket`    WebSocket connection tasks: hello, acks, disconnects, close
//! - `delivery`  envelopes, acks, redelivery timer
//! - `event_faults` muted and delayed event kinds, muted records
//! - `events`    workspace changes -> Events API events
//! - `blocks`    Block Kit checks (Slack's limits) and the ids Slack fills in
//! - `interactions` button clicks and slash commands: envelopes, acks,
//!   responses, ephemeral messages
//! - `interaction_payloads` the block_actions and slash command payloads
//! - `response_url` the response_url rules (30 min, 5 uses)
//! - `sim_interactions` the handle's interaction methods, `InteractionHandle`
//! - `web`       Web API pipeline (faults, auth, rate limits) and methods
//! - `world`     channels, users, messages, threads, reactions, pagination
//! - `payloads`  the JSON shapes Slack sends
//! - `records`   what tests assert on
//! - `control`   the /_sim HTTP control API
//! - `server`    the listener and routing
//! - `clock`     message timestamps and ids
//!
//! Must never hold its state lock across an `.await`, and never wait on a
//! peer without a deadline.

mod blocks;
mod clock;
pub mod config;
mod control;
mod delivery;
mod event_faults;
mod events;
mod faults;
mod interaction_payloads;
mod interactions;
mod payloads;
pub mod protocol;
pub mod records;
mod response_url;
mod server;
mod sim;
mod sim_interactions;
mod socket;
mod sockets;
mod state;
mod web;
mod world;

pub use config::{
    ConnectionPick, Fault, RateLimit, ResponseFault, SlackChannel, SlackSimConfig, TokenKind,
};
pub use interactions::InteractionError;
pub use protocol::DisconnectReason;
pub use records::{
    AckRecord, ConnectionRecord, DeliveryRecord, EphemeralMessage, EphemeralSource,
    InteractionKind, InteractionOutcome, InteractionRecord, MutedEvent, OpenRecord, ResponseUrlUse,
    SlackMessage, WebCall,
};
pub use sim::{SlackSim, SlackUser};
pub use sim_interactions::InteractionHandle;
