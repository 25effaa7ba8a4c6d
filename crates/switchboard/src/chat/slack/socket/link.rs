//! One Socket Mode WebSocket ("link"): opened with a fresh
//! `apps.connections.open` URL, then served by its own task until it ends.
//!
//! The task reads every frame, hands envelopes to the broker and acks them
//! (a message once the broker has journaled it: `pending_acks`; anything
//! else at once), answers Slack's pings (the WebSocket layer does), sends its own
//! pings and applies the liveness rules. It reports to the slot only what
//! the slot decides on: `hello`, `disconnect` and its end. Because each
//! link has its own task, an old link keeps being read (and acked) while
//! its replacement opens. Dropping a [`Link`] aborts its task, which drops
//! the socket without waiting on the peer; only shutdown closes politely,
//! within [`CLOSE_DEADLINE`]. Never logs the URL: it carries a ticket.

use std::future::poll_fn;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tokio_websockets::{ClientBuilder, CloseCode, MaybeTlsStream, Message, WebSocketStream};

use super::SocketSettings;
use super::envelope;
use super::frames::{self, DisconnectReason, Frame};
use super::liveness::{self, Action, Liveness};
use super::pending_acks::{PendingAcks, Settled};
use super::slots::SlotsShared;
use crate::chat::InboundSender;
use crate::chat::slack::cause::SlackCause;
use crate::chat::slack::web::{BotIdentity, SlackWeb};
use crate::health::ConnectionHealth;

/// How long shutdown waits for Slack to answer our close frame.
pub const CLOSE_DEADLINE: Duration = Duration::from_secs(1);

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What a link tells its slot.
#[derive(Debug, PartialEq)]
pub enum Report {
    Hello,
    Disconnect(DisconnectReason),
    /// The link is over; `None` when it closed for shutdown.
    Ended(Option<SlackCause>),
}

/// Everything a link's task needs; cloned per link.
#[derive(Clone)]
pub struct LinkContext {
    /// The slot's name, for logs ("socket-0").
    pub name: String,
    pub identity: Arc<BotIdentity>,
    pub slots: SlotsShared,
    pub inbound: InboundSender,
    pub health: ConnectionHealth,
    pub settings: SocketSettings,
    pub shutdown: CancellationToken,
    /// Answers button clicks (`interactive` envelopes).
    pub web: SlackWeb,
}

/// A running link. Dropping it aborts the socket at once.
pub struct Link {
    /// Which link of the slot this is (1, 2, ...), for logs.
    pub serial: u64,
    reports: mpsc::UnboundedReceiver<Report>,
    _task: AbortOnDropHandle<()>,
}

impl Link {
    /// The next report; after `Ended`, `Ended` again for ever.
    pub async fn next_report(&mut self) -> Report {
        poll_fn(|cx| self.poll_report(cx)).await
    }

    /// [`Link::next_report`] as a poll, for reading several links at once.
    pub fn poll_report(&mut self, cx: &mut Context<'_>) -> Poll<Report> {
        self.reports.poll_recv(cx).map(|report| {
            report.unwrap_or_else(|| {
                Report::Ended(Some(SlackCause::Dropped("link task ended".to_owned())))
            })
        })
    }

    /// Wait until the link has ended.
    pub async fn ended(&mut self) {
        while !matches!(self.next_report().await, Report::Ended(_)) {}
    }

    /// Wait for `hello` (the link's own hello deadline bounds this).
    /// A `disconnect` before it ends the wait with its cause.
    pub async fn hello(&mut self) -> Result<(), SlackCause> {
        loop {
            match self.next_report().await {
                Report::Hello => return Ok(()),
                Report::Disconnect(reason) => match cause_of_disconnect(&reason) {
                    Some(cause) => return Err(cause),
                    None => tracing::debug!(
                        platform = "slack",
                        reason = reason.as_str(),
                        "disconnect before hello; waiting on"
                    ),
                },
                Report::Ended(cause) => {
                    return Err(
                        cause.unwrap_or(SlackCause::Dropped("closed for shutdown".to_owned()))
                    );
                }
            }
        }
    }
}

/// The cause a `disconnect` reason ends a slot with, or `None` for the
/// reasons that ask for a handover instead (`warning`, unknown ones).
pub fn cause_of_disconnect(reason: &DisconnectReason) -> Option<SlackCause> {
    match reason {
        DisconnectReason::RefreshRequested => Some(SlackCause::RefreshRequested),
        DisconnectReason::LinkDisabled => Some(SlackCause::LinkDisabled),
        DisconnectReason::TooManyWebsockets => Some(SlackCause::TooManyConnections),
        DisconnectReason::Warning | DisconnectReason::Other(_) => None,
    }
}

