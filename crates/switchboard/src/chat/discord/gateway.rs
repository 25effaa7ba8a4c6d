//! One Discord gateway connection run: twilight's shard inside switchboard's
//! own watchdog, ending at the first sign of trouble. A process runs one
//! `DiscordGateway` per shard (`with_shard`; `ShardId::ONE` by default),
//! each supervised on its own; only shard 0 registers the slash commands.
//!
//! Each [`Connection::run_once`] builds a fresh shard (resuming the saved
//! session when there is one), reads frames until the connection ends, and
//! returns why. It never lets the library reconnect on its own: every
//! reconnect goes through the supervisor, so each one is logged, counted and
//! backed off. Dropping the shard aborts the TCP flow at once; nothing waits
//! on a peer that may be dead, except the bounded close on shutdown.

use std::time::Duration;

use futures_util::StreamExt as _;
use serde::Deserialize;
use tokio::time::{Instant, sleep_until};
use tokio_util::sync::CancellationToken;
use twilight_gateway::Session;
use twilight_gateway::{
    CloseFrame, ConfigBuilder, Intents, Message, ShardId, error::ReceiveMessageErrorType,
};
use twilight_model::gateway::event::GatewayEventDeserializer;
use twilight_model::gateway::payload::incoming::MessageCreate;

use serde_json::value::RawValue;

use super::cause::{CloseCode, DiscordCause};
use super::directory::ChannelDirectory;
use super::events;
use super::handover::{DurableSequence, ResumeState, SessionPublisher, session_of};
use super::history::BotUserId;
use super::identify_queue::IdentifyQueue;
use super::rest::DiscordRest;
use super::shard_reader::{Polled, ShardReader};
use super::watchdog::{Action, Watchdog, WatchdogConfig, Zombie};
use crate::chat::receipt::Receipt;
use crate::chat::{ChatEvent, InboundSender, Platform};
use crate::config::{DiscordConfig, Secret, SupervisorConfig};
use crate::delivery::RenewalWatch;
use crate::health::{ConnectionHealth, ConnectionState};
use crate::supervisor::{Connection, RunEnd};

/// How long shutdown waits for the gateway to answer our 1000 close.
const CLOSE_DEADLINE: Duration = Duration::from_secs(1);

/// A twilight shard paced by the process's shared identify queue.
type Shard = twilight_gateway::Shard<IdentifyQueue>;

/// The intents switchboard needs: guild and DM messages with their content.
pub fn intents() -> Intents {
    Intents::GUILDS | Intents::GUILD_MESSAGES | Intents::DIRECT_MESSAGES | Intents::MESSAGE_CONTENT
}

/// The supervised Discord gateway connection.
pub struct DiscordGateway {
    token: Secret,
    gateway_url: Option<String>,
    /// Which shard of how many this is.
    shard_id: ShardId,
    /// Shared by every shard of this process: paces their identifies.
    queue: IdentifyQueue,
    /// The session to resume on the next connection, if any.
    session: Option<Session>,
    /// READY's resume_gateway_url, kept here because twilight forgets it
    /// when a connect attempt fails.
    resume_url: Option<String>,
    bot_user_id: Option<u64>,
    watchdog: WatchdogConfig,
    health: ConnectionHealth,
    inbound: InboundSender,
    directory: ChannelDirectory,
    bot: BotUserId,
    /// Asks for a new session when events are not delivered.
    renewal: Option<RenewalWatch>,
    /// Answers interactions (clicks, slash commands) and registers the
    /// commands (none: interactions are ignored).
    clicks: Option<DiscordRest>,
    /// `discord.guild_ids`: where the commands are registered.
    guild_ids: Vec<u64>,
    /// Whether this process registered its commands already.
    commands_registered: bool,
    /// A shard shared by several instances: where its session is published
    /// for a standby (`None`: this process alone runs the bot).
    publisher: Option<SessionPublisher>,
    /// Resumed from another instance's session: the first RESUMED starts
    /// catch-up and the delivery check, as a READY would.
    taken_over: bool,
    /// With a publisher: the messages not journaled yet, which the
    /// published sequence must not pass.
    durable: DurableSequence,
}

