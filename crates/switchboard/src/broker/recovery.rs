//! Start-up recovery for a platform's bridge: learn the threads switchboard
//! owns, and take up every message that was journaled but not answered when
//! the process stopped (a reply cut short is marked interrupted first).
//! Retries are bounded: after two tries the user is told instead. Its own
//! writes (the "interrupted" mark, the notice) are retried on transient
//! errors like every other write.

use super::bridge::{Bridge, OwnedThread, thread_name};
use super::reply::retry::with_retry;
use super::thread::{Incoming, Origin, TakenUp, ThreadInput, notify};
use crate::chat::Conversation;
use crate::store::{JournalEntry, JournalState, now_ms};

/// Tries at answering a message across restarts before giving up.
const MAX_ATTEMPTS: u32 = 2;
/// What a reply cut short by a restart gets appended.
const INTERRUPTED: &str = "\n\n*⚠️ Interrupted by a restart; answering again below.*";
/// The words of [`INTERRUPTED`] every platform shows unchanged (a reply
/// that has them is marked already).
const INTERRUPTED_WORDS: &str = "Interrupted by a restart; answering again below.";

impl Bridge {
    /// After a start: learn the known threads, and answer (or give up on,
    /// telling the user) every message journaled but not answered before.
    pub async fn restore(&mut self) {
        self.restore_threads().await;
        self.take_up_unfinished().await;
    }

    /// Learn the threads switchboard owns, from the store (a standby: the
    /// unanswered messages are the holder's to answer, not this one's).
    pub async fn restore_threads(&mut self) {
        let durable = self.deps.durable.clone();
        // Only threads active within prune_after (or with unfinished
        // work): older ones are pruned hourly anyway, and loading every
        // thread ever held would grow start-up and memory without bound.
        let since = now_ms() - i64::try_from(self.prune_after.as_millis()).unwrap_or(i64::MAX);
        let threads = durable.check(
            "restore threads",
            durable
                .store()
                .threads_active_since(durable.platform(), since)
                .await,
        );
        // A thread known here already keeps its entry (its running actor).
        for record in threads.unwrap_or_default() {
            let (thread_id, thread) = OwnedThread::from_record(record);
            self.threads.entry(thread_id).or_insert(thread);
        }
    }

    /// Answer (or give up on, telling the user) every message journaled
    /// but not answered.
    async fn take_up_unfinished(&mut self) {
        let durable = self.deps.durable.clone();
        let unfinished = durable.check(
            "restore journal",
            durable.store().journal_unfinished(durable.platform()).await,
        );
        let unfinished = unfinished.unwrap_or_default();
        tracing::info!(
            platform = self.platform.as_str(),
            threads = self.threads.len(),
            unfinished = unfinished.len(),
            "state restored"
        );
        for entry in unfinished {
            self.resume_entry(entry).await;
        }
    }

