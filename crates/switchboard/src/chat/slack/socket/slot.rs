//! One run of a Socket Mode slot, from `apps.connections.open` to the
//! reason it ended: the [`Connection`] the supervisor drives.
//!
//! A run holds one current link and, around a `disconnect: warning`, the
//! replacement being opened and the old links still being read until
//! Slack closes them: the replacement must say `hello` before the old link
//! stops being current, so no event falls in a gap. The run ends on the
//! first thing the slot cannot carry on from (a link ending with no
//! replacement under way, `refresh_requested`, `too_many_websockets`,
//! `link_disabled`, a failed replacement, a session renewal the delivery
//! check asked for) and drops every link, which
//! aborts their sockets at once. Every wait is bounded: by shutdown, by the
//! links' own deadlines, or by `open_deadline`.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::time::{Instant, timeout, timeout_at};
use tokio_util::sync::CancellationToken;

use super::SlackSocket;
use super::link::{self, CLOSE_DEADLINE, Link, LinkContext, Report};
use super::slots::LiveSlot;
use crate::chat::slack::cause::SlackCause;
use crate::chat::slack::web::{BotIdentity, SlackWeb};
use crate::chat::{ChatEvent, Platform};
use crate::delivery::RenewalWatch;
use crate::health::ConnectionState;
use crate::supervisor::{Connection, RunEnd};

/// A replacement link on its way: opened and waiting for `hello`.
type Opening = Pin<Box<dyn Future<Output = Result<Link, SlackCause>> + Send>>;

/// What one run holds besides the slot.
#[derive(Default)]
struct Links {
    current: Option<Link>,
    /// Replaced links, read until Slack closes them.
    draining: Vec<Link>,
    replacement: Option<Opening>,
    /// Held while the slot has a live (hello'd) link.
    live: Option<LiveSlot>,
    live_since: Option<Instant>,
}

impl Links {
    fn healthy_for(&self) -> Duration {
        self.live_since
            .map_or(Duration::ZERO, |since| since.elapsed())
    }
}

impl Connection for SlackSocket {
    type Cause = SlackCause;

    async fn run_once(&mut self, shutdown: &CancellationToken) -> RunEnd<SlackCause> {
        let mut renewal = self.renewal.take();
        if let Some(renewal) = &mut renewal {
            renewal.arm();
            self.generation = renewal.generation();
        }
        let end = self.run_armed(shutdown, &mut renewal).await;
        self.renewal = renewal;
        end
    }
}

fn lost(cause: SlackCause, healthy_for: Duration) -> RunEnd<SlackCause> {
    RunEnd::Lost { cause, healthy_for }
}

/// Resolves when the delivery check asks for a new session; never
/// without a watch.
async fn renewal_requested(renewal: &mut Option<RenewalWatch>) {
    match renewal {
        Some(renewal) => renewal.requested().await,
        None => std::future::pending().await,
    }
}

impl SlackSocket {
    /// One run with the renewal watch armed.
    async fn run_armed(
        &mut self,
        shutdown: &CancellationToken,
        renewal: &mut Option<RenewalWatch>,
    ) -> RunEnd<SlackCause> {
        let identity = tokio::select! {
            biased;
            () = shutdown.cancelled() => return RunEnd::Shutdown,
            identity = self.identity() => identity,
        };
        let identity = match identity {
            Ok(identity) => identity,
            Err(cause) => return lost(cause, Duration::ZERO),
        };
        let ctx = LinkContext {
            name: self.health.name().to_owned(),
            identity,
            slots: self.shared.clone(),
            inbound: self.inbound.clone(),
            health: self.health.clone(),
            settings: self.settings,
            shutdown: shutdown.clone(),
            web: self.web.clone(),
        };
        let mut links = Links::default();
        if let Some(end) = self.open_first(&ctx, &mut links).await {
            return end;
        }
        self.serve(&ctx, &mut links, renewal).await
    }