impl DiscordGateway {
    pub fn new(
        discord: &DiscordConfig,
        supervisor: &SupervisorConfig,
        health: ConnectionHealth,
        inbound: InboundSender,
        directory: ChannelDirectory,
        bot: BotUserId,
    ) -> Self {
        Self {
            token: discord.token.clone(),
            gateway_url: discord.gateway_url.clone(),
            shard_id: ShardId::ONE,
            // Twilight's default for the single shard: identifies 5 s
            // apart, the daily budget counted (`with_shard` shares one
            // built from /gateway/bot between several).
            queue: IdentifyQueue::default(),
            session: None,
            resume_url: None,
            bot_user_id: None,
            watchdog: WatchdogConfig {
                probe_after: supervisor.probe_after,
                ack_deadline: supervisor.ack_deadline,
                handshake_timeout: supervisor.handshake_timeout,
            },
            health,
            inbound,
            directory,
            bot,
            renewal: None,
            clicks: None,
            guild_ids: discord.guild_ids.clone(),
            commands_registered: false,
            publisher: None,
            taken_over: false,
            durable: DurableSequence::default(),
        }
    }

    /// A shard shared by several instances: publish the session as it
    /// goes, close with 4000 (resumable) on shutdown so a standby can
    /// RESUME it, and start from `resume`, another instance's session.
    pub fn shared(mut self, publisher: SessionPublisher, resume: Option<ResumeState>) -> Self {
        if let Some(state) = resume {
            self.session = Some(session_of(&state));
            self.resume_url = state.resume_url;
            self.taken_over = true;
        }
        self.publisher = Some(publisher);
        self
    }

    /// Run shard `shard_id`, its identifies paced by `queue` (the one every
    /// shard of this process shares).
    pub fn with_shard(mut self, shard_id: ShardId, queue: IdentifyQueue) -> Self {
        self.shard_id = shard_id;
        self.queue = queue;
        self
    }

    /// Hand clicks on the bot's buttons to the broker, answered over `rest`.
    pub fn with_clicks(mut self, rest: DiscordRest) -> Self {
        self.clicks = Some(rest);
        self
    }

    /// End the connection for a new session whenever `renewal` asks.
    pub fn with_renewal(mut self, renewal: RenewalWatch) -> Self {
        self.renewal = Some(renewal);
        self
    }

    fn build_shard(&self) -> Shard {
        let mut config =
            ConfigBuilder::new(self.token.expose().to_owned(), intents()).queue(self.queue.clone());
        if let Some(url) = &self.gateway_url {
            config = config.proxy_url(url.clone());
        }
        if let Some(session) = &self.session {
            config = config.session(session.clone());
            if let Some(url) = &self.resume_url {
                config = config.resume_url(url.clone());
            }
        }
        Shard::with_config(self.shard_id, config.build())
    }

    /// Keep what the next connection needs to resume, or forget the session
    /// when the gateway ended it.
    fn remember_session(&mut self, shard: &Shard, cause: &DiscordCause) {
        if cause.ends_session() {
            self.session = None;
            self.resume_url = None;
            if let Some(publisher) = &self.publisher {
                publisher.ended();
            }
        } else if let Some(session) = shard.session() {
            self.session = Some(session.clone());
        }
    }

    /// Publish the session for a standby, resumable from the newest
    /// sequence up to which everything handed over is journaled.
    fn publish(&mut self, shard: &Shard) {
        let Some(publisher) = &self.publisher else {
            return;
        };
        let Some(session) = shard.session() else {
            return;
        };
        let sequence = self.durable.watermark(session.sequence());
        publisher.observe(Some(session), sequence, self.resume_url.as_ref());
    }

    /// Close and wait a bounded time for the gateway's answer: with 1000
    /// (the session ends), or with 4000 when the shard is shared, so the
    /// instance that takes it over can RESUME it.
    async fn close_for_shutdown(&mut self, shard: &mut Shard) {
        if self.publisher.is_some() {
            self.publish(shard);
            shard.close(CloseFrame::RESUME);
        } else {
            shard.close(CloseFrame::NORMAL);
        }
        let _ = tokio::time::timeout(CLOSE_DEADLINE, async {
            while let Some(item) = shard.next().await {
                if matches!(item, Ok(Message::Close(_))) {
                    break;
                }
            }
        })
        .await;
    }

    /// Handle one text frame; `Some(cause)` ends the connection.
    fn on_text(
        &mut self,
        json: &str,
        shard: &Shard,
        dog: &mut Watchdog,
        now: Instant,
    ) -> Option<DiscordCause> {
        let Some(frame) = GatewayEventDeserializer::from_json(json) else {
            tracing::warn!(len = json.len(), "gateway frame without an opcode; skipped");
            return None;
        };
        match frame.op() {
            0 => self.on_dispatch(frame.event_type()?, frame.sequence(), json, dog),
            7 => return Some(DiscordCause::Reconnect),
            9 => {
                let resumable = serde_json::from_str::<Frame<bool>>(json).is_ok_and(|f| f.d);
                let wait = Duration::from_millis(rand::random_range(1_000..=5_000));
                return Some(DiscordCause::InvalidSession { resumable, wait });
            }
            10 => match serde_json::from_str::<Frame<Hello>>(json) {
                Ok(hello) => {
                    let interval = Duration::from_millis(hello.d.heartbeat_interval);
                    dog.on_hello(interval);
                    self.health.set_heartbeat_interval(interval);
                    let next = if shard.session().is_some() {
                        ConnectionState::Resuming
                    } else {
                        ConnectionState::Identifying
                    };
                    self.health.transition(next);
                }
                Err(err) => tracing::warn!(%err, "malformed HELLO; skipped"),
            },
            11 => {
                dog.on_ack(now);
                self.health.record_ack(now);
            }
            _ => {}
        }
        None
    }

