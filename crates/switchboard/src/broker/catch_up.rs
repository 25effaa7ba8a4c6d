//! Catch-up after downtime: when a platform session starts anew (no resume),
//! fetch what was posted after each cursor in the known threads and allowed
//! channels active within `catch_up_window`, and feed it through the same
//! intake as live events, so dedupe and routing are one code path. When
//! the store is back after an outage, read what the intake turned away
//! meanwhile, from the first message turned away in each channel, and
//! hand it to the bridge (which handles it before what it held back while
//! reading, so each channel stays in order).
//!
//! Each channel is read within a page and a time budget, so one busy
//! channel cannot hold up the others or fill memory; what a budget cut
//! short is logged and reported in /status, never silently dropped.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::durable::{Durable, Unreachable};
use crate::chat::receipt::Receipt;
use crate::chat::{
    ChatEvent, ChatHistory, ChatMessage, CutShort, HistoryBudget, HistoryRead, InboundSender,
};
use crate::health::CatchUpHealth;
use crate::store::now_ms;

/// Where to look: which channels may be caught up.
pub struct CatchUpScope {
    pub allowed_channels: HashSet<String>,
    pub allow_all_channels: bool,
    pub owned_threads: HashSet<String>,
    pub window: Duration,
}

impl CatchUpScope {
    fn covers(&self, channel: &str) -> bool {
        self.allow_all_channels
            || self.allowed_channels.contains(channel)
            || self.owned_threads.contains(channel)
    }
}

/// How much catch-up may read of each channel (`broker.catch_up_max_pages`,
/// `broker.catch_up_max_time`), and where it reports what it did.
#[derive(Clone, Debug)]
pub struct CatchUpLimits {
    pub max_pages: u32,
    pub max_time: Duration,
    /// Past `max_time`, how long a channel's read may still take to end a
    /// page it started (e.g. one waiting out a rate limit) before it is
    /// dropped: [`PAGE_OVERRUN`] outside tests.
    pub page_overrun: Duration,
    pub health: CatchUpHealth,
}

/// The default [`CatchUpLimits::page_overrun`].
pub const PAGE_OVERRUN: Duration = Duration::from_secs(30);

/// Fetch what was posted after the cursors in scope, each channel within
/// its page and time budget, and push it to the intake; returns how many
/// messages were fetched. Channels cut short are logged and shown in
/// /status (`limits.health`). While the store cannot be reached the
/// cursors cannot be read: the run waits until it is back (the task is
/// dropped on shutdown).
pub async fn catch_up(
    history: Arc<dyn ChatHistory>,
    durable: Durable,
    scope: CatchUpScope,
    limits: CatchUpLimits,
    inbound: InboundSender,
) -> usize {
    let platform = durable.platform();
    let cursors = loop {
        let read = durable.store().cursors(platform).await;
        match durable.checked("catch-up cursors", read) {
            Ok(Some(cursors)) => break cursors,
            Ok(None) => return 0,
            Err(Unreachable) => {
                tracing::warn!(
                    platform,
                    "catch-up waits for the store: its cursors cannot be read while it is unreachable"
                );
                durable.watch().wait_up().await;
            }
        }
    };
    let cutoff = now_ms() - i64::try_from(scope.window.as_millis()).unwrap_or(i64::MAX);
    let mut channels = Vec::new();
    for cursor in cursors.into_iter().filter(|c| c.updated_at_ms >= cutoff) {
        if scope.covers(&cursor.channel_id) || is_stored_thread(&durable, &cursor.channel_id).await
        {
            channels.push((cursor.channel_id, cursor.message_id));
        }
    }
    read_channels(
        history,
        platform,
        channels,
        limits,
        "new session",
        |_, messages| {
            messages.into_iter().all(|message| {
                inbound
                    .send(ChatEvent::Message(Box::new(message), Receipt::none()))
                    .is_ok()
            })
        },
    )
    .await
}

/// What the intake turned away while the store was unreachable, read
/// back: each channel of `turned_away` (channel, first message turned
/// away there) from just before that message, within the same budgets.
/// Returns each channel's messages, oldest first, for the bridge to
/// handle before what it held back meanwhile.
pub async fn read_turned_away(
    history: Arc<dyn ChatHistory>,
    platform: &'static str,
    turned_away: Vec<(String, String)>,
    limits: CatchUpLimits,
) -> Vec<(String, Vec<ChatMessage>)> {
    let channels = turned_away
        .into_iter()
        .filter_map(|(channel, first)| match history.position_before(&first) {
            Some(position) => Some((channel, position)),
            None => {
                tracing::warn!(platform, channel, message_id = first, "no position before this message; what was turned away there is left to redelivery");
                None
            }
        })
        .collect();
    let mut read = Vec::new();
    read_channels(
        history,
        platform,
        channels,
        limits,
        "store back",
        |channel, messages| {
            read.push((channel.to_owned(), messages));
            true
        },
    )
    .await;
    read
}

/// Read each `(channel, after)` within its budget and hand what it finds
/// to `deliver` (channel, messages oldest first), which says whether to go
/// on; one run in /status. Returns how many messages were fetched.
async fn read_channels(
    history: Arc<dyn ChatHistory>,
    platform: &'static str,
    channels: Vec<(String, String)>,
    limits: CatchUpLimits,
    why: &'static str,
    mut deliver: impl FnMut(&str, Vec<ChatMessage>) -> bool,
) -> usize {
    limits.health.started(platform, now_ms());
    let _finished = Finished(&limits.health, platform);
    let mut fetched = 0;
    let count = channels.len();
    for (channel, after) in &channels {
        let channel = channel.as_str();
        let deadline = Instant::now() + limits.max_time;
        let budget = HistoryBudget {
            max_pages: limits.max_pages,
            deadline,
        };
        let read = tokio::time::timeout_at(
            deadline + limits.page_overrun,
            history.messages_after(channel, after, budget),
        )
        .await;
        let read = match read {
            Ok(Ok(read)) => read,
            Ok(Err(err)) => {
                tracing::warn!(platform, channel, %err, "catch-up of a channel failed; its messages may be missed");
                limits.health.channel_failed(platform, channel);
                continue;
            }
            Err(_) => HistoryRead {
                messages: Vec::new(),
                cut_short: Some(CutShort::Time),
            },
        };
        let count = read.messages.len();
        if let Some(cut) = read.cut_short {
            tracing::warn!(
                platform,
                channel,
                fetched = count,
                budget = cut.name(),
                "catch-up of a channel stopped at its budget with more to read; raise broker.catch_up_max_pages or broker.catch_up_max_time to read further"
            );
        }
        limits.health.channel_read(
            platform,
            channel,
            count as u64,
            read.cut_short.map(CutShort::name),
        );
        fetched += count;
        if !deliver(channel, read.messages) {
            return fetched;
        }
    }
    tracing::info!(platform, channels = count, fetched, why, "catch-up done");
    fetched
}

/// A thread the store knows as the bot's (one the bridge let go of while
/// it was quiet).
async fn is_stored_thread(durable: &Durable, channel: &str) -> bool {
    let found = durable.store().thread(durable.platform(), channel).await;
    matches!(found, Ok(Some(_)))
}

/// Marks the run finished however it ends (done, intake closed, or the
/// task dropped on shutdown).
struct Finished<'a>(&'a CatchUpHealth, &'a str);

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        self.0.finished(self.1);
    }
}

#[cfg(test)]
mod tests;