    pub(super) async fn resume_entry(&mut self, entry: JournalEntry) {
        let durable = self.deps.durable.clone();
        if durable.is_finishing(&entry.message_id) {
            // Answered here in full while the store was unreachable; its
            // end is being recorded (`Durable::finish_turn`).
            tracing::info!(message_id = %entry.message_id, "answered here already; its end is being recorded, not answered again");
            return;
        }
        // Only a message whose turn had begun counts a try: one that was
        // still queued behind another was never tried, however many
        // restarts (or, with several instances, takeovers) it waited through.
        let attempts = if entry.state == JournalState::Received {
            1
        } else {
            durable
                .check(
                    "journal attempts",
                    durable
                        .store()
                        .journal_bump_attempts(durable.platform(), &entry.message_id)
                        .await,
                )
                .unwrap_or(1)
        };
        let parent = self.threads.get(&entry.thread_id).map(|t| t.parent.clone());
        let conversation = Conversation {
            platform: self.platform,
            channel_id: parent.clone().unwrap_or_else(|| entry.channel_id.clone()),
            thread_id: entry.thread_id.clone(),
        };
        if !entry.reply_message_ids.is_empty() {
            self.mark_interrupted(&conversation, &entry.reply_message_ids)
                .await;
        }
        if attempts > MAX_ATTEMPTS {
            tracing::warn!(message_id = %entry.message_id, attempts, "giving up on a message interrupted by restarts");
            let note = "⚠️ switchboard was restarted while answering your message, more than once; it was not answered. Please send it again.";
            if let Err(err) = notify(&*self.deps.outbound, &conversation, note, "gave-up").await {
                tracing::warn!(%err, "could not tell the user about an unanswered message");
            }
            durable
                .set_states(
                    std::slice::from_ref(&entry.message_id),
                    JournalState::Failed,
                )
                .await;
            return;
        }
        tracing::info!(message_id = %entry.message_id, thread = %entry.thread_id, state = entry.state.as_str(), "answering a journaled message left unanswered (a restart, or a thread taken over)");
        // A message that started a thread may have died before the thread
        // was opened; opening it again is answered "already exists".
        let origin = if entry.thread_id == entry.message_id {
            Origin::NewThread {
                channel_id: entry.channel_id.clone(),
                message_id: entry.message_id.clone(),
                name: thread_name(&entry.content),
            }
        } else {
            Origin::Existing(conversation)
        };
        let incoming = Incoming {
            message_id: entry.message_id.clone(),
            channel_id: entry.channel_id.clone(),
            author_id: entry.author_id.clone(),
            author: entry.author_name.clone(),
            is_bot: entry.is_bot,
            text: entry.content.clone(),
            taken_up: Some(TakenUp {
                recorded: entry.reply_message_ids.clone(),
                began: entry.state != JournalState::Received,
            }),
        };
        let parent = self
            .threads
            .get(&entry.thread_id)
            .map_or(entry.channel_id.clone(), |t| t.parent.clone());
        self.send(
            &entry.thread_id,
            parent,
            origin,
            ThreadInput::Message(incoming),
        )
        .await;
    }

    /// Append a visible "interrupted" line to a reply cut short by a crash.
    async fn mark_interrupted(&self, conversation: &Conversation, reply_ids: &[String]) {
        let Some(last) = reply_ids.last() else { return };
        let history = &self.catch_up.history;
        let text = match history.message_text(&conversation.thread_id, last).await {
            Ok(text) => text,
            Err(err) => {
                tracing::warn!(%err, "could not read the interrupted reply");
                return;
            }
        };
        if text.contains(INTERRUPTED_WORDS) {
            // Marked by an earlier take-up (whose own try then died).
            return;
        }
        let outbound = &self.deps.outbound;
        let marked = with_notice(&text, INTERRUPTED, outbound.max_message_chars(), |shown| {
            outbound.rendered_len(shown)
        });
        let edit = || outbound.edit(conversation, last, &marked);
        if let Err(err) = with_retry("mark interrupted", edit).await {
            tracing::warn!(%err, "could not mark the interrupted reply");
        }
    }
}

/// `text` cut short enough that it and `notice` after it measure at most
/// `max` as the platform will send them (`measure`: e.g. after escaping).
fn with_notice(text: &str, notice: &str, max: usize, measure: impl Fn(&str) -> usize) -> String {
    let cut = |n: usize| -> String { text.chars().take(n).chain(notice.chars()).collect() };
    let fits = |n: usize| measure(&cut(n)) <= max;
    // The most of `text` that fits (a binary search: longer never measures
    // shorter, or hardly), then down until it surely does.
    let (mut low, mut high) = (0, text.chars().count().min(max));
    while low < high {
        let mid = (low + high).div_ceil(2);
        if fits(mid) {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    while low > 0 && !fits(low) {
        low -= 1;
    }
    cut(low)
}

#[cfg(test)]
mod notice_tests {
    use super::{INTERRUPTED, INTERRUPTED_WORDS, with_notice};

    #[test]
    fn the_interrupted_mark_says_the_words_that_tell_it_is_there() {
        // A reply marked once is recognised by these words and not marked
        // again: the mark must contain them.
        assert!(INTERRUPTED.contains(INTERRUPTED_WORDS));
    }

    #[test]
    fn the_notice_fits_as_the_platform_measures() {
        let chars = |s: &str| s.chars().count();
        assert_eq!(with_notice("abcdef", "!", 4, chars), "abc!");
        assert_eq!(with_notice("ab", "!", 4, chars), "ab!");
        // Each '<' is sent as "&lt;": four chars.
        let escaped = |s: &str| s.chars().map(|c| if c == '<' { 4 } else { 1 }).sum();
        let marked = with_notice(&"<".repeat(10), "!", 10, escaped);
        assert!(escaped(&marked) <= 10, "{marked:?}");
        assert_eq!(marked, "<<!");
    }
}