    fn on_dispatch(
        &mut self,
        event_type: &str,
        sequence: Option<u64>,
        json: &str,
        dog: &mut Watchdog,
    ) {
        match event_type {
            "READY" => {
                // Health first: whoever reads the log line sees it ready.
                dog.on_active();
                self.health.transition(ConnectionState::Active);
                match serde_json::from_str::<Frame<Ready>>(json) {
                    Ok(ready) => {
                        self.bot_user_id = ready.d.user.id.parse().ok();
                        if let Some(id) = self.bot_user_id {
                            let _ = self.bot.set(id);
                        }
                        // A new session: what was posted meanwhile must be caught up.
                        let _ = self.inbound.send(ChatEvent::SessionStarted {
                            platform: Platform::Discord,
                        });
                        self.resume_url = Some(ready.d.resume_gateway_url);
                        let application =
                            ready.d.application.and_then(|a| a.id.parse::<u64>().ok());
                        // Commands are the bot's, not a shard's: shard 0
                        // registers them.
                        if let (Some(rest), Some(application), false, 0) = (
                            &self.clicks,
                            application,
                            self.commands_registered,
                            self.shard_id.number(),
                        ) {
                            self.commands_registered = true;
                            tokio::spawn(super::commands::register(
                                rest.clone(),
                                application,
                                self.guild_ids.clone(),
                            ));
                        }
                        tracing::info!(platform = "discord", shard = %self.shard_id, user = %ready.d.user.username, session_id = %ready.d.session_id, "gateway READY (new session)");
                    }
                    Err(err) => {
                        tracing::warn!(%err, "READY without the expected user/session fields")
                    }
                }
            }
            "RESUMED" => {
                dog.on_active();
                self.health.transition(ConnectionState::Active);
                if std::mem::take(&mut self.taken_over) {
                    // Another instance's session: what it had not handled
                    // is replayed, and catch-up covers anything else.
                    let _ = self.inbound.send(ChatEvent::SessionStarted {
                        platform: Platform::Discord,
                    });
                    tracing::info!(
                        platform = "discord",
                        shard = %self.shard_id,
                        "gateway RESUMED (session taken over from another instance)"
                    );
                } else {
                    tracing::info!(platform = "discord", shard = %self.shard_id, "gateway RESUMED");
                }
            }
            "MESSAGE_CREATE" => match serde_json::from_str::<Frame<MessageCreate>>(json) {
                Ok(frame) => {
                    let parent = self.directory.parent_of(frame.d.channel_id.get());
                    // A resumed session never saw READY: the id is REST's.
                    let bot_user_id = self.bot_user_id.or_else(|| self.bot.get().copied());
                    let event = events::message_create(&frame.d, bot_user_id, parent);
                    // The receiver only goes away on shutdown. Discord has
                    // no ack: what is lost here is found by catch-up. A
                    // shared shard publishes only what is journaled.
                    let receipt = match (&self.publisher, sequence) {
                        (Some(_), Some(sequence)) => self.durable.track(sequence),
                        _ => Receipt::none(),
                    };
                    let _ = self
                        .inbound
                        .send(ChatEvent::Message(Box::new(event), receipt));
                }
                Err(err) => tracing::warn!(%err, "malformed MESSAGE_CREATE; skipped"),
            },
            "INTERACTION_CREATE" => {
                let Some(rest) = &self.clicks else {
                    return;
                };
                let Ok(frame) = serde_json::from_str::<Frame<Box<RawValue>>>(json) else {
                    tracing::warn!("malformed INTERACTION_CREATE; skipped");
                    return;
                };
                super::interactions::on_interaction(
                    frame.d.get(),
                    rest,
                    &self.directory,
                    &self.inbound,
                );
            }
            threads @ ("GUILD_CREATE" | "THREAD_CREATE" | "THREAD_UPDATE" | "THREAD_LIST_SYNC") => {
                if let Ok(frame) = serde_json::from_str::<Frame<Box<RawValue>>>(json) {
                    self.directory.observe(threads, &frame.d);
                }
            }
            _ => {}
        }
    }
}

