//! A platform's threads when several instances share the bot (issue 14,
//! point 5; ADR 22): each thread is answered by the one instance holding
//! its lease, whichever instance received the message.
//!
//! Owns the bridge's side of ownership: deciding, for a journaled message,
//! whether this instance answers it or leaves it for the owner (marked in
//! the journal, the owner woken); placing a new thread on the least loaded
//! instance; and, when woken or polled ([`Bridge::threads_waiting`]),
//! taking what others left for this instance, taking up the threads placed
//! on it or left with nobody, stopping the ones it lost and letting idle
//! ones go. The journal is the only record of a message: a lost wake-up
//! only delays it to the next poll. It must never act on a thread whose
//! lease this instance does not hold (its actors' posts and writes ask the
//! lease's slot besides).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::bridge::Bridge;
use super::thread::ThreadDeps;
use crate::cluster::{HolderSlot, ThreadOwners};
use crate::store::{JournalEntry, StoreError};

/// At most this many entries are taken per poll (the next poll takes more).
const TAKE_PER_POLL: usize = 200;
/// At most this many threads with nobody are taken up per poll.
const UNATTENDED_PER_POLL: usize = 50;

/// Whether a `ThreadsWaiting` is queued for a platform and not yet taken
/// by its bridge (which clears it first thing).
#[derive(Clone, Debug, Default)]
pub struct WaitingFlag(Arc<AtomicBool>);

impl WaitingFlag {
    /// Set it: `true` if it was clear (so an event must be sent).
    pub fn raise(&self) -> bool {
        !self.0.swap(true, Ordering::AcqRel)
    }

