//! The simulator's one shared state behind one std mutex, and the change
//! signal that `wait_until` sleeps on.
//!
//! Every mutation goes through `Inner::update`, which bumps the change
//! counter after the lock is released. The lock is never held across an
//! `.await` (the closures passed in are synchronous).

use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::commands::Commands;
use crate::config::{RateLimits, ResponseFault, RestFault, SimConfig};
use crate::interactions::Interactions;
use crate::records::{
    CallbackRecord, ConnectionRecord, EphemeralMessage, HeartbeatRecord, IdentifyRecord,
    InteractionRecord, ReadyRecord, RestCall, ResumeRecord, WebhookCallRecord,
};
use crate::rest::ratelimit::Buckets;
use crate::sessions::Gateway;
use crate::world::World;

/// Runtime fault switches.
#[derive(Debug)]
pub(crate) struct Switches {
    pub token_valid: bool,
    pub message_content_intent_allowed: bool,
    pub heartbeat_acks: bool,
    pub refuse: bool,
    pub refuse_until: Option<Instant>,
}

impl Switches {
    pub fn refusing(&self, now: Instant) -> bool {
        self.refuse || self.refuse_until.is_some_and(|until| now < until)
    }
}

/// Everything recorded for tests.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub identifies: Vec<IdentifyRecord>,
    pub resumes: Vec<ResumeRecord>,
    pub heartbeats: Vec<HeartbeatRecord>,
    pub connections: Vec<ConnectionRecord>,
    pub ready_sent: Vec<ReadyRecord>,
    pub rest_calls: Vec<RestCall>,
    pub interactions: Vec<InteractionRecord>,
    pub callbacks: Vec<CallbackRecord>,
    pub webhook_calls: Vec<WebhookCallRecord>,
    pub ephemeral: Vec<EphemeralMessage>,
}

impl Records {
    pub fn connection_mut(&mut self, id: u64) -> Option<&mut ConnectionRecord> {
        self.connections.iter_mut().rev().find(|c| c.id == id)
    }
}

/// An injected REST fault with its remaining uses.
#[derive(Debug)]
pub(crate) struct PendingFault {
    pub fault: RestFault,
    pub remaining: u32,
    pub path_contains: Option<String>,
}

/// An injected response fault with its remaining uses.
#[derive(Debug)]
pub(crate) struct PendingResponseFault {
    pub fault: ResponseFault,
    pub remaining: u32,
    pub path_contains: Option<String>,
}

#[derive(Debug)]
pub(crate) struct RestState {
    pub faults: Vec<PendingFault>,
    /// Faults applied after the request took effect (lost or late answers).
    pub response_faults: Vec<PendingResponseFault>,
    /// Recent message nonces (enforce_nonce).
    pub nonces: crate::rest::nonce::Nonces,
    pub limits: RateLimits,
    pub buckets: Buckets,
}

pub(crate) struct State {
    pub world: World,
    pub gw: Gateway,
    pub switches: Switches,
    pub rec: Records,
    pub rest: RestState,
    pub commands: Commands,
    pub interactions: Interactions,
}

pub(crate) struct Inner {
    pub addr: SocketAddr,
    pub config: SimConfig,
    pub origin: Instant,
    pub cancel: CancellationToken,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

impl Inner {
    pub fn new(addr: SocketAddr, config: SimConfig) -> Self {
        let state = State {
            world: World::new(&config),
            gw: Gateway::default(),
            switches: Switches {
                token_valid: true,
                message_content_intent_allowed: config.message_content_intent_allowed,
                heartbeat_acks: true,
                refuse: false,
                refuse_until: None,
            },
            rec: Records::default(),
            rest: RestState {
                faults: Vec::new(),
                response_faults: Vec::new(),
                nonces: Default::default(),
                limits: config.rate_limits.clone(),
                buckets: Buckets::default(),
            },
            commands: Commands::default(),
            interactions: Interactions::default(),
        };
        Self {
            addr,
            config,
            origin: Instant::now(),
            cancel: CancellationToken::new(),
            state: Mutex::new(state),
            changed: watch::channel(0).0,
        }
    }

    /// Mutates the state, then wakes every waiter.
    pub fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let out = {
            let mut guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut guard)
        };
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
        out
    }

    /// Reads the state without signalling a change.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        let guard = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&guard)
    }

    /// A receiver that sees every later change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn gateway_url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Whether a token (with or without "Bot ") is the valid one right now.
    pub fn token_ok(&self, state: &State, token: &str) -> bool {
        let token = token.strip_prefix("Bot ").unwrap_or(token);
        state.switches.token_valid && token == self.config.token
    }
}