/// Resolves when the delivery check asks for a new session; never
/// without a watch.
async fn renewal_requested(renewal: &mut Option<RenewalWatch>) {
    match renewal {
        Some(renewal) => renewal.requested().await,
        None => std::future::pending().await,
    }
}

#[derive(Deserialize)]
struct Frame<T> {
    d: T,
}

#[derive(Deserialize)]
struct Hello {
    heartbeat_interval: u64,
}

#[derive(Deserialize)]
struct Ready {
    session_id: String,
    resume_gateway_url: String,
    user: ReadyUser,
    application: Option<ReadyApplication>,
}

#[derive(Deserialize)]
struct ReadyApplication {
    id: String,
}

#[derive(Deserialize)]
struct ReadyUser {
    id: String,
    username: String,
}

impl Connection for DiscordGateway {
    type Cause = DiscordCause;

    async fn run_once(&mut self, shutdown: &CancellationToken) -> RunEnd<DiscordCause> {
        let mut shard = self.build_shard();
        let mut dog = Watchdog::new(self.watchdog, Instant::now());
        let mut reader = ShardReader::default();
        let mut active_since: Option<Instant> = None;
        let mut renewal = self.renewal.take();
        if let Some(renewal) = &mut renewal {
            renewal.arm();
        }
        let cause = loop {
            dog.observe_heartbeat(shard.latency().sent().map(Instant::from_std));
            let next_check = dog.next_check(Instant::now());
            tokio::select! {
                // Priority: shutdown before anything; then the watchdog, so a
                // busy stream of frames can never starve the liveness check;
                // then frames.
                biased;
                () = shutdown.cancelled() => {
                    self.close_for_shutdown(&mut shard).await;
                    self.renewal = renewal;
                    return RunEnd::Shutdown;
                }
                () = renewal_requested(&mut renewal) => {
                    self.close_for_shutdown(&mut shard).await;
                    break DiscordCause::NotDelivered;
                }
                () = sleep_until(next_check) => {
                    let now = Instant::now();
                    if !dog.is_active() && self.queue.is_waiting(self.shard_id.number()) {
                        // Waiting for its turn to identify is not a
                        // handshake that hangs.
                        dog.on_identify_queued(now);
                    }
                    match dog.check(now, shard.state().is_identified()) {
                        Action::Nothing => {}
                        Action::SendProbe => {
                            let seq = shard.session().map(Session::sequence);
                            shard.send(serde_json::json!({ "op": 1, "d": seq }).to_string());
                            dog.on_probe_sent(now);
                            tracing::debug!(platform = "discord", "quiet connection: probe heartbeat sent");
                        }
                        Action::Zombie(zombie) => break match zombie {
                            Zombie::HandshakeTimeout(after) => DiscordCause::HandshakeTimeout(after),
                            Zombie::AckMissing { unacked_for } => DiscordCause::AckMissing { unacked_for },
                            Zombie::Silent { silent_for } => DiscordCause::Silent { silent_for },
                        },
                    }
                }
                polled = reader.next(&mut shard) => {
                    let now = Instant::now();
                    let item = match polled {
                        Polled::Item(item) => item,
                        Polled::Lost => break DiscordCause::Closed { code: CloseCode::ABNORMAL, reason: String::new() },
                    };
                    match item {
                        Some(Ok(Message::Text(json))) => {
                            dog.on_frame(now);
                            self.health.record_event(now);
                            if let Some(cause) = self.on_text(&json, &shard, &mut dog, now) {
                                break cause;
                            }
                            self.publish(&shard);
                            if active_since.is_none() && dog.is_active() {
                                active_since = Some(now);
                            }
                        }
                        Some(Ok(Message::Close(frame))) => {
                            let (code, reason) = frame.map_or((CloseCode::ABNORMAL, String::new()), |f| (CloseCode(f.code), f.reason.into_owned()));
                            break DiscordCause::Closed { code, reason };
                        }
                        Some(Err(err)) => match err.kind() {
                            ReceiveMessageErrorType::Reconnect => {
                                let detail = std::error::Error::source(&err).map_or_else(|| err.to_string(), ToString::to_string);
                                break DiscordCause::ConnectFailed(detail);
                            }
                            _ => tracing::warn!(error = %err.to_string().chars().take(300).collect::<String>(), "gateway frame could not be processed; skipped"),
                        },
                        None => break DiscordCause::StreamEnded,
                    }
                }
            }
        };
        self.renewal = renewal;
        self.remember_session(&shard, &cause);
        // Dropping the shard aborts the TCP flow without a close handshake,
        // which keeps the session resumable.
        drop(shard);
        let healthy_for = active_since.map_or(Duration::ZERO, |since| since.elapsed());
        RunEnd::Lost { cause, healthy_for }
    }
}
