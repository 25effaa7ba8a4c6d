//! discord-sim: a protocol-faithful fake Discord (API v10) for tests and
//! demos. One loopback port serves the gateway WebSocket (any path, e.g.
//! `/?v=10&encoding=json`), REST under `/api/v10`, and a control API under
//! `/_sim`. Everything it sends deserializes into twilight-model 0.18 types.
//!
//! Module map:
//! - `config`    static configuration (bot, guilds, channels, shards, limits)
//! - `shards`    which shard gets a guild's events; IDENTIFY's `shard`
//! - `sim`       the `DiscordSim` handle: start/stop, world, records, waiting
//! - `faults`    fault switches on the handle (gateway and REST)
//! - `state`     the one locked state and its change signal
//! - `sessions`  gateway sessions, sequence numbers, replay buffers, fan-out
//! - `dispatch_faults` muted and delayed dispatch kinds, muted records
//! - `gateway`   WebSocket connection tasks; `gateway::ops` handles op 1/2/6
//! - `events`    world changes -> dispatches, with intent rules
//! - `rest`      REST pipeline (faults, auth, rate limits), routes, nonces
//! - `world`     channels, threads, messages, reactions, ids
//! - `components` message components (action rows, buttons) validation
//! - `commands`  application commands: validation and the registered set
//! - `interactions` live interactions, their clocks, ephemeral messages
//! - `interact`  `click_button` / `run_command` and `InteractionHandle`
//! - `form_error` Discord's nested "Invalid Form Body" errors
//! - `payloads`  the JSON shapes Discord sends
//! - `records`   what tests assert on
//! - `control`   the /_sim HTTP control API
//! - `server`    the listener and routing
//! - `clock`     wall-clock timestamps and session ids
//!
//! Must never hold its state lock across an `.await`, and never wait on a
//! peer without a deadline.

mod clock;
mod commands;
mod components;
pub mod config;
mod control;
mod dispatch_faults;
mod events;
mod faults;
mod form_error;
mod gateway;
mod interact;
mod interactions;
mod payloads;
pub mod records;
mod rest;
mod server;
mod sessions;
mod shards;
mod sim;
mod state;
mod world;

pub use config::{RateLimits, ResponseFault, RestFault, SimChannel, SimConfig, SimGuild, SimUser};
pub use events::intents;
pub use interact::{InteractionError, InteractionHandle};
pub use records::{
    CallbackRecord, ConnectionRecord, EphemeralMessage, HeartbeatRecord, IdentifyRecord,
    InteractionRecord, MutedDispatch, ReadyKind, ReadyRecord, RestCall, ResumeRecord, SimMessage,
    SimThread, WebhookCallRecord,
};
pub use shards::{ShardPair, shard_of};
pub use sim::DiscordSim;
