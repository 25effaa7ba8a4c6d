//! Discord: the supervised gateway connection, its liveness rules, the
//! close-code policy, event mapping and the REST client.

pub mod cause;
pub mod commands;
pub mod directory;
pub mod events;
pub mod gateway;
pub mod handover;
pub mod history;
pub mod holds;
pub mod identify_queue;
pub mod interaction_routes;
pub mod interactions;
pub mod invalid_requests;
pub mod outbound;
pub mod pacing;
pub mod probe;
pub mod rest;
pub mod rest_buttons;
pub mod rest_call;
pub mod route;
pub mod shard_plan;
pub mod shard_reader;
pub mod watchdog;

pub use cause::{CloseCode, DiscordCause};
pub use directory::ChannelDirectory;
pub use gateway::DiscordGateway;
pub use handover::{ResumeState, SessionPublisher};
pub use history::{BotUserId, DiscordHistory};
pub use identify_queue::IdentifyGate;
pub use invalid_requests::InvalidRequests;
pub use outbound::DiscordOutbound;
pub use probe::DiscordProbe;
pub use rest::DiscordRest;
pub use shard_plan::{ShardPlan, shard_connection_name, shard_session_key};
