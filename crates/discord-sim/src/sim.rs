//! `DiscordSim`, the cheap-to-clone handle tests hold: start/stop, the
//! world (inject messages, read what the bot posted), records, and waiting
//! on changes. Fault switches are in `faults`.
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

use crate::config::{SimConfig, SimUser};
use crate::events;
use crate::records::{
    ConnectionRecord, HeartbeatRecord, IdentifyRecord, MutedDispatch, ReadyRecord, RecordsJson,
    RestCall, ResumeRecord, SimMessage, SimThread,
};
use crate::server;
use crate::state::Inner;

/// A running fake Discord. Clones share one simulator; it stops on
/// `shutdown()` or when the last clone held by user code is dropped.
#[derive(Clone)]
pub struct DiscordSim {
    pub(crate) inner: Arc<Inner>,
    /// Cancels the simulator when the last user-held clone drops; `None` in
    /// the handles the server keeps for itself.
    _life: Option<Arc<DropGuard>>,
}

impl std::fmt::Debug for DiscordSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordSim")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl DiscordSim {
    /// Starts on 127.0.0.1 with an ephemeral port.
    pub async fn start(config: SimConfig) -> io::Result<DiscordSim> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config).await
    }

    /// Starts on the given address (use a loopback address).
    pub async fn start_on(addr: SocketAddr, config: SimConfig) -> io::Result<DiscordSim> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let inner = Arc::new(Inner::new(addr, config));
        server::spawn(inner.clone(), listener);
        tracing::info!(%addr, "discord-sim listening");
        Ok(DiscordSim {
            _life: Some(Arc::new(inner.cancel.clone().drop_guard())),
            inner,
        })
    }

    /// A handle that does not keep the simulator alive (for its own server).
    pub(crate) fn from_inner(inner: Arc<Inner>) -> DiscordSim {
        DiscordSim { inner, _life: None }
    }

    pub fn http_url(&self) -> String {
        self.inner.http_url()
    }

    pub fn gateway_url(&self) -> String {
        self.inner.gateway_url()
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    pub fn token(&self) -> String {
        self.inner.config.token.clone()
    }

    pub fn bot_user(&self) -> SimUser {
        self.inner.config.bot_user.clone()
    }

    pub fn guild_id(&self) -> u64 {
        self.inner.config.guild_id
    }

    /// The first (default) guild's channels.
    pub fn channel_ids(&self) -> Vec<u64> {
        self.inner.config.channels.iter().map(|c| c.id).collect()
    }

    /// The text channels of `guild_id` as configured (threads excluded).
    pub fn channels_of(&self, guild_id: u64) -> Vec<u64> {
        self.inner.read(|s| {
            s.world
                .channels
                .values()
                .filter(|c| c.guild_id == guild_id && c.thread.is_none())
                .map(|c| c.id)
                .collect()
        })
    }

    /// Every guild the bot is in, the default one first.
    pub fn guild_ids(&self) -> Vec<u64> {
        self.inner.read(|s| s.world.guild_ids.clone())
    }

    /// Stops the listener and aborts every gateway connection.
    pub fn shutdown(&self) {
        self.inner.cancel.cancel();
    }

    /// Whether `shutdown` was called (or the last handle dropped).
    pub fn is_shut_down(&self) -> bool {
        self.inner.cancel.is_cancelled()
    }

    /// A (non-bot) user, remembered so `<@id>` mentions resolve to it.
    pub fn user(&self, id: u64, name: &str) -> SimUser {
        let user = SimUser {
            id,
            name: name.to_owned(),
            bot: false,
        };
        self.inner.update(|s| {
            s.world.users.insert(id, user.clone());
        });
        user
    }

    /// A user posts a message (in a channel or thread): stored, then
    /// MESSAGE_CREATE to every session of its guild's shard (buffered for
    /// disconnected ones).
    pub fn inject_message(&self, channel_id: u64, author: &SimUser, content: &str) -> u64 {
        self.inner.update(|s| {
            if !s.world.channels.contains_key(&channel_id) {
                tracing::warn!(
                    channel_id,
                    "injecting into a channel the guild does not have"
                );
            }
            let stored = s
                .world
                .create_message(channel_id, author, content, None, true)
                .expect("lenient create_message cannot fail");
            events::message(s, "MESSAGE_CREATE", &stored);
            stored.sim.id
        })
    }

    /// Any dispatch (even one unknown to clients) to every session of the
    /// shard of its `guild_id` (shard 0 without one).
    pub fn dispatch_raw(&self, event_name: &str, data: Value) {
        self.inner.update(|s| events::raw(s, event_name, data));
    }

    /// Messages of a channel or thread, oldest first, bot posts included.
    pub fn messages(&self, channel_id: u64) -> Vec<SimMessage> {
        self.inner.read(|s| {
            s.world
                .messages
                .get(&channel_id)
                .map(|ms| ms.iter().map(|m| m.sim.clone()).collect())
                .unwrap_or_default()
        })
    }

    pub fn threads(&self) -> Vec<SimThread> {
        self.inner.read(|s| s.world.threads.clone())
    }

    /// The bot's current reactions on a message (decoded emoji).
    pub fn reactions(&self, channel_id: u64, message_id: u64) -> Vec<String> {
        self.inner.read(|s| {
            s.world
                .reactions
                .get(&(channel_id, message_id))
                .cloned()
                .unwrap_or_default()
        })
    }

    pub fn identifies(&self) -> Vec<IdentifyRecord> {
        self.inner.read(|s| s.rec.identifies.clone())
    }

    pub fn resumes(&self) -> Vec<ResumeRecord> {
        self.inner.read(|s| s.rec.resumes.clone())
    }

    pub fn heartbeats(&self) -> Vec<HeartbeatRecord> {
        self.inner.read(|s| s.rec.heartbeats.clone())
    }

    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.inner.read(|s| s.rec.connections.clone())
    }

    pub fn ready_sent(&self) -> Vec<ReadyRecord> {
        self.inner.read(|s| s.rec.ready_sent.clone())
    }

    pub fn rest_calls(&self) -> Vec<RestCall> {
        self.inner.read(|s| s.rec.rest_calls.clone())
    }

    /// Dispatches muted sessions did not get, oldest first (the most
    /// recent 10,000).
    pub fn muted_dispatches(&self) -> Vec<MutedDispatch> {
        self.inner
            .read(|s| s.gw.faults.muted.iter().cloned().collect())
    }

    /// How many dispatches were muted in all (not bounded like the list).
    pub fn muted_dispatch_total(&self) -> u64 {
        self.inner.read(|s| s.gw.faults.muted_total)
    }

    /// Number of gateway connections currently open.
    pub fn live_connections(&self) -> usize {
        self.inner.read(|s| s.gw.conns.len())
    }

    pub fn last_session_id(&self) -> Option<String> {
        self.inner.read(|s| s.gw.last_session_id.clone())
    }

    /// The last sequence number used in a session.
    pub fn session_seq(&self, session_id: &str) -> Option<u64> {
        self.inner
            .read(|s| s.gw.sessions.get(session_id).map(|x| x.seq))
    }

    /// Whether a session can still be resumed.
    pub fn session_resumable(&self, session_id: &str) -> bool {
        self.inner
            .read(|s| s.gw.sessions.get(session_id).is_some_and(|x| x.resumable))
    }

    /// All records as JSON (instants as ms since the sim started).
    pub fn records_json(&self) -> Value {
        self.inner.read(|s| {
            let muted: Vec<MutedDispatch> = s.gw.faults.muted.iter().cloned().collect();
            RecordsJson {
                origin: self.inner.origin,
                identifies: &s.rec.identifies,
                resumes: &s.rec.resumes,
                heartbeats: &s.rec.heartbeats,
                connections: &s.rec.connections,
                ready_sent: &s.rec.ready_sent,
                rest_calls: &s.rec.rest_calls,
                muted: &muted,
                interactions: &s.rec.interactions,
                callbacks: &s.rec.callbacks,
                webhook_calls: &s.rec.webhook_calls,
                ephemeral: &s.rec.ephemeral,
                commands: s.commands.to_json(),
            }
            .to_json()
        })
    }

    /// Re-evaluates `f` on every recorded change until it yields a value or
    /// `timeout` passes (then `f` gets one last look).
    pub async fn wait_until<T>(
        &self,
        timeout: Duration,
        mut f: impl FnMut(&DiscordSim) -> Option<T>,
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
