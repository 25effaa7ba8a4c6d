//! The bridge for one platform: routed, journaled messages -> thread actors.
//!
//! Owns the map of threads switchboard started or answered in (restored from
//! the store at start, so their follow-ups need no mention after a restart)
//! and spawns one actor per thread when it is first needed. Every decision
//! about who is answered is `router::route`'s; every accepted message is
//! journaled before it is acted on, and the journal insert is the dedupe.
//! That insert is the only store write between a message and its thread
//! actor; the catch-up cursor follows in the background. While the store
//! cannot be reached, nothing is acted on: each message is turned away
//! (not acknowledged, its cursor not moved, its channel remembered) and
//! fetched again by a catch-up once the store is back (ADR 21).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::catch_up::{CatchUpLimits, CatchUpScope, catch_up};
use super::durable::{CursorQueue, Unreachable};
use super::owners::Answerer;
use super::queue_cap;
use super::router::{Route, route};
use super::store_back::{Held, STORE_UNREACHABLE};
use super::thread::{
    Incoming, Origin, PreviousSession, ThreadDeps, ThreadHandle, ThreadInput, spawn_thread,
};
use super::turned_away::TurnedAway;
use crate::chat::receipt::Receipt;
use crate::chat::recent_ids::RecentIds;
use crate::chat::{ButtonClick, ChatHistory, ChatMessage, Conversation, InboundSender, Platform};
use crate::config::Gating;
use crate::delivery::DeliveryLedger;
use crate::metrics::Metrics;
use crate::store::{JournalEntry, JournalState, ThreadRecord, now_ms};

/// Longest thread name, in characters (Discord allows 100).
const THREAD_NAME_CHARS: usize = 60;
/// Ids remembered in memory when the store refused a message's write (it
/// was reached, so the message is acted on all the same).
const FALLBACK_DEDUPE: usize = 10_000;
/// Channels remembered as not threads (the oldest forgotten first, and
/// asked about again).
const NOT_THREADS: usize = 4_096;
/// Threads whose actor ended idle are forgotten after every this many
/// actor starts: a closed sender still keeps its channel's first block of
/// slots allocated (a few KB), and the entry itself ~600 B, which the soak
/// measured as RSS growing with every thread ever held. A forgotten thread
/// is recalled from the store when someone writes in it again.
const LET_GO_EVERY: u32 = 256;

/// [`LET_GO_EVERY`], or the environment variable
/// `SWITCHBOARD_THREAD_FORGET_EVERY` (tests: 1 forgets at every start).
fn let_go_every() -> u32 {
    std::env::var("SWITCHBOARD_THREAD_FORGET_EVERY")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(LET_GO_EVERY)
}

pub(super) struct OwnedThread {
    pub(super) parent: String,
    pub(super) input: Option<ThreadHandle>,
    pub(super) previous: Option<PreviousSession>,
}

impl OwnedThread {
    /// A thread as the store remembers it (no actor yet), keyed by its id.
    pub(super) fn from_record(record: ThreadRecord) -> (String, Self) {
        let previous = record.session_id.map(|session_id| PreviousSession {
            session_id,
            supports_load: record.supports_load,
        });
        let thread = Self {
            parent: record.channel_id,
            input: None,
            previous,
        };
        (record.thread_id, thread)
    }
}

/// What catch-up needs.
pub struct CatchUpSource {
    pub history: Arc<dyn ChatHistory>,
    pub inbound: InboundSender,
    pub window: Duration,
    pub limits: CatchUpLimits,
}

