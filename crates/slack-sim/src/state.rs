//! The simulator's one shared state behind one std mutex, and the change
//! signal that `wait_until` (and the redelivery timer) sleep on.
//!
//! Every mutation goes through `Inner::update`, which bumps the change
//! counter after the lock is released. The lock is never held across an
//! `.await` (the closures passed in are synchronous).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};

use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{ConnectionPick, Fault, RateLimit, SlackSimConfig, TokenKind};
use crate::delivery::Delivery;
use crate::interactions::Interactions;
use crate::records::{AckRecord, ConnectionRecord, DeliveryRecord, OpenRecord, WebCall};
use crate::sockets::Sockets;
use crate::world::World;

/// Runtime fault switches.
#[derive(Debug)]
pub(crate) struct Switches {
    pub bot_token_valid: bool,
    pub app_token_valid: bool,
    /// `apps.connections.open` answers HTTP 503.
    pub refuse_open: bool,
    /// Socket Mode is off: `apps.connections.open` answers `link_disabled`.
    pub link_disabled: bool,
    pub pick: ConnectionPick,
}

/// Everything recorded for tests.
#[derive(Debug, Default)]
pub(crate) struct Records {
    pub connections: Vec<ConnectionRecord>,
    pub opens: Vec<OpenRecord>,
    pub deliveries: Vec<DeliveryRecord>,
    pub acks: Vec<AckRecord>,
    pub web_calls: Vec<WebCall>,
}

impl Records {
    pub fn connection_mut(&mut self, id: u64) -> Option<&mut ConnectionRecord> {
        self.connections.iter_mut().rev().find(|c| c.id == id)
    }
}

/// An injected Web API fault with its remaining uses.
#[derive(Debug)]
pub(crate) struct PendingFault {
    pub fault: Fault,
    pub remaining: u32,
    pub method_contains: String,
}

/// A fixed rate-limit window of one method.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Window {
    pub start: Instant,
    pub count: u32,
}

/// An injected response fault with its remaining uses.
#[derive(Debug)]
pub(crate) struct PendingResponseFault {
    pub fault: crate::config::ResponseFault,
    pub remaining: u32,
    pub method_contains: String,
}

#[derive(Debug, Default)]
pub(crate) struct WebState {
    pub faults: Vec<PendingFault>,
    /// Faults applied after the call took effect (lost or late answers).
    pub response_faults: Vec<PendingResponseFault>,
    pub limits: HashMap<String, RateLimit>,
    pub windows: HashMap<String, Window>,
}

pub(crate) struct State {
    pub world: World,
    pub sock: Sockets,
    pub delivery: Delivery,
    pub switches: Switches,
    pub rec: Records,
    pub web: WebState,
    pub interactions: Interactions,
}

pub(crate) struct Inner {
    pub addr: SocketAddr,
    pub config: SlackSimConfig,
    pub origin: Instant,
    pub cancel: CancellationToken,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

impl Inner {
    pub fn new(addr: SocketAddr, config: SlackSimConfig) -> Self {
        let state = State {
            world: World::new(&config),
            sock: Sockets::default(),
            delivery: Delivery::default(),
            switches: Switches {
                bot_token_valid: true,
                app_token_valid: true,
                refuse_open: false,
                link_disabled: false,
                pick: config.pick,
            },
            rec: Records::default(),
            web: WebState {
                limits: config.rate_limits.clone(),
                ..WebState::default()
            },
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

    pub fn api_url(&self) -> String {
        format!("{}{}", self.http_url(), self.config.api_base_path)
    }

    /// Which configured token `token` is, if it is currently valid.
    pub fn token_kind(&self, s: &State, token: &str) -> Option<TokenKind> {
        if token == self.config.bot_token && s.switches.bot_token_valid {
            Some(TokenKind::Bot)
        } else if token == self.config.app_token && s.switches.app_token_valid {
            Some(TokenKind::App)
        } else {
            None
        }
    }
}
