//! discord-sim: a protocol-faithful fake Discord (API v10) for tests and
//! demos. One loopback port serves the gateway WebSocket (any path, e.g.
//! `/?v=10&encoding=json`), REST under `/api/v10`, and a control API under
//! `/_sim`. Everything it sends deserializes into twilight-model 0.18 types.
//!
//! Module map:
//! - `config`    static configuration (bot, guild, channels, limits)
//! - `sim`       the `DiscordSim` handle: start/stop, world, records, waiting
//! - `faults`    fault switches on the handle (gateway and REST)
//! - `state`     the one locked state and its change signal
//! - `sessions`  gateway sessions, sequence numbers, replay buffers, fan-out
//! - `dispatch_faults` muted and delayed dispatch kinds, muted records
//! - `gateway`   WebSocket connection tasks; `gateway::ops` handles op 1/2/6
//! - `events`    world changes -> dispatches, with intent rules
//! - `rest`      REST pipeline (faults, auth, rate limits), routes, nonces
//! - `world`     channels, threads, messages, reactions, ids
//! - `payloads`  the JSON shapes Discord sends
//! - `records`   what tests assert on
//! - `control`   the /_sim HTTP control API
//! - `server`    the listener and routing
//! - `clock`     wall-clock timestamps and session ids
//!
//! Must never hold its state lock across an `.await`, and never wait on a
//! peer without a deadline.

mod clock;
pub mod config;
mod control;
mod dispatch_faults;
mod events;
mod faults;
mod gateway;
mod payloads;
pub mod records;
mod rest;
mod server;
mod sessions;
mod sim;
mod state;
mod world;

pub use config::{RateLimits, ResponseFault, RestFault, SimChannel, SimConfig, SimUser};
pub use events::intents;
pub use records::{
    ConnectionRecord, HeartbeatRecord, IdentifyRecord, MutedDispatch, ReadyKind, ReadyRecord,
    RestCall, ResumeRecord, SimMessage, SimThread,
};
pub use sim::DiscordSim;