pub struct Bridge {
    pub(super) platform: Platform,
    pub(super) deps: Arc<ThreadDeps>,
    pub(super) gating: Gating,
    pub(super) threads: HashMap<String, OwnedThread>,
    fallback: RecentIds,
    /// Channels the store says are not threads (Discord with owners:
    /// asked once each, `recall`).
    not_threads: RecentIds,
    /// Where messages were turned away while the store was unreachable.
    pub(super) turned_away: TurnedAway,
    /// What came in channels being read back after the store's return.
    pub(super) held: Held,
    metrics: Metrics,
    pub(super) catch_up: CatchUpSource,
    cursors: CursorQueue,
    /// What the live connection delivered, for the delivery check.
    ledger: DeliveryLedger,
    tracker: TaskTracker,
    shutdown: CancellationToken,
    /// Stops the thread actors when this instance stands down (a child of
    /// `shutdown`, renewed after each stand-down).
    threads_stop: CancellationToken,
    /// Threads idle longer than this are not loaded at start (`restore`).
    pub(super) prune_after: Duration,
    /// Actors started since ended ones were last let go.
    started_since_let_go: u32,
    /// Forget ended threads after this many actor starts.
    let_go_every: u32,
    /// The thread each (channel, user) last wrote in (slash commands on
    /// Slack).
    pub(super) recent_threads: super::slash::RecentThreads,
    /// The bot's own state as `/status` in a channel shows it.
    status: BotStatus,
    /// Several instances: each thread is answered by its owner (`owners`).
    pub(super) owners: Option<super::owners::BridgeOwners>,
}

/// The text of `/status` outside a thread.
pub type BotStatus = Arc<dyn Fn() -> String + Send + Sync>;

impl Bridge {
    pub fn new(
        platform: Platform,
        deps: Arc<ThreadDeps>,
        gating: Gating,
        metrics: Metrics,
        catch_up: CatchUpSource,
        tracker: TaskTracker,
        shutdown: CancellationToken,
    ) -> Self {
        let cursors = deps.durable.cursor_queue(&tracker);
        Self {
            platform,
            deps,
            gating,
            threads: HashMap::new(),
            fallback: RecentIds::new(FALLBACK_DEDUPE),
            not_threads: RecentIds::new(NOT_THREADS),
            turned_away: TurnedAway::default(),
            held: Held::default(),
            metrics,
            catch_up,
            cursors,
            ledger: DeliveryLedger::default(),
            tracker,
            threads_stop: shutdown.child_token(),
            shutdown,
            prune_after: crate::config::DEFAULT_PRUNE_AFTER,
            started_since_let_go: 0,
            let_go_every: let_go_every(),
            recent_threads: super::slash::RecentThreads::default(),
            status: Arc::new(|| "switchboard is running.".to_owned()),
            owners: None,
        }
    }

    /// Record live deliveries in `ledger` (the delivery check reads it).
    pub fn with_delivery_ledger(mut self, ledger: DeliveryLedger) -> Self {
        self.ledger = ledger;
        self
    }

    /// Load (and keep) only threads active within `prune_after`
    /// (`store.prune_after`; default as the config's).
    /// What `/status` in a channel says (the app gives connections and
    /// sessions).
    pub fn with_status(mut self, status: BotStatus) -> Self {
        self.status = status;
        self
    }

    pub(super) fn bot_status(&self) -> String {
        (self.status)()
    }

    pub(super) fn gating(&self) -> &Gating {
        &self.gating
    }

    pub fn with_prune_after(mut self, prune_after: Duration) -> Self {
        self.prune_after = prune_after;
        self
    }

    /// Another instance holds the platform now: stop every thread actor
    /// (each running turn gets the shutdown grace, then is journaled
    /// interrupted) and the delivery check's claim on a session, so this
    /// instance no longer acts for the platform.
    /// With thread owners (ADR 22), only the platform's session goes: each
    /// thread stays with the instance holding its lease.
    pub fn stand_down(&mut self) {
        self.ledger.session_stopped();
        if self.owners.is_some() {
            tracing::warn!(
                platform = self.platform.as_str(),
                "another instance holds this platform's shard now; the threads stay with their owners"
            );
            return;
        }
        self.threads_stop.cancel();
        self.threads_stop = self.shutdown.child_token();
        for thread in self.threads.values_mut() {
            thread.input = None;
        }
        tracing::warn!(
            platform = self.platform.as_str(),
            threads = self.threads.len(),
            "another instance holds this platform's shard now; stopped acting on its threads"
        );
    }

