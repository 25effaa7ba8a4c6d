//! The broker's use of the store: every write it makes, each failure logged
//! at WARN and counted in the store's health (never a silent drop, never a
//! stop), and each outcome reported to the pipeline's health (a failing
//! store makes the process unready until an operation succeeds again). A
//! failure that means the store could not be reached also tells the
//! [`StoreWatch`] (the intake pauses until the probe finds it back); the
//! calls the intake depends on ([`Durable::accept`],
//! [`Durable::first_sighting`]) say so with [`Unreachable`], and the
//! intake turns the message away. Other callers go on without the write.
//!
//! Catch-up cursors are written in the background ([`CursorQueue`]), off the
//! path of the message that moves them: a cursor only ever moves forward
//! (the store compares ids), so a batch may be written late and coalesced,
//! never out of order; one lost by a crash costs catch-up a few messages it
//! fetches again, and those are dropped as duplicates.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

use super::store_watch::StoreWatch;
use super::test_faults::TestFaults;
use crate::health::StoreHealth;
use crate::store::{JournalEntry, JournalState, Store, StoreError, ThreadRecord, id_cmp, now_ms};

/// How long the end of a turn is tried again while the store cannot be
/// reached.
const FINAL_WRITE_PATIENCE: Duration = Duration::from_secs(300);
/// Between those tries.
const FINAL_WRITE_RETRY: Duration = Duration::from_millis(500);

/// Messages answered here whose end is not recorded yet (one entry per
/// turn retrying its final write: at most as many as turns run at once).
type Finishing = Arc<Mutex<HashSet<String>>>;

/// Holds a turn's messages in [`Finishing`] until dropped (on every path).
struct FinishingGuard {
    finishing: Finishing,
    ids: Vec<String>,
}

impl FinishingGuard {
    fn hold(finishing: &Finishing, ids: &[String]) -> Self {
        finishing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(ids.iter().cloned());
        Self {
            finishing: finishing.clone(),
            ids: ids.to_vec(),
        }
    }
}

impl Drop for FinishingGuard {
    fn drop(&mut self) {
        let mut finishing = self.finishing.lock().unwrap_or_else(|e| e.into_inner());
        for id in &self.ids {
            finishing.remove(id);
        }
    }
}

#[derive(Clone)]
pub struct Durable {
    /// Shared by every copy (all the platform's threads).
    finishing: Finishing,
    store: Store,
    health: StoreHealth,
    /// Where outcomes go (the pipeline's health) and unreachability too.
    watch: StoreWatch,
    faults: TestFaults,
    platform: &'static str,
    /// Where agent usage is counted (none in tests that build their own).
    metrics: Option<crate::metrics::Metrics>,
}

impl Durable {
    pub fn new(store: Store, health: StoreHealth, platform: &'static str) -> Self {
        Self {
            finishing: Finishing::default(),
            store,
            health,
            watch: StoreWatch::default(),
            faults: TestFaults::default(),
            metrics: None,
            platform,
        }
    }

    /// Report every outcome to `watch` (and its pipeline health); obey an
    /// armed test fault.
    pub fn reporting(mut self, watch: StoreWatch, faults: TestFaults) -> Self {
        self.watch = watch;
        self.faults = faults;
        self
    }

    /// The same, writing through `store` (a fenced one: a thread's owner
    /// writes under its thread's lease).
    pub fn with_store(&self, store: Store) -> Self {
        Self {
            store,
            ..self.clone()
        }
    }

    /// Whether the store can be reached, as far as is known.
    pub fn watch(&self) -> &StoreWatch {
        &self.watch
    }