/// Ask for a fresh URL, connect, and start serving; `hello` is not yet
/// awaited (see [`Link::hello`]). Both steps are bounded by `open_deadline`.
pub async fn open(web: &SlackWeb, ctx: LinkContext, serial: u64) -> Result<Link, SlackCause> {
    let deadline = ctx.settings.open_deadline;
    let url = match timeout(deadline, web.connections_open()).await {
        Ok(Ok(url)) => url,
        Ok(Err(err)) => return Err(err.into()),
        Err(_) => {
            return Err(SlackCause::WebApi(format!(
                "apps.connections.open did not answer within {} ms",
                deadline.as_millis()
            )));
        }
    };
    let socket = match timeout(deadline, connect(&url)).await {
        Ok(Ok(socket)) => socket,
        Ok(Err(detail)) => return Err(SlackCause::ConnectFailed(detail)),
        Err(_) => {
            return Err(SlackCause::ConnectFailed(format!(
                "no WebSocket within {} ms",
                deadline.as_millis()
            )));
        }
    };
    // Reports are hello, disconnect and the end: a few per link's life.
    let (tx, reports) = mpsc::unbounded_channel();
    let task = tokio::spawn(serve(socket, ctx, serial, tx));
    Ok(Link {
        serial,
        reports,
        _task: AbortOnDropHandle::new(task),
    })
}

/// Open the WebSocket (wss:// through rustls, ws:// for simulators).
/// The error text never includes the URL.
async fn connect(url: &str) -> Result<Socket, String> {
    let builder = ClientBuilder::new()
        .uri(url)
        .map_err(|_| "apps.connections.open returned an unusable URL".to_owned())?;
    builder
        .connect()
        .await
        .map(|(socket, _response)| socket)
        .map_err(|err| err.to_string())
}

/// The link's task: serve until the end, then report it.
async fn serve(
    mut socket: Socket,
    ctx: LinkContext,
    serial: u64,
    reports: mpsc::UnboundedSender<Report>,
) {
    let end = read_loop(&mut socket, &ctx, &reports).await;
    match &end {
        None => close_for_shutdown(&mut socket).await,
        Some(SlackCause::Closed { .. }) => {
            // Flush our answer to the peer's close frame, briefly.
            let _ = timeout(CLOSE_DEADLINE, socket.next()).await;
        }
        Some(_) => {}
    }
    drop(socket);
    tracing::debug!(
        platform = "slack",
        connection = %ctx.name,
        link = serial,
        ?end,
        "Socket Mode link ended"
    );
    let _ = reports.send(Report::Ended(end));
}

/// Read frames and keep the link alive until it ends: `None` on shutdown.
async fn read_loop(
    socket: &mut Socket,
    ctx: &LinkContext,
    reports: &mpsc::UnboundedSender<Report>,
) -> Option<SlackCause> {
    let write_deadline = liveness::write_deadline(&ctx.settings);
    let mut live = Liveness::new(ctx.settings, Instant::now());
    let mut pings: u64 = 0;
    // Dropped with the link: what was not acked yet is redelivered by Slack.
    let mut pending = PendingAcks::default();
    loop {
        let next_check = live.next_check();
        tokio::select! {
            // Priority: shutdown; then the liveness rules, so that a busy
            // stream of frames can never starve them; then the acks of
            // journaled messages (each within Slack's 3 s); then frames,
            // unless too many envelopes already wait for their receipt.
            biased;
            () = ctx.shutdown.cancelled() => return None,
            () = sleep_until(next_check) => match live.check(Instant::now()) {
                Action::Nothing => {}
                Action::SendPing => {
                    pings += 1;
                    let ping = Message::ping(pings.to_be_bytes().to_vec());
                    live.on_ping_sent(Instant::now());
                    if let Err(cause) = send(socket, ping, write_deadline).await {
                        return Some(cause);
                    }
                }
                Action::Zombie(cause) => return Some(cause),
            },
            settled = pending.next(), if !pending.is_empty() => {
                if let Err(cause) = on_settled(socket, settled, ctx, write_deadline).await {
                    return Some(cause);
                }
            }
            item = socket.next(), if !pending.is_full() => {
                let message = match item {
                    None => return Some(SlackCause::Dropped("the stream ended".to_owned())),
                    Some(Err(err)) => return Some(SlackCause::Dropped(err.to_string())),
                    Some(Ok(message)) => message,
                };
                let ended =
                    on_message(socket, &message, ctx, &mut live, reports, &mut pending).await;
                if ended.is_some() {
                    return ended;
                }
            }
        }
    }
}

/// One frame from Slack; `Some` ends the link. Pings are answered by the
/// WebSocket layer; binary frames are not part of Socket Mode.
async fn on_message(
    socket: &mut Socket,
    message: &Message,
    ctx: &LinkContext,
    live: &mut Liveness,
    reports: &mpsc::UnboundedSender<Report>,
    pending: &mut PendingAcks,
) -> Option<SlackCause> {
    let now = Instant::now();
    ctx.health.record_event(now);
    if message.is_pong() {
        live.on_pong();
        ctx.health.record_ack(now);
    } else if let Some((code, reason)) = message.as_close() {
        let code = u16::from(code);
        return Some(SlackCause::Closed {
            code: (code != u16::from(CloseCode::NO_STATUS_RECEIVED)).then_some(code),
            reason: reason.to_owned(),
        });
    } else if let Some(text) = message.as_text() {
        return on_text(socket, text, ctx, live, reports, pending).await;
    }
    None
}

