//! Slack Socket Mode: one supervised connection slot ([`SlackSocket`]).
//!
//! The app runs `connections` slots (default 2, as Slack spreads events
//! across an app's connections), each under its own `supervise` with its
//! own `ConnectionHealth` ("slack", "socket-0", "socket-1", ...), all
//! sharing one [`SharedIdentity`] and one [`SlotsShared`]:
//!
//! ```ignore
//! let identity = SharedIdentity::default();
//! let shared = SlotsShared::default();
//! for slot in 0..connections {
//!     let health = ConnectionHealth::new("slack", format!("socket-{slot}"));
//!     let socket = SlackSocket::new(slot, web.clone(), identity.clone(), shared.clone(),
//!         health.clone(), inbound.clone(), SocketSettings::default());
//!     spawn(supervise(socket, health, supervisor_config, stop.clone()));
//! }
//! ```
//!
//! One run of a slot (`run_once`): `auth.test` if nobody knows the bot's
//! identity yet; `apps.connections.open` for a fresh URL (each is good
//! once); connect; `hello` within `hello_deadline` makes the slot healthy
//! (and, if no other slot was live, sends `ChatEvent::SessionStarted` so
//! the broker catches up what may have been missed). Envelopes are handed
//! to the broker and acked at once, deduplicated by event_id across slots.
//! `disconnect: warning` opens the replacement link before the old one
//! closes and reads both meanwhile; `refresh_requested` and
//! `too_many_websockets` end the run (the supervisor reconnects);
//! `link_disabled` and refused tokens end it fatally. A session renewal
//! asked by the delivery check (`with_renewal`) drops the slot's links and
//! ends the run with "events not delivered"; the first slot live again
//! after it announces the new session (`SessionStarted`). Liveness: a
//! WebSocket ping every `ping_interval`, unanswered for `ping_deadline` ->
//! zombie, dropped at once.
//!
//! - `frames`    Socket Mode frames as types; the ack
//! - `envelope`  one envelope -> at most one `ChatEvent`
//! - `liveness`  hello deadline, ping schedule, pong deadline (pure)
//! - `link`      one WebSocket and its task
//! - `slots`     what the slots share: recent event ids, live count
//! - `slot`      one slot's run: open, hello, handover, ending

mod clicks;
pub use clicks::click_answer_from_route;
pub use commands::command_answer_from_route;
mod commands;
mod envelope;
mod frames;
mod link;
mod liveness;
mod pending_acks;
mod slot;
mod slots;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use frames::DisconnectReason;
pub use slots::{LiveSlot, SlotsShared};

/// Who the bot is, learnt once by whichever slot calls `auth.test` first.
pub use super::web::SharedIdentity;

use super::web::SlackWeb;
use crate::chat::InboundSender;
use crate::delivery::RenewalWatch;
use crate::health::ConnectionHealth;

/// Socket Mode timings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketSettings {
    /// How long a new connection may take to say `hello`.
    pub hello_deadline: Duration,
    /// How often a WebSocket ping is sent on each connection.
    pub ping_interval: Duration,
    /// How long a ping may go unanswered (and a write may take) before the
    /// connection is a zombie.
    pub ping_deadline: Duration,
    /// Bound on `auth.test`, `apps.connections.open` and the WebSocket
    /// connect, each.
    pub open_deadline: Duration,
}

impl Default for SocketSettings {
    fn default() -> Self {
        Self {
            hello_deadline: Duration::from_secs(10),
            ping_interval: Duration::from_secs(10),
            ping_deadline: Duration::from_secs(5),
            open_deadline: Duration::from_secs(10),
        }
    }
}

/// One Socket Mode connection slot, run by the supervisor.
pub struct SlackSocket {
    slot: usize,
    web: SlackWeb,
    identity: SharedIdentity,
    shared: SlotsShared,
    health: ConnectionHealth,
    inbound: InboundSender,
    settings: SocketSettings,
    /// Links opened by this slot so far (for logs).
    links_opened: u64,
    /// Asks for a new connection when events are not delivered.
    renewal: Option<RenewalWatch>,
    /// The session renewal the current run was started under.
    generation: u64,
}

impl SlackSocket {
    /// Slot `slot` of the app. `identity` and `shared` must be the same
    /// for every slot; `health` is this slot's own.
    pub fn new(
        slot: usize,
        web: SlackWeb,
        identity: SharedIdentity,
        shared: SlotsShared,
        health: ConnectionHealth,
        inbound: InboundSender,
        settings: SocketSettings,
    ) -> Self {
        Self {
            slot,
            web,
            identity,
            shared,
            health,
            inbound,
            settings,
            links_opened: 0,
            renewal: None,
            generation: 0,
        }
    }

    /// End the run (and open a fresh connection) whenever `renewal` asks:
    /// the delivery check found events this connection never delivered.
    pub fn with_renewal(mut self, renewal: RenewalWatch) -> Self {
        self.renewal = Some(renewal);
        self
    }

    /// The slot number given to [`SlackSocket::new`].
    pub fn slot(&self) -> usize {
        self.slot
    }
}