    /// The bot's identity, asking `auth.test` if no slot has yet.
    async fn identity(&self) -> Result<Arc<BotIdentity>, SlackCause> {
        if let Some(known) = self.identity.get() {
            return Ok(Arc::new(known.clone()));
        }
        let deadline = self.settings.open_deadline;
        let identity = match timeout(deadline, self.web.auth_test()).await {
            Ok(Ok(identity)) => identity,
            Ok(Err(err)) => return Err(err.into()),
            Err(_) => {
                return Err(SlackCause::WebApi(format!(
                    "auth.test did not answer within {} ms",
                    deadline.as_millis()
                )));
            }
        };
        tracing::info!(
            platform = "slack",
            user_id = %identity.user_id,
            team_id = %identity.team_id,
            "bot token accepted (auth.test)"
        );
        // Another slot may have won the race; both asked the same question.
        Ok(Arc::new(self.identity.get_or_init(|| identity).clone()))
    }

    fn next_serial(&mut self) -> u64 {
        self.links_opened += 1;
        self.links_opened
    }

    /// Open the first link and wait for its `hello`; `Some` ends the run.
    async fn open_first(
        &mut self,
        ctx: &LinkContext,
        links: &mut Links,
    ) -> Option<RunEnd<SlackCause>> {
        let serial = self.next_serial();
        let opened = tokio::select! {
            biased;
            () = ctx.shutdown.cancelled() => return Some(RunEnd::Shutdown),
            opened = link::open(&self.web, ctx.clone(), serial) => opened,
        };
        let mut first = match opened {
            Ok(link) => link,
            Err(cause) => return Some(lost(cause, Duration::ZERO)),
        };
        self.health.transition(ConnectionState::Identifying);
        // The link's task watches shutdown too and closes itself; the
        // hello deadline bounds this wait.
        if let Err(cause) = first.hello().await {
            if ctx.shutdown.is_cancelled() {
                return Some(RunEnd::Shutdown);
            }
            return Some(lost(cause, Duration::ZERO));
        }
        links.current = Some(first);
        self.go_live(links, serial);
        None
    }

    /// The slot has a hello'd link: healthy, counted live, and if no slot
    /// was live just before, the broker is told to catch up.
    fn go_live(&self, links: &mut Links, serial: u64) {
        self.health.transition(ConnectionState::Active);
        self.health
            .set_heartbeat_interval(self.settings.ping_interval);
        links.live_since.get_or_insert_with(Instant::now);
        if links.live.is_none() {
            let live = self.shared.go_live(self.generation);
            if live.first {
                let _ = self.inbound.send(ChatEvent::SessionStarted {
                    platform: Platform::Slack,
                });
            }
            links.live = Some(live);
        }
        tracing::info!(
            platform = "slack",
            connection = %self.health.name(),
            link = serial,
            live_slots = self.shared.live_slots(),
            "Socket Mode connection live (hello)"
        );
    }

    /// Serve until the run ends.
    async fn serve(
        &mut self,
        ctx: &LinkContext,
        links: &mut Links,
        renewal: &mut Option<RenewalWatch>,
    ) -> RunEnd<SlackCause> {
        loop {
            tokio::select! {
                // Priority: shutdown; then a session renewal (the links are
                // deaf, whatever they report); then the current link (its
                // disconnect messages decide the most); then the
                // replacement; then the links being drained (they ack on
                // their own tasks).
                biased;
                () = ctx.shutdown.cancelled() => {
                    close_all(links).await;
                    return RunEnd::Shutdown;
                }
                () = renewal_requested(renewal) => {
                    // Returning drops every link: their sockets are
                    // aborted at once, nothing waits on a deaf peer.
                    return lost(SlackCause::NotDelivered, links.healthy_for());
                }
                report = current_report(&mut links.current) => {
                    if let Some(end) = self.on_current(ctx, links, report) {
                        return end;
                    }
                }
                opened = replacement(&mut links.replacement) => {
                    links.replacement = None;
                    match opened {
                        Ok(link) => self.switch_to(links, link),
                        Err(cause) => {
                            let cause = SlackCause::HandoverFailed(Box::new(cause));
                            return lost(cause, links.healthy_for());
                        }
                    }
                }
                (index, report) = draining_report(&mut links.draining) => {
                    if let Report::Ended(cause) = report {
                        let old = links.draining.remove(index);
                        tracing::debug!(
                            platform = "slack",
                            connection = %self.health.name(),
                            link = old.serial,
                            ?cause,
                            "replaced Socket Mode connection closed"
                        );
                    }
                }
            }
        }
    }