/// One text frame; `Some` ends the link.
async fn on_text(
    socket: &mut Socket,
    text: &str,
    ctx: &LinkContext,
    live: &mut Liveness,
    reports: &mpsc::UnboundedSender<Report>,
    pending: &mut PendingAcks,
) -> Option<SlackCause> {
    let write_deadline = liveness::write_deadline(&ctx.settings);
    let frame = match frames::parse(text) {
        Ok(frame) => frame,
        Err(err) => {
            tracing::warn!(
                platform = "slack",
                connection = %ctx.name,
                %err,
                len = text.len(),
                "Socket Mode frame skipped"
            );
            return None;
        }
    };
    match frame {
        Frame::Hello { num_connections } => {
            live.on_hello();
            tracing::debug!(
                platform = "slack",
                connection = %ctx.name,
                ?num_connections,
                "hello"
            );
            let _ = reports.send(Report::Hello);
        }
        Frame::Disconnect { reason } => {
            tracing::debug!(
                platform = "slack",
                connection = %ctx.name,
                reason = reason.as_str(),
                "disconnect message"
            );
            let _ = reports.send(Report::Disconnect(reason));
        }
        Frame::Envelope(env) => {
            let handled = if env.kind == "interactive" {
                // Acked at once below; the answer goes over the Web API.
                envelope::Handled::Ignored {
                    why: super::clicks::handle(&env.payload, &ctx.web, &ctx.inbound),
                }
            } else if env.kind == "slash_commands" {
                // Acked at once below; the answer goes to the response_url.
                envelope::Handled::Ignored {
                    why: super::commands::handle(&env.payload, &ctx.web, &ctx.inbound),
                }
            } else {
                envelope::handle(&env, &ctx.identity, &ctx.slots, &ctx.inbound)
            };
            let outcome = match handled {
                envelope::Handled::Delivered(receipt) => {
                    let event_id = env.event_id().map(str::to_owned);
                    pending.push(env.envelope_id.clone(), event_id, receipt);
                    return None;
                }
                envelope::Handled::Duplicate => "a redelivery".to_owned(),
                envelope::Handled::Ignored { why } => format!("ignored: {why}"),
            };
            if let Err(cause) = send(
                socket,
                Message::text(frames::ack(&env.envelope_id)),
                write_deadline,
            )
            .await
            {
                return Some(cause);
            }
            tracing::debug!(
                platform = "slack",
                connection = %ctx.name,
                envelope_id = %env.envelope_id,
                retry_attempt = env.retry_attempt,
                %outcome,
                "envelope acked"
            );
        }
        Frame::Other { kind } => {
            tracing::debug!(
                platform = "slack",
                connection = %ctx.name,
                %kind,
                "Socket Mode frame of an unknown type ignored"
            );
        }
    }
    None
}

/// A delivered message's receipt came: ack it if it is journaled; else
/// leave it un-acked (Slack redelivers) and forget its event id, so the
/// redelivery is taken rather than dropped as a duplicate.
async fn on_settled(
    socket: &mut Socket,
    settled: Settled,
    ctx: &LinkContext,
    write_deadline: Duration,
) -> Result<(), SlackCause> {
    if !settled.durable {
        if let Some(event_id) = &settled.event_id {
            ctx.slots.forget(event_id);
        }
        tracing::warn!(
            platform = "slack",
            connection = %ctx.name,
            envelope_id = %settled.envelope_id,
            waited_ms = settled.waited.as_millis() as u64,
            "message not journaled; envelope left un-acked for Slack to redeliver"
        );
        return Ok(());
    }
    send(
        socket,
        Message::text(frames::ack(&settled.envelope_id)),
        write_deadline,
    )
    .await?;
    tracing::debug!(
        platform = "slack",
        connection = %ctx.name,
        envelope_id = %settled.envelope_id,
        journaled_in_us = settled.waited.as_micros() as u64,
        "envelope acked after its message was journaled"
    );
    Ok(())
}

/// Write one frame within `deadline`.
async fn send(socket: &mut Socket, message: Message, deadline: Duration) -> Result<(), SlackCause> {
    match timeout(deadline, socket.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(err)) => Err(SlackCause::SendFailed(err.to_string())),
        Err(_) => Err(SlackCause::SendFailed(format!(
            "a write took longer than {} ms",
            deadline.as_millis()
        ))),
    }
}

/// Close with 1000 and wait a bounded time for Slack's answer.
async fn close_for_shutdown(socket: &mut Socket) {
    let _ = timeout(CLOSE_DEADLINE, async {
        if socket
            .send(Message::close(Some(CloseCode::NORMAL_CLOSURE), ""))
            .await
            .is_err()
        {
            return;
        }
        while let Some(Ok(_)) = socket.next().await {}
    })
    .await;
}
