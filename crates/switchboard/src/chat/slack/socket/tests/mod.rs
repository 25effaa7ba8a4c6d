//! Socket Mode slots against a real in-process slack-sim over loopback:
//! hello and health, acks and deduplication, the warning handover,
//! refresh, dropped and half-open connections, fatal causes, shutdown.
//! Timings are shortened through `SocketSettings`; every wait has a deadline.
//! This file holds the rig; the tests are in the files beside it.

mod delivery;
mod fatal;
mod reconnect;
mod renewal;

use std::time::Duration;

use serde_json::json;
use slack_sim::{ConnectionPick, SlackSim, SlackSimConfig};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::chat::receipt::Receipt;
use crate::chat::slack::cause::SlackCause;
use crate::chat::slack::ids;
use crate::chat::slack::web::TokenKind;
use crate::chat::{ChatEvent, ChatMessage, InboundReceiver, Platform, inbound_channel};
use crate::config::{Secret, SupervisorConfig};
use crate::health::ConnectionState;
use crate::supervisor::{Connection, DisconnectCause, FatalError, RunEnd, Verdict, supervise};

/// The longest any single expectation may take.
const WAIT: Duration = Duration::from_secs(5);
const CHANNEL: &str = "C0GENERAL";

fn settings() -> SocketSettings {
    SocketSettings {
        hello_deadline: Duration::from_millis(1_000),
        ping_interval: Duration::from_millis(200),
        ping_deadline: Duration::from_millis(300),
        open_deadline: Duration::from_secs(2),
    }
}

struct Rig {
    sim: SlackSim,
    web: SlackWeb,
    identity: SharedIdentity,
    shared: SlotsShared,
    inbound: InboundSender,
    events: InboundReceiver,
    stop: CancellationToken,
    settings: SocketSettings,
}

impl Drop for Rig {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Rig {
    async fn start(config: SlackSimConfig) -> Rig {
        let sim = SlackSim::start(config).await.expect("slack-sim starts");
        let web = SlackWeb::new(
            &sim.api_url(),
            Secret::new(sim.bot_token()),
            Secret::new(sim.app_token()),
        );
        let (inbound, events) = inbound_channel();
        Rig {
            sim,
            web,
            identity: SharedIdentity::default(),
            shared: SlotsShared::default(),
            inbound,
            events,
            stop: CancellationToken::new(),
            settings: settings(),
        }
    }

    fn slot(&self, slot: usize) -> (SlackSocket, ConnectionHealth) {
        let health = ConnectionHealth::new("slack", format!("socket-{slot}"));
        let socket = SlackSocket::new(
            slot,
            self.web.clone(),
            self.identity.clone(),
            self.shared.clone(),
            health.clone(),
            self.inbound.clone(),
            self.settings,
        );
        (socket, health)
    }

    /// One run of slot `slot`, in its own task.
    fn run_once(&self, slot: usize) -> (JoinHandle<RunEnd<SlackCause>>, ConnectionHealth) {
        let (mut socket, health) = self.slot(slot);
        let stop = self.stop.clone();
        let run = tokio::spawn(async move { socket.run_once(&stop).await });
        (run, health)
    }

    /// Slot `slot` under the real supervisor, in its own task.
    fn supervise(&self, slot: usize) -> (JoinHandle<Result<(), FatalError>>, ConnectionHealth) {
        let (socket, health) = self.slot(slot);
        let config = SupervisorConfig {
            backoff_initial: Duration::from_millis(100),
            ..SupervisorConfig::default()
        };
        let run = tokio::spawn(supervise(socket, health.clone(), config, self.stop.clone()));
        (run, health)
    }

    async fn next_event(&mut self) -> ChatEvent {
        timeout(WAIT, self.events.recv())
            .await
            .expect("an event reaches the broker in time")
            .expect("the inbound channel is open")
    }

    async fn session_started(&mut self) {
        let event = self.next_event().await;
        assert!(
            matches!(
                event,
                ChatEvent::SessionStarted {
                    platform: Platform::Slack
                }
            ),
            "{event:?}"
        );
    }

    /// The next message, settled as journaled (as the broker does).
    async fn next_message(&mut self) -> ChatMessage {
        let (message, receipt) = self.next_message_unsettled().await;
        receipt.settle(true);
        message
    }

    /// The next message and its receipt, for the test to settle.
    async fn next_message_unsettled(&mut self) -> (ChatMessage, Receipt) {
        match self.next_event().await {
            ChatEvent::Message(message, receipt) => (*message, receipt),
            other => panic!("expected a message, got {other:?}"),
        }
    }

    fn no_more_events(&mut self) {
        let next = self.events.try_recv();
        assert!(matches!(next, Err(TryRecvError::Empty)), "{next:?}");
    }

    async fn wait_sim<T>(&self, what: &str, f: impl FnMut(&SlackSim) -> Option<T>) -> T {
        self.sim
            .wait_until(WAIT, f)
            .await
            .unwrap_or_else(|| panic!("slack-sim never saw: {what}"))
    }

    /// A plain user message event, delivered in its own envelope.
    fn deliver_message(&self, ts: &str, text: &str) -> String {
        self.sim.deliver_raw_event(json!({
            "type": "message", "channel": CHANNEL, "user": "U0ALICE", "text": text,
            "ts": ts, "event_ts": ts, "channel_type": "channel",
        }))
    }

    /// Envelopes acked so far.
    fn acks(&self) -> usize {
        self.sim.acks().len()
    }
}

/// Wait (bounded) until `health` satisfies `f`.
async fn wait_health(health: &ConnectionHealth, what: &str, f: impl Fn(&ConnectionHealth) -> bool) {
    let deadline = Instant::now() + WAIT;
    while !f(health) {
        assert!(
            Instant::now() < deadline,
            "{} never became {what}: {:?}",
            health.name(),
            health.snapshot()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn ended(run: JoinHandle<RunEnd<SlackCause>>, within: Duration) -> (SlackCause, Duration) {
    match timeout(within, run)
        .await
        .expect("the run ends in time")
        .expect("no panic")
    {
        RunEnd::Lost { cause, healthy_for } => (cause, healthy_for),
        RunEnd::Shutdown => panic!("the run ended for shutdown"),
    }
}

fn is_active(health: &ConnectionHealth) -> bool {
    health.state() == ConnectionState::Active
}
