//! Slack over Socket Mode: supervised WebSocket connections for events, the
//! Web API for everything the bot does, and the id scheme that lets the
//! platform-independent broker address Slack threads.
//!
//! - `ids`       message ids (`channel:ts`) and thread keys
//! - `web`       the Web API client (bot and app tokens, 429 Retry-After)
//! - `mrkdwn`    Markdown -> Slack mrkdwn
//! - `outbound`  `ChatOutbound` over the Web API
//! - `history`   `ChatHistory` over conversations.history / .replies
//! - `probe`     the delivery check's `LatestProbe` (newest message, limit=1)
//! - `cause`     why a Socket Mode connection ended; the fatal/transient policy
//! - `events`    Events API payloads -> `ChatEvent`
//! - `socket`    one Socket Mode connection slot for the supervisor

pub mod cause;
pub mod events;
pub mod history;
pub mod ids;
pub mod mrkdwn;
pub mod outbound;
pub mod probe;
pub mod socket;
pub mod web;