    /// This instance took the platform over from another: learn the
    /// threads the other one opened and take up what it left unanswered.
    /// With thread owners, only the threads are learnt (for the catch-up):
    /// what a dead owner left is taken up by whoever claims its threads.
    pub async fn take_over(&mut self) {
        if self.owners.is_some() {
            tracing::info!(
                platform = self.platform.as_str(),
                "took this platform's shard over: restoring its threads (their owners answer them)"
            );
            self.restore_threads().await;
            return;
        }
        tracing::info!(
            platform = self.platform.as_str(),
            "took this platform's shard over: restoring its threads and unanswered messages"
        );
        self.restore().await;
    }

    /// A new platform session started: catch up on what was missed.
    pub fn start_catch_up(&self) {
        self.ledger.session_started(std::time::SystemTime::now());
        let scope = CatchUpScope {
            allowed_channels: self.gating.allowed_channels.iter().cloned().collect(),
            allow_all_channels: self.gating.allow_all_channels,
            owned_threads: self.threads.keys().cloned().collect::<HashSet<_>>(),
            window: self.catch_up.window,
        };
        let task = catch_up(
            self.catch_up.history.clone(),
            self.deps.durable.clone(),
            scope,
            self.catch_up.limits.clone(),
            self.catch_up.inbound.clone(),
        );
        let shutdown = self.shutdown.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                _ = task => {}
            }
        });
    }

    /// Act on one message (live or caught up), at most once. `receipt` is
    /// settled as soon as the message is durable (journaled or recorded as
    /// seen, duplicates included), before it is acted on. While the store
    /// cannot be reached the message is turned away, and while its channel
    /// is being read back after the store's return it is held until then
    /// (`store_back`); a write the store refused settles it "not durable"
    /// (the platform redelivers) and the message is still handled, deduped
    /// in memory.
    pub async fn handle(&mut self, message: ChatMessage, receipt: Receipt) {
        if !message.caught_up {
            self.ledger.delivered(&message.channel_id, &message.id);
        }
        let Some((message, receipt)) = self.hold(message, receipt) else {
            return;
        };
        if self.deps.durable.watch().is_down() || self.recall(&message).await.is_err() {
            self.turn_away(&message, receipt, STORE_UNREACHABLE);
            return;
        }
        let decision = route(&message, &self.gating, |id| {
            self.threads.get(id).map(|t| t.parent.clone())
        });
        let platform = self.platform.as_str();
        let accepted = match &decision {
            Route::Start { prompt } if !prompt.is_empty() => {
                // The thread it opens is checked for delivery from now on.
                self.ledger.watch(&message.id);
                Some((message.id.clone(), prompt.clone()))
            }
            Route::Adopt {
                thread_id, prompt, ..
            }
            | Route::Continue { thread_id, prompt } => Some((thread_id.clone(), prompt.clone())),
            _ => None,
        };
        // With several instances: who answers (another instance's thread
        // is journaled marked for its owner).
        let elsewhere = match &accepted {
            Some((thread_id, _)) => match self.answerer(thread_id).await {
                Ok(Answerer::Here) => None,
                Ok(Answerer::Elsewhere(owner)) => Some(owner),
                Err(err) => {
                    tracing::warn!(%err, message_id = %message.id, "could not find who answers this thread");
                    self.turn_away(&message, receipt, STORE_UNREACHABLE);
                    return;
                }
            },
            None => None,
        };
        let durable = self.deps.durable.clone();
        let first = match &accepted {
            Some((thread_id, prompt)) => {
                let entry = JournalEntry {
                    platform: platform.to_owned(),
                    message_id: message.id.clone(),
                    thread_id: thread_id.clone(),
                    channel_id: message.channel_id.clone(),
                    author_id: message.author.id.clone(),
                    author_name: message.author.name.clone(),
                    is_bot: message.author.is_bot,
                    content: prompt.clone(),
                    received_at_ms: now_ms(),
                    state: JournalState::Received,
                    reply_message_ids: Vec::new(),
                };
                durable.accept(&entry, elsewhere.as_deref()).await
            }
            None => durable.first_sighting(&message.id).await,
        };
        let Ok(first) = first else {
            self.turn_away(&message, receipt, STORE_UNREACHABLE);
            return;
        };
        receipt.settle(first.is_some());
        let first = first.unwrap_or_else(|| self.fallback.first_sighting(&message.id));
        if !first {
            self.metrics.duplicate_event(platform);
            tracing::debug!(platform, message_id = %message.id, caught_up = message.caught_up, "duplicate message event dropped");
            return;
        }
        self.metrics.message_received(platform);
        if message.caught_up {
            self.metrics.message_caught_up(platform);
            durable.record_caught_up();
        }
        tracing::info!(
            platform,
            message_id = %message.id,
            channel_id = %message.channel_id,
            author_id = %message.author.id,
            mentions_bot = message.mentions_bot,
            from_self = message.from_self,
            caught_up = message.caught_up,
            "message received"
        );
        self.cursors.advance(&message.channel_id, &message.id);
        self.keep_thread(&decision, &message).await;
        match (elsewhere, &accepted) {
            (Some(owner), Some((thread_id, _))) => {
                self.left_for(&owner, &message.id, thread_id).await;
            }
            _ => self.act(decision, &message).await,
        }
    }

    /// Store the thread a message starts or adopts, before anyone answers
    /// it (with several instances, every instance must know the thread
    /// for its follow-ups, whoever answers).
    async fn keep_thread(&self, decision: &Route, message: &ChatMessage) {
        match decision {
            // A thread started from a message has the message's id.
            Route::Start { prompt } if !prompt.is_empty() => {
                self.deps
                    .durable
                    .save_thread(&message.id, &message.channel_id)
                    .await;
            }
            Route::Adopt {
                thread_id,
                parent_id,
                ..
            } => self.deps.durable.save_thread(thread_id, parent_id).await,
            _ => {}
        }
    }

    async fn act(&mut self, decision: Route, message: &ChatMessage) {
        let incoming = |text: String| Incoming {
            message_id: message.id.clone(),
            channel_id: message.channel_id.clone(),
            author_id: message.author.id.clone(),
            author: message.author.name.clone(),
            is_bot: message.author.is_bot,
            text,
            taken_up: None,
        };
        match decision {
            Route::Ignore(reason) => {
                tracing::debug!(message_id = %message.id, reason, "not for the bot");
            }
            Route::Deny => {
                tracing::info!(message_id = %message.id, author_id = %message.author.id, "user not allowed; reacting");
                let (outbound, emoji) = (
                    self.deps.outbound.clone(),
                    self.deps.reactions.denied.clone(),
                );
                let (channel, id) = (message.channel_id.clone(), message.id.clone());
                tokio::spawn(async move { outbound.react(&channel, &id, &emoji).await });
            }
            Route::Start { prompt } if prompt.is_empty() => {
                tracing::debug!(message_id = %message.id, "a mention without a prompt; ignored");
            }
            Route::Start { prompt } => {
                if !message.author.is_bot {
                    self.recent_threads
                        .wrote(&message.channel_id, &message.author.id, &message.id);
                }
                let origin = Origin::NewThread {
                    channel_id: message.channel_id.clone(),
                    message_id: message.id.clone(),
                    name: thread_name(&prompt),
                };
                self.send(
                    &message.id,
                    message.channel_id.clone(),
                    origin,
                    ThreadInput::Message(incoming(prompt)),
                )
                .await;
            }
            Route::Adopt {
                thread_id,
                parent_id,
                prompt,
            } => {
                let conversation = Conversation {
                    platform: message.platform,
                    channel_id: parent_id.clone(),
                    thread_id: thread_id.clone(),
                };
                self.send(
                    &thread_id,
                    parent_id,
                    Origin::Existing(conversation),
                    ThreadInput::Message(incoming(prompt)),
                )
                .await;
            }
            Route::Continue { thread_id, prompt } => {
                let origin = self.existing(&thread_id);
                let parent = self.parent(&thread_id);
                if !message.author.is_bot {
                    self.recent_threads
                        .wrote(&parent, &message.author.id, &thread_id);
                }
                self.send(
                    &thread_id,
                    parent,
                    origin,
                    ThreadInput::Message(incoming(prompt)),
                )
                .await;
            }
            Route::Command { thread_id, command } => {
                if !self.command_here(&thread_id, command).await {
                    return;
                }
                let origin = self.existing(&thread_id);
                let parent = self.parent(&thread_id);
                self.send(&thread_id, parent, origin, ThreadInput::Command(command))
                    .await;
            }
        }
    }

    /// A click on one of the bot's buttons goes to its thread's actor
    /// (with several instances, to the thread's owner: `forwarding`).
    pub async fn click(&mut self, click: ButtonClick) {
        let Some(click) = self.forward_click(click).await else {
            return;
        };
        self.click_here(click);
    }

    /// A click for this instance's actor of the thread; with no actor
    /// running there, nothing is open to decide.
    pub(super) fn click_here(&mut self, click: ButtonClick) {
        let handle = self
            .threads
            .get(&click.thread_key)
            .and_then(|thread| thread.input.as_ref())
            .filter(|handle| !handle.tx.is_closed());
        let refused = match handle {
            Some(handle) => match handle.tx.send(ThreadInput::Click(Box::new(click))) {
                Ok(()) => return,
                Err(refused) => refused.0,
            },
            None => ThreadInput::Click(Box::new(click)),
        };
        if let ThreadInput::Click(click) = refused {
            tracing::info!(thread = %click.thread_key, user = %click.user.id, "a click on a thread with nothing open; told privately");
            tokio::spawn(async move {
                let _ = click
                    .answer
                    .tell_privately(super::permission_desk::NO_LONGER_OPEN)
                    .await;
            });
        }
    }

    pub(super) fn parent(&self, thread_id: &str) -> String {
        self.threads
            .get(thread_id)
            .map_or_else(|| thread_id.to_owned(), |t| t.parent.clone())
    }

    pub(super) fn existing(&self, thread_id: &str) -> Origin {
        Origin::Existing(Conversation {
            platform: self.platform,
            channel_id: self.parent(thread_id),
            thread_id: thread_id.to_owned(),
        })
    }

    /// Deliver to the thread's actor, spawning it (with `origin`) if
    /// needed; a message beyond `broker.max_queued` waiting ones is refused
    /// (`queue_cap`).
    pub(super) async fn send(
        &mut self,
        key: &str,
        parent: String,
        origin: Origin,
        mut input: ThreadInput,
    ) {
        // Twice at most: an actor that ended idle refuses the send, and a
        // new one takes it.
        for _ in 0..2 {
            let handle = self.actor(key, &parent, &origin).await;
            if let ThreadInput::Message(message) = &input {
                if !handle.waiting.has_room(self.deps.max_queued) {
                    queue_cap::refuse(&self.deps, key, &origin, message).await;
                    return;
                }
                handle.waiting.handed_over();
            }
            match handle.tx.send(input) {
                Ok(()) => return,
                Err(refused) => input = refused.0,
            }
        }
        tracing::warn!(
            thread = key,
            "thread actor is gone (shutting down?); the message stays journaled"
        );
    }

    /// The thread's running actor, or a new one (with `origin`). An actor
    /// that ended idle is replaced; the session it had is found in the
    /// pool, or restored from the store's record like after a restart.
    async fn actor(&mut self, key: &str, parent: &str, origin: &Origin) -> ThreadHandle {
        let thread = self
            .threads
            .entry(key.to_owned())
            .or_insert_with(|| OwnedThread {
                parent: parent.to_owned(),
                input: None,
                previous: None,
            });
        if let Some(handle) = &thread.input
            && !handle.tx.is_closed()
        {
            return handle.clone();
        }
        let ended_idle = thread.input.is_some();
        let mut previous = thread.previous.take();
        if ended_idle && previous.is_none() {
            previous = self.stored_session(key).await;
        }
        let handle = spawn_thread(
            key.to_owned(),
            origin.clone(),
            previous,
            self.deps_of(key),
            &self.tracker,
            self.threads_stop.clone(),
        );
        if let Some(thread) = self.threads.get_mut(key) {
            thread.input = Some(handle.clone());
        }
        self.started_since_let_go += 1;
        if self.started_since_let_go >= self.let_go_every {
            self.started_since_let_go = 0;
            self.let_go_of_ended();
        }
        handle
    }

    /// Forget the threads whose actor ended idle (and those restored at
    /// start that never had one): the store has them, and [`Self::recall`]
    /// brings one back when someone writes in it.
    fn let_go_of_ended(&mut self) {
        self.threads
            .retain(|_, thread| thread.input.as_ref().is_some_and(|h| !h.tx.is_closed()));
    }

    /// A message in a thread this bridge does not hold: if the store knows
    /// the thread as the bot's, take it back (with its agent session), so
    /// a follow-up needs no mention however long the thread was quiet.
    async fn recall(&mut self, message: &ChatMessage) -> Result<(), Unreachable> {
        let channel = &message.channel_id;
        if message.parent_channel_id.is_some() {
            return self.recall_thread(channel).await;
        }
        // Discord names a thread's parent from the gateway's thread events,
        // which a shard taken over by RESUME never saw: with owners, a
        // thread another instance made can be unknown here. The store is
        // asked once per channel (a channel is never a thread later).
        if self.owners.is_some()
            && self.platform == Platform::Discord
            && !self.threads.contains_key(channel)
            && !self.not_threads.contains(channel)
        {
            self.recall_thread(channel).await?;
            if !self.threads.contains_key(channel) {
                self.not_threads.first_sighting(channel);
            }
        }
        Ok(())
    }

    /// Bring thread `thread_id` back from the store if it was forgotten;
    /// `Err` if the store could not be asked.
    pub(super) async fn recall_thread(&mut self, thread_id: &str) -> Result<(), Unreachable> {
        if self.threads.contains_key(thread_id) {
            return Ok(());
        }
        let durable = &self.deps.durable;
        let record = durable.checked(
            "recall thread",
            durable.store().thread(durable.platform(), thread_id).await,
        )?;
        if let Some(Some(record)) = record {
            let (thread_id, thread) = OwnedThread::from_record(record);
            self.threads.insert(thread_id, thread);
        }
        Ok(())
    }

    /// The agent session the store remembers for thread `key`.
    async fn stored_session(&self, key: &str) -> Option<PreviousSession> {
        let durable = &self.deps.durable;
        let record = durable.check(
            "thread record",
            durable.store().thread(durable.platform(), key).await,
        )??;
        Some(PreviousSession {
            session_id: record.session_id?,
            supports_load: record.supports_load,
        })
    }
}