    /// The bridge took the event.
    pub fn lower(&self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The thread actors' dependencies for a thread held under a slot.
pub type OwnedThreadDeps = Arc<dyn Fn(&HolderSlot) -> Arc<ThreadDeps> + Send + Sync>;

/// What a bridge needs to share its platform's threads with other
/// instances.
#[derive(Clone)]
pub struct BridgeOwners {
    pub owners: ThreadOwners,
    /// How long an instance's heartbeat may be old and the instance still
    /// be given new threads (the lease ttl).
    pub alive_within: std::time::Duration,
    /// The thread actors' dependencies for a thread held under `slot`
    /// (posts and journal writes asking it first).
    pub deps_for: OwnedThreadDeps,
    /// Lowered when a `ThreadsWaiting` is taken (the waker sends the next).
    pub waiting: WaitingFlag,
    /// The answer to a click another instance heard, from its route.
    pub answer_click: AnswerForwardedClick,
    /// The answer to a slash command another instance heard.
    pub answer_command: AnswerForwardedCommand,
}

/// The answer to a slash command another instance heard, from its route
/// ([`crate::chat::CommandResponder::route`]).
pub type AnswerForwardedCommand =
    Arc<dyn Fn(&serde_json::Value) -> Option<crate::chat::CommandAnswer> + Send + Sync>;

/// The answer to a click another instance heard, from its route
/// ([`crate::chat::ClickResponder::route`]).
pub type AnswerForwardedClick =
    Arc<dyn Fn(&serde_json::Value) -> Option<crate::chat::ClickAnswer> + Send + Sync>;

/// Who answers a journaled message.
pub(super) enum Answerer {
    /// This instance (it holds the thread).
    Here,
    /// Another instance: the message is left for it.
    Elsewhere(String),
}

impl Bridge {
    /// Share this platform's threads with the other instances.
    pub fn with_owners(mut self, owners: BridgeOwners) -> Self {
        self.owners = Some(owners);
        self
    }

    /// The dependencies for thread `key`'s actor: its owner's slot's, when
    /// threads have owners.
    pub(super) fn deps_of(&self, key: &str) -> Arc<ThreadDeps> {
        let Some(owned) = &self.owners else {
            return self.deps.clone();
        };
        let slot = owned
            .owners
            .slot(self.platform.as_str(), key)
            .unwrap_or_default();
        (owned.deps_for)(&slot)
    }

    /// Who answers a message in `thread_id`, decided before it is
    /// journaled (so an entry for another owner is journaled marked for
    /// it, in one statement): this instance if it holds the thread or wins
    /// it now (a thread nobody holds goes to the least loaded instance
    /// alive), else the owner. Always this one with one instance. `Err`
    /// if the store could not say.
    pub(super) async fn answerer(&mut self, thread_id: &str) -> Result<Answerer, StoreError> {
        let Some(owned) = self.owners.clone() else {
            return Ok(Answerer::Here);
        };
        let platform = self.platform.as_str();
        let owners = &owned.owners;
        if owners.may_act(platform, thread_id) {
            // What others left in this instance's threads comes first; a
            // thread with no actor here (placed on it and not taken up
            // yet, or idle) has its unfinished entries taken first.
            self.take_waiting().await;
            if !self.has_live_actor(thread_id) {
                self.take_thread(thread_id).await;
            }
            return Ok(Answerer::Here);
        }
        // A lease held in the database by this instance but not known here
        // yet (placed on it) counts as another's: the message is marked
        // for this instance, and its poll takes it after the next renewal.
        let owner = match owners.owner(platform, thread_id).await? {
            Some(lease) => lease.holder,
            None => {
                let chosen = self.least_loaded(&owned).await?;
                let won = if chosen == owners.instance() {
                    owners.claim(platform, thread_id).await?
                } else {
                    owners.place(platform, thread_id, &chosen).await?
                };
                match (won, chosen == owners.instance()) {
                    (true, true) => return Ok(Answerer::Here),
                    (true, false) => chosen,
                    // Another placer won the race: whoever holds it now.
                    (false, _) => match owners.owner(platform, thread_id).await? {
                        Some(lease) => lease.holder,
                        None => chosen,
                    },
                }
            }
        };
        Ok(Answerer::Elsewhere(owner))
    }

    /// A message journaled for `owner` (marked for it): wake it.
    pub(super) async fn left_for(&self, owner: &str, message_id: &str, thread_id: &str) {
        let platform = self.platform.as_str();
        if let Err(err) = self.deps.durable.store().wake(owner).await {
            tracing::debug!(%err, "waking the owner failed; its poll takes the message");
        }
        tracing::info!(
            platform,
            message_id,
            thread = thread_id,
            owner,
            "message left for the instance that owns its thread"
        );
    }

    /// The least loaded instance alive (live sessions over capacity, as
    /// their heartbeats said; ties broken at random so a burst of new
    /// threads spreads), this one if none is known.
    async fn least_loaded(&self, owned: &BridgeOwners) -> Result<String, StoreError> {
        let store = self.deps.durable.store();
        let alive = store.instances_alive(owned.alive_within).await?;
        let load = |i: &crate::store::InstanceRecord| {
            i.live_sessions as f64 / i.max_sessions.max(1) as f64
        };
        let Some(least) = alive.first().map(load) else {
            return Ok(owned.owners.instance().to_owned());
        };
        let tied: Vec<&str> = alive
            .iter()
            .filter(|i| load(i) <= least)
            .map(|i| i.id.as_str())
            .collect();
        let pick = rand::random_range(0..tied.len());
        Ok(tied[pick].to_owned())
    }

    /// Work may be waiting for this instance: stop acting on the threads
    /// it lost, take up the ones placed on it and the ones nobody holds,
    /// take the messages others left for it, and let idle threads go.
    pub async fn threads_waiting(&mut self) {
        let Some(owned) = self.owners.clone() else {
            return;
        };
        owned.waiting.lower();
        // While the store cannot be reached none of this can be done, and
        // each try would hold the intake up for the pool's acquire
        // timeout: the changes wait for the next look after its return
        // (the threads lost meanwhile are refused by their slots anyway).
        let down = |bridge: &Bridge| bridge.deps.durable.watch().is_down();
        if down(self) {
            return;
        }
        let platform = self.platform.as_str();
        let changes = owned.owners.take_changes(platform);
        for thread_id in &changes.lost {
            if let Some(thread) = self.threads.get_mut(thread_id) {
                thread.input = None;
            }
        }
        for thread_id in &changes.placed {
            // Taken up already by a message of it taken meanwhile
            // (`answer_taken`): its actor is answering.
            if !self.has_live_actor(thread_id) {
                self.take_thread(thread_id).await;
            }
        }
        if down(self) {
            return;
        }
        self.take_waiting().await;
        if down(self) {
            return;
        }
        self.take_forwarded(&owned).await;
        if down(self) {
            return;
        }
        self.take_unattended(&owned).await;
        if down(self) {
            return;
        }
        self.let_idle_threads_go(&owned).await;
    }

    /// Answer what other instances left in this instance's threads.
    async fn take_waiting(&mut self) {
        let Some(owned) = self.owners.clone() else {
            return;
        };
        let durable = self.deps.durable.clone();
        let taken = durable.check(
            "take waiting messages",
            durable
                .store()
                .journal_take_waiting(owned.owners.instance(), durable.platform(), TAKE_PER_POLL)
                .await,
        );
        for entry in taken.unwrap_or_default() {
            self.answer_taken(entry).await;
        }
    }

    /// Take the threads whose unfinished messages nobody holds (their
    /// owner died or let go) for this instance, and take them up.
    async fn take_unattended(&mut self, owned: &BridgeOwners) {
        let durable = self.deps.durable.clone();
        let unattended = durable.check(
            "unattended threads",
            durable
                .store()
                .threads_unattended(durable.platform(), UNATTENDED_PER_POLL)
                .await,
        );
        for thread_id in unattended.unwrap_or_default() {
            match owned.owners.claim(durable.platform(), &thread_id).await {
                Ok(true) => {
                    tracing::info!(platform = durable.platform(), thread = %thread_id, "took up a thread nobody held");
                    self.take_thread(&thread_id).await;
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(%err, thread = %thread_id, "could not take up a thread nobody held");
                }
            }
        }
    }

    /// This instance holds `thread_id` now: answer its unfinished messages
    /// (a reply cut short is marked, tries are counted, as after a
    /// restart), with the thread's agent session if the store has it.
    async fn take_thread(&mut self, thread_id: &str) {
        let Some(owned) = self.owners.clone() else {
            return;
        };
        // What this instance knew of the thread from before (an actor cut
        // off, a session that is not the thread's newest) goes: the store
        // says which session to load.
        self.threads.remove(thread_id);
        if self.recall_thread(thread_id).await.is_err() {
            return;
        }
        let durable = self.deps.durable.clone();
        let taken = durable.check(
            "take a thread's messages",
            durable
                .store()
                .journal_take_thread(durable.platform(), thread_id, owned.owners.instance())
                .await,
        );
        for entry in taken.unwrap_or_default() {
            self.resume_entry(entry).await;
        }
    }

    /// A message another instance journaled, taken for this one.
    async fn answer_taken(&mut self, entry: JournalEntry) {
        let platform = self.platform.as_str();
        let knows = self
            .owners
            .as_ref()
            .is_some_and(|owned| owned.owners.may_act(platform, &entry.thread_id));
        if !knows {
            // Placed on this instance and not learnt yet (or just lost):
            // the renewal that learns it takes the thread's entries up,
            // this one among them.
            tracing::debug!(message_id = %entry.message_id, thread = %entry.thread_id, "a message for a thread not known to be held yet; taken with the thread");
            return;
        }
        if !self.has_live_actor(&entry.thread_id) {
            // Learnt by a renewal that ran after this look began (the
            // placement not taken up yet), or idle here: the thread's
            // unfinished entries are taken together, oldest first, so an
            // earlier one left for the placement is not answered after
            // this one.
            let thread_id = entry.thread_id.clone();
            self.take_thread(&thread_id).await;
            return;
        }
        if self.recall_thread(&entry.thread_id).await.is_err() {
            return;
        }
        self.resume_entry(entry).await;
    }

    /// Whether thread `thread_id` has an actor running here.
    fn has_live_actor(&self, thread_id: &str) -> bool {
        self.threads
            .get(thread_id)
            .and_then(|t| t.input.as_ref())
            .is_some_and(|handle| !handle.tx.is_closed())
    }

    /// Give up the threads whose actor ended with nothing to do (or never
    /// started): their next message is placed afresh.
    async fn let_idle_threads_go(&mut self, owned: &BridgeOwners) {
        let platform = self.platform.as_str();
        let idle: Vec<String> = owned
            .owners
            .held_threads(platform)
            .into_iter()
            .filter(|thread_id| {
                self.threads
                    .get(thread_id)
                    .and_then(|t| t.input.as_ref())
                    .is_none_or(|handle| handle.tx.is_closed())
            })
            .collect();
        for thread_id in idle {
            owned.owners.let_go(platform, &thread_id).await;
        }
    }
}