    /// A report from the current link; `Some` ends the run.
    fn on_current(
        &mut self,
        ctx: &LinkContext,
        links: &mut Links,
        report: Report,
    ) -> Option<RunEnd<SlackCause>> {
        match report {
            Report::Hello => None,
            Report::Disconnect(reason) => {
                if let Some(cause) = link::cause_of_disconnect(&reason) {
                    return Some(lost(cause, links.healthy_for()));
                }
                if links.replacement.is_none() {
                    let serial = self.next_serial();
                    tracing::info!(
                        platform = "slack",
                        connection = %self.health.name(),
                        reason = reason.as_str(),
                        link = serial,
                        "Slack will close this Socket Mode connection; opening its replacement first"
                    );
                    links.replacement =
                        Some(open_replacement(self.web.clone(), ctx.clone(), serial));
                }
                None
            }
            Report::Ended(cause) => {
                if ctx.shutdown.is_cancelled() {
                    return Some(RunEnd::Shutdown);
                }
                let cause = cause.unwrap_or_else(|| SlackCause::Dropped("closed".to_owned()));
                if links.replacement.is_none() {
                    return Some(lost(cause, links.healthy_for()));
                }
                // The replacement is on its way: wait for it (its own
                // deadlines bound the wait) rather than start over.
                tracing::info!(
                    platform = "slack",
                    connection = %self.health.name(),
                    %cause,
                    "Socket Mode connection closed before its replacement was ready"
                );
                links.current = None;
                links.live = None;
                self.health.transition(ConnectionState::Connecting);
                None
            }
        }
    }

    /// The replacement said hello: it becomes current, the old link drains.
    fn switch_to(&mut self, links: &mut Links, link: Link) {
        let serial = link.serial;
        if let Some(old) = links.current.replace(link) {
            links.draining.push(old);
        }
        self.go_live(links, serial);
    }
}

/// Open a link and wait for its hello, as one owned future.
fn open_replacement(web: SlackWeb, ctx: LinkContext, serial: u64) -> Opening {
    Box::pin(async move {
        let mut link = link::open(&web, ctx, serial).await?;
        link.hello().await?;
        Ok(link)
    })
}

async fn current_report(current: &mut Option<Link>) -> Report {
    match current {
        Some(link) => link.next_report().await,
        None => std::future::pending().await,
    }
}

async fn replacement(opening: &mut Option<Opening>) -> Result<Link, SlackCause> {
    match opening {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

/// The next report of any draining link, with its index.
async fn draining_report(draining: &mut [Link]) -> (usize, Report) {
    poll_fn(|cx| {
        for (index, link) in draining.iter_mut().enumerate() {
            if let Poll::Ready(report) = link.poll_report(cx) {
                return Poll::Ready((index, report));
            }
        }
        Poll::Pending
    })
    .await
}

/// On shutdown: every link closes itself (its task watches shutdown);
/// wait for them, bounded.
async fn close_all(links: &mut Links) {
    links.replacement = None;
    let deadline = Instant::now() + CLOSE_DEADLINE + Duration::from_millis(500);
    for link in links.current.iter_mut().chain(links.draining.iter_mut()) {
        let _ = timeout_at(deadline, link.ended()).await;
    }
}
