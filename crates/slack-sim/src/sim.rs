//! `SlackSim`, the cheap-to-clone handle tests hold: start/stop, the
//! workspace (inject user messages and raw events, read what the bot
//! posted), records, and waiting on changes. Fault switches are in `faults`.
//!
//! The handle only calls into `Inner`; it must never block on the network.
//! Dropping the last handle a test holds shuts the simulator down.

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::DropGuard;

use crate::config::SlackSimConfig;
use crate::delivery;
use crate::events;
use crate::protocol::Ts;
use crate::records::{
    AckRecord, ConnectionRecord, DeliveryRecord, MutedEvent, OpenRecord, RecordsJson, SlackMessage,
    WebCall,
};
use crate::server;
use crate::state::Inner;
use crate::world::UserInfo;

/// A running fake Slack. Clones share one simulator; it stops on
/// `shutdown()` or when the last clone held by user code is dropped.
#[derive(Clone)]
pub struct SlackSim {
    pub(crate) inner: Arc<Inner>,
    /// Cancels the simulator when the last user-held clone drops; `None` in
    /// the handles the server keeps for itself.
    _life: Option<Arc<DropGuard>>,
}

/// A (human) workspace member known to the sim.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlackUser {
    pub id: String,
    pub name: String,
}

impl std::fmt::Debug for SlackSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackSim")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl SlackSim {
    /// Starts on 127.0.0.1 with an ephemeral port.
    pub async fn start(config: SlackSimConfig) -> io::Result<SlackSim> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts on the given address (use a loopback address).
    pub async fn start_on(addr: SocketAddr, config: SlackSimConfig) -> io::Result<SlackSim> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::new(addr, config));
        server::spawn(inner.clone(), listener);
        delivery::spawn_redelivery(inner.clone());
        tracing::info!(%addr, "slack-sim listening");
        Ok(SlackSim {
            _life: Some(Arc::new(inner.cancel.clone().drop_guard())),
            inner,
        })
    }

    /// A handle that does not keep the simulator alive (for its own server).
    pub(crate) fn from_inner(inner: Arc<Inner>) -> SlackSim {
        SlackSim { inner, _life: None }
    }

    /// The Web API base, e.g. "http://127.0.0.1:PORT/api".
    pub fn api_url(&self) -> String {
        self.inner.api_url()
    }

    /// The listener's base URL (the control API is under `/_sim`).
    pub fn http_url(&self) -> String {
        self.inner.http_url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn bot_token(&self) -> String {
        self.inner.config.bot_token.clone()
    }

    pub fn app_token(&self) -> String {
        self.inner.config.app_token.clone()
    }

    pub fn bot_user_id(&self) -> String {
        self.inner.config.bot_user_id.clone()
    }

    pub fn team_id(&self) -> String {
        self.inner.config.team_id.clone()
    }

    pub fn app_id(&self) -> String {
        self.inner.config.app_id.clone()
    }

    pub fn channel_ids(&self) -> Vec<String> {
        self.inner
            .config
            .channels
            .iter()
            .map(|c| c.id.clone())
            .collect()
    }

    /// Stops the listener, the timer and every connection.
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }

    /// Whether `shutdown` was called (or the last handle dropped).
    pub fn is_shut_down(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// Sets the members of user group `id` (`usergroups.users.list`).
    pub fn set_usergroup(&self, id: &str, users: &[&str]) {
        let users: Vec<String> = users.iter().map(|u| (*u).to_owned()).collect();
        self.inner
            .update(|s| s.world.usergroups.insert(id.to_owned(), users));
    }

    /// A (non-bot) user, remembered for `users.info`.
    pub fn user(&self, id: &str, name: &str) -> SlackUser {
        self.inner.update(|s| {
            let info = UserInfo {
                id: id.to_owned(),
                name: name.to_owned(),
                is_bot: false,
            };
            s.world.users.insert(id.to_owned(), info);
        });
        SlackUser {
            id: id.to_owned(),
            name: name.to_owned(),
        }
    }

    /// A user posts (in a channel, or in the thread of `thread_ts`): stored,
    /// then an `app_mention` envelope (if the text has `<@BOT>`) and a
    /// `message` envelope. Returns the message ts. A `thread_ts` naming no
    /// stored message is kept as given.
    pub fn post_user_message(
        &self,
        channel: &str,
        user: &str,
        text: &str,
        thread_ts: Option<&str>,
    ) -> String {
        let config = &self.inner.config;
        self.inner.update(|s| {
            if !s.world.has_channel(channel) {
                tracing::warn!(
                    channel,
                    "posting into a channel the workspace does not have"
                );
            }
            let thread = thread_ts
                .and_then(Ts::parse)
                .map(|t| s.world.thread_root(channel, t).unwrap_or(t));
            let client_msg_id = Some(crate::clock::uuid4());
            let m = s
                .world
                .post(channel, user, None, text, thread, client_msg_id);
            events::user_message(s, config, &m);
            m.sim.ts
        })
    }

    /// Any event (the `event` object), wrapped in a fresh `event_callback`
    /// and envelope. Returns the envelope id.
    pub fn deliver_raw_event(&self, event: Value) -> String {
        self.inner
            .update(|s| delivery::deliver_event(s, &self.inner.config, event))
    }

    /// Sends the last event's envelope again now, with retry_attempt + 1 and
    /// retry_reason "timeout" (acked or not); it must be acked again.
    pub fn redeliver_last(&self) -> Option<String> {
        self.inner
            .update(|s| delivery::redeliver_last(s, &self.inner.config))
    }

    /// Messages of a channel, oldest first, thread replies and bot posts
    /// included.
    pub fn messages(&self, channel: &str) -> Vec<SlackMessage> {
        self.inner
            .read(|s| s.world.all(channel).iter().map(|m| m.sim.clone()).collect())
    }

    /// The thread `ts` belongs to: the parent, then its replies.
    pub fn thread(&self, channel: &str, ts: &str) -> Vec<SlackMessage> {
        self.inner.read(|s| {
            let Some(root) = Ts::parse(ts).and_then(|t| s.world.thread_root(channel, t)) else {
                return Vec::new();
            };
            s.world
                .all(channel)
                .iter()
                .filter(|m| m.ts == root || m.thread_ts == Some(root))
                .map(|m| m.sim.clone())
                .collect()
        })
    }

    /// The bot's reactions on a message.
    pub fn reactions(&self, channel: &str, ts: &str) -> Vec<String> {
        self.inner.read(|s| {
            Ts::parse(ts)
                .and_then(|t| s.world.find(channel, t))
                .map(|m| m.sim.reactions.clone())
                .unwrap_or_default()
        })
    }

    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.inner.read(|s| s.rec.connections.clone())
    }

    /// `apps.connections.open` calls.
    pub fn opens(&self) -> Vec<OpenRecord> {
        self.inner.read(|s| s.rec.opens.clone())
    }

    pub fn deliveries(&self) -> Vec<DeliveryRecord> {
        self.inner.read(|s| s.rec.deliveries.clone())
    }

    pub fn acks(&self) -> Vec<AckRecord> {
        self.inner.read(|s| s.rec.acks.clone())
    }

    pub fn web_calls(&self) -> Vec<WebCall> {
        self.inner.read(|s| s.rec.web_calls.clone())
    }

    /// Events no connection got because every open one had muted their
    /// kind, oldest first (the most recent 10,000).
    pub fn muted_events(&self) -> Vec<MutedEvent> {
        self.inner
            .read(|s| s.sock.faults.muted.iter().cloned().collect())
    }

    /// How many events were muted in all (not bounded like the list).
    pub fn muted_event_total(&self) -> u64 {
        self.inner.read(|s| s.sock.faults.muted_total)
    }

    /// Ids of the open Socket Mode connections, oldest first.
    pub fn live_connections(&self) -> Vec<u64> {
        self.inner.read(|s| s.sock.conns.keys().copied().collect())
    }

    /// Envelope ids still waiting for an ack (or for a connection).
    pub fn unacked(&self) -> Vec<String> {
        self.inner.read(|s| s.delivery.unacked())
    }

    /// All records as JSON (instants as ms since the sim started).
    pub fn records_json(&self) -> Value {
        self.inner.read(|s| {
            let muted: Vec<MutedEvent> = s.sock.faults.muted.iter().cloned().collect();
            RecordsJson {
                origin: self.inner.origin,
                connections: &s.rec.connections,
                opens: &s.rec.opens,
                deliveries: &s.rec.deliveries,
                acks: &s.rec.acks,
                web_calls: &s.rec.web_calls,
                muted: &muted,
                interactions: &s.interactions.records,
                ephemerals: &s.interactions.ephemerals,
                response_uses: &s.interactions.response_uses,
            }
            .to_json()
        })
    }

    /// Re-evaluates `f` on every recorded change until it yields a value or
    /// `timeout` passes (then `f` gets one last look).
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&SlackSim) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        let mut rx = self.inner.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(found) = f(self) {
                return Some(found);
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return f(self);
                    }
                }
                () = tokio::time::sleep_until(deadline) => return f(self),
            }
        }
    }

    /// Resolves at the next recorded change after this call.
    pub fn changed(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.subscribe();
        async move {
            let _ = rx.changed().await;
        }
    }
}