    /// Count agent usage in `metrics` too.
    pub fn counting(mut self, metrics: crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Add one turn's usage to the thread (store and metrics).
    pub async fn add_usage(&self, thread_id: &str, usage: &crate::store::ThreadUsage) {
        if let Some(metrics) = &self.metrics {
            metrics.agent_usage(self.platform, usage);
        }
        if self.watch.is_down() {
            // Not worth holding a turn's end up for the pool's timeout:
            // the metrics have it; the thread's stored total misses it.
            tracing::warn!(
                platform = self.platform,
                thread = thread_id,
                "the store is unreachable; this turn's usage is not added to the thread's total"
            );
            return;
        }
        let result = self
            .store
            .add_thread_usage(self.platform, thread_id, usage)
            .await;
        self.check("thread usage", result);
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The test fault armed, if any ([`TestFaults`]).
    pub fn faults(&self) -> &TestFaults {
        &self.faults
    }

    pub fn platform(&self) -> &'static str {
        self.platform
    }

    /// Log and count a failed store operation; `None` on failure.
    pub fn check<T>(&self, what: &str, result: Result<T, StoreError>) -> Option<T> {
        self.checked(what, result).ok().flatten()
    }

    /// [`Self::check`], telling a store that could not be reached
    /// (`Err(Unreachable)`) from one that failed this call (`Ok(None)`).
    /// An armed `store_fail` test fault reads as unreachable.
    pub fn checked<T>(
        &self,
        what: &str,
        result: Result<T, StoreError>,
    ) -> Result<Option<T>, Unreachable> {
        if let Err(err @ StoreError::Fenced { .. }) = &result {
            // Not a failing store: this instance no longer holds the lease
            // the write was made under, and another instance answers.
            tracing::warn!(platform = self.platform, operation = what, %err, "store write refused: another instance holds this platform now");
            return Ok(None);
        }
        let (err, unavailable) = match result {
            Ok(_) if self.faults.store_failing() => ("injected test fault".to_owned(), true),
            Ok(value) => {
                self.watch.pipeline().store_outcome(None);
                return Ok(Some(value));
            }
            Err(err) => (err.to_string(), err.is_unavailable()),
        };
        tracing::warn!(platform = self.platform, operation = what, %err, unavailable, "store operation failed; continuing without it");
        let error = format!("{what}: {err}");
        self.health.record_error(&error);
        self.watch.pipeline().store_outcome(Some(&error));
        if unavailable {
            self.watch.unreachable(&error);
            return Err(Unreachable);
        }
        Ok(None)
    }

    pub async fn set_states(&self, message_ids: &[String], state: JournalState) {
        for id in message_ids {
            let result = self
                .store
                .journal_set_state(self.platform, id, state, now_ms())
                .await;
            self.check("journal state", result);
        }
    }

    /// Mark a turn's batch begun (`prompted`), before its first post (ADR
    /// 25). Skipped while the store is known unreachable, as the reply ids
    /// are: the write would only wait out the pool's timeout and fail, and
    /// the answer must not wait on it.
    pub async fn set_prompted(&self, message_ids: &[String]) {
        if self.watch.is_down() {
            return;
        }
        self.set_states(message_ids, JournalState::Prompted).await;
    }

    /// The reply's message ids so far. Skipped while the store is known
    /// unreachable (an answer goes on streaming meanwhile; the turn's end
    /// records every id).
    pub async fn set_reply(&self, message_ids: &[String], reply_ids: &[String]) {
        if self.watch.is_down() {
            return;
        }
        let ids: Vec<&str> = message_ids.iter().map(String::as_str).collect();
        let result = self
            .store
            .journal_set_reply(self.platform, &ids, reply_ids, now_ms())
            .await;
        self.check("journal reply ids", result);
    }

    pub async fn set_session(
        &self,
        thread_id: &str,
        session_id: &str,
        cwd: &str,
        supports_load: bool,
    ) {
        let result = self
            .store
            .set_thread_session(
                self.platform,
                thread_id,
                Some(session_id),
                Some(cwd),
                supports_load,
            )
            .await;
        self.check("thread session", result);
    }

    /// Record that the thread was told its earlier agent context is gone.
    pub async fn context_lost_notified(&self, thread_id: &str) {
        let result = self
            .store
            .mark_context_lost_notified(self.platform, thread_id)
            .await;
        self.check("context-lost notice", result);
    }

    pub async fn save_thread(&self, thread_id: &str, channel_id: &str) {
        let now = now_ms();
        let record = ThreadRecord {
            platform: self.platform.to_owned(),
            thread_id: thread_id.to_owned(),
            channel_id: channel_id.to_owned(),
            created_at_ms: now,
            last_active_at_ms: now,
            session_id: None,
            cwd: None,
            supports_load: false,
            context_lost_notified: false,
        };
        let result = self.store.upsert_thread(&record).await;
        self.check("thread", result);
    }

    /// Journal an accepted message (and mark its id seen) before acting on
    /// it, in one write: `Some(true)` the first time, `Some(false)` for a
    /// duplicate, `None` if the store refused it, `Err` if it could not be
    /// reached.
    pub async fn accept(
        &self,
        entry: &JournalEntry,
        waiting_for: Option<&str>,
    ) -> Result<Option<bool>, Unreachable> {
        let result = self.store.journal_accept_for(entry, waiting_for).await;
        self.checked("journal insert", result)
    }

    /// A turn ended: its messages' final state, the reply's message ids and
    /// the thread's activity, in one write. If the store cannot be reached
    /// the write goes on in the background (every [`FINAL_WRITE_RETRY`],
    /// for [`FINAL_WRITE_PATIENCE`], whatever becomes of the thread's
    /// actor), and meanwhile the messages are [`Self::is_finishing`]: an
    /// answer completed during a database outage is recorded when it
    /// returns, not answered again by a take-over in this process. An
    /// answer given in full whose lease changed hands meanwhile is
    /// recorded all the same (true whoever holds the lease now); anything
    /// else the fence refuses stays for the new holder.
    pub async fn finish_turn(
        &self,
        message_ids: &[String],
        state: JournalState,
        reply_ids: &[String],
        thread_id: &str,
    ) {
        let finishing = FinishingGuard::hold(&self.finishing, message_ids);
        let (durable, ids, replies, thread) = (
            self.clone(),
            message_ids.to_vec(),
            reply_ids.to_vec(),
            thread_id.to_owned(),
        );
        let (first_done, first) = tokio::sync::oneshot::channel();
        // A task of its own: the write outlives the actor if it is stopped
        // meanwhile (another instance took the platform, shutdown).
        tokio::spawn(async move {
            let _finishing = finishing;
            let mut first_done = Some(first_done);
            let deadline = tokio::time::Instant::now() + FINAL_WRITE_PATIENCE;
            loop {
                // While the store is known unreachable, no try (each would
                // wait out the pool's acquire timeout).
                let written = !durable.watch.is_down()
                    && durable
                        .try_finish_turn(&ids, state, &replies, &thread)
                        .await;
                if let Some(first_done) = first_done.take() {
                    let _ = first_done.send(());
                }
                if written {
                    return;
                }
                if tokio::time::Instant::now() >= deadline {
                    tracing::warn!(platform = durable.platform, messages = ?ids, "a turn's end could not be recorded before giving up; the messages will be answered again");
                    return;
                }
                tokio::time::sleep(FINAL_WRITE_RETRY).await;
            }
        });
        let _ = first.await;
    }

    /// One try at [`Self::finish_turn`]'s write: `false` only while the
    /// store cannot be reached (worth trying again).
    async fn try_finish_turn(
        &self,
        message_ids: &[String],
        state: JournalState,
        reply_ids: &[String],
        thread_id: &str,
    ) -> bool {
        let ids: Vec<&str> = message_ids.iter().map(String::as_str).collect();
        let ids = &ids;
        let write = |store: Store| async move {
            store
                .finish_turn(self.platform, ids, state, reply_ids, thread_id, now_ms())
                .await
        };
        let result = match write(self.store.clone()).await {
            Err(err @ StoreError::Fenced { .. }) if state == JournalState::Answered => {
                tracing::info!(platform = self.platform, %err, "the lease changed hands before this answer's end was recorded; recording it all the same (it was given in full)");
                write(self.store.unfenced()).await
            }
            other => other,
        };
        self.checked("finish turn", result).is_ok()
    }

    /// Whether this process finished answering `message_id` and is still
    /// recording it (the store unreachable): not to be answered again.
    pub fn is_finishing(&self, message_id: &str) -> bool {
        self.finishing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(message_id)
    }

    /// Record why a batch failed (a refusal by the platform); the state is
    /// written by the turn's end.
    pub async fn set_failure_reason(&self, message_ids: &[String], reason: &str) {
        let ids: Vec<&str> = message_ids.iter().map(String::as_str).collect();
        let result = self
            .store
            .journal_set_failure_reason(self.platform, &ids, reason, now_ms())
            .await;
        self.check("journal failure reason", result);
    }

    /// Dedupe a message not acted on: `None` if the store refused it,
    /// `Err` if it could not be reached.
    pub async fn first_sighting(&self, message_id: &str) -> Result<Option<bool>, Unreachable> {
        let result = self
            .store
            .first_sighting(self.platform, message_id, now_ms())
            .await;
        self.checked("dedupe", result)
    }

    pub fn record_caught_up(&self) {
        self.health.record_caught_up();
    }

    /// Start the background cursor writer on `tracker`. It writes what is
    /// queued as soon as it can, coalescing what queued up meanwhile into
    /// one transaction, and ends after the last write once every handle of
    /// the returned queue is dropped.
    pub fn cursor_queue(&self, tracker: &TaskTracker) -> CursorQueue {
        let (tx, rx) = mpsc::unbounded_channel();
        tracker.spawn(write_cursors(self.clone(), rx));
        CursorQueue(tx)
    }
}

/// The store could not be reached (the [`StoreWatch`] knows, and the
/// failure was logged and counted).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unreachable;

/// Where the bridge hands its cursor moves to the background writer.
#[derive(Clone)]
pub struct CursorQueue(mpsc::UnboundedSender<(String, String)>);

impl CursorQueue {
    /// Move the cursor of `channel_id` to `message_id` (if newer), soon.
    pub fn advance(&self, channel_id: &str, message_id: &str) {
        if self
            .0
            .send((channel_id.to_owned(), message_id.to_owned()))
            .is_err()
        {
            tracing::debug!(
                channel_id,
                "cursor writer is gone (shutting down); cursor not moved"
            );
        }
    }
}

async fn write_cursors(durable: Durable, mut moves: mpsc::UnboundedReceiver<(String, String)>) {
    let mut newest: HashMap<String, String> = HashMap::new();
    while let Some(first) = moves.recv().await {
        keep_newest(&mut newest, first);
        while let Ok(next) = moves.try_recv() {
            keep_newest(&mut newest, next);
        }
        let batch: Vec<(String, String)> = newest.drain().collect();
        let result = durable
            .store
            .advance_cursors(durable.platform, &batch, now_ms())
            .await;
        durable.check("cursor", result);
    }
}

/// Remember the newer of the queued and the new position of a channel.
fn keep_newest(newest: &mut HashMap<String, String>, (channel, id): (String, String)) {
    match newest.entry(channel) {
        Entry::Vacant(slot) => {
            slot.insert(id);
        }
        Entry::Occupied(mut slot) => {
            if id_cmp(&id, slot.get()).is_gt() {
                slot.insert(id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn queued_cursor_moves_are_written_coalesced_and_forward_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).await.unwrap();
        let durable = Durable::new(store.clone(), StoreHealth::default(), "discord");
        let tracker = TaskTracker::new();
        let queue = durable.cursor_queue(&tracker);
        for (channel, id) in [("a", "10"), ("a", "12"), ("a", "11"), ("b", "5")] {
            queue.advance(channel, id);
        }
        drop(queue);
        tracker.close();
        tokio::time::timeout(std::time::Duration::from_secs(5), tracker.wait())
            .await
            .expect("the writer ends once the queue is dropped, after writing");
        let cursors: Vec<(String, String)> = store
            .cursors("discord")
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.channel_id, c.message_id))
            .collect();
        assert_eq!(
            cursors,
            [("a".into(), "12".into()), ("b".into(), "5".into())]
        );
    }

    #[test]
    fn the_newest_position_wins_by_id_order_not_text() {
        let mut newest = HashMap::new();
        keep_newest(&mut newest, ("c".into(), "99".into()));
        keep_newest(&mut newest, ("c".into(), "100".into()));
        keep_newest(&mut newest, ("c".into(), "98".into()));
        assert_eq!(newest["c"], "100");
    }
}