/// A thread name from the prompt: its first ~60 characters on one line,
/// cut at a word boundary when possible.
pub fn thread_name(prompt: &str) -> String {
    let flat = prompt.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= THREAD_NAME_CHARS {
        return if flat.is_empty() {
            "conversation".to_owned()
        } else {
            flat
        };
    }
    let cut: String = flat.chars().take(THREAD_NAME_CHARS).collect();
    let trimmed = match cut.rfind(' ') {
        Some(space) if space > THREAD_NAME_CHARS / 2 => &cut[..space],
        _ => cut.as_str(),
    };
    format!("{trimmed}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_are_short_single_lines() {
        assert_eq!(thread_name("fix the\nbuild"), "fix the build");
        assert_eq!(thread_name("   "), "conversation");
        let long =
            "please look at the failing integration tests in the gateway crate and tell me why";
        let name = thread_name(long);
        assert!(name.chars().count() <= THREAD_NAME_CHARS + 1, "{name}");
        assert!(name.ends_with('…') && !name.contains("why"), "{name}");
        let unbroken = "x".repeat(200);
        assert_eq!(
            thread_name(&unbroken).chars().count(),
            THREAD_NAME_CHARS + 1
        );
        let multibyte = "漢".repeat(100);
        assert_eq!(
            thread_name(&multibyte).chars().count(),
            THREAD_NAME_CHARS + 1
        );
    }
}
