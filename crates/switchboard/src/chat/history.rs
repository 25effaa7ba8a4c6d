//! What the broker may read back from a platform: the messages posted in a
//! channel or thread after a given one, for catch-up after downtime, read
//! within a page and time budget so one busy channel cannot hold catch-up
//! (or memory) without bound.

use async_trait::async_trait;
use tokio::time::Instant;

use super::{ChatMessage, OutboundError};

/// How much of one channel's history a read may fetch: at most
/// `max_pages` pages (a page is the platform's largest: 100 messages on
/// Discord, 200 on Slack), and no page started after `deadline`.
#[derive(Clone, Copy, Debug)]
pub struct HistoryBudget {
    pub max_pages: u32,
    pub deadline: Instant,
}

/// Why a read stopped before the end of the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutShort {
    /// `max_pages` pages were read and there was more.
    Pages,
    /// The deadline passed with more to read.
    Time,
}

impl CutShort {
    /// The snake_case name shown in /status and logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pages => "page_budget",
            Self::Time => "time_budget",
        }
    }
}

impl HistoryBudget {
    /// A budget no test history reaches: 1,000 pages, an hour.
    #[cfg(test)]
    pub(crate) fn ample() -> Self {
        Self {
            max_pages: 1_000,
            deadline: Instant::now() + std::time::Duration::from_secs(3_600),
        }
    }

    /// May page number `pages_read + 1` be fetched? `Err` says why not.
    pub fn next_page(&self, pages_read: u32) -> Result<(), CutShort> {
        if pages_read >= self.max_pages {
            Err(CutShort::Pages)
        } else if Instant::now() >= self.deadline {
            Err(CutShort::Time)
        } else {
            Ok(())
        }
    }
}

/// What a budgeted read found: the messages (oldest first) and, when there
/// was more than the budget allowed, why it stopped.
#[derive(Debug)]
pub struct HistoryRead<T> {
    pub messages: Vec<T>,
    pub cut_short: Option<CutShort>,
}

impl<T> Default for HistoryRead<T> {
    fn default() -> Self {
        Self {
            messages: Vec::new(),
            cut_short: None,
        }
    }
}

#[async_trait]
pub trait ChatHistory: Send + Sync + 'static {
    /// The messages in `channel_id` posted after `after_id`, oldest first,
    /// page after page until the end or the `budget` (rate limits obeyed).
    /// Each is marked `caught_up`.
    async fn messages_after(
        &self,
        channel_id: &str,
        after_id: &str,
        budget: HistoryBudget,
    ) -> Result<HistoryRead<ChatMessage>, OutboundError>;

    /// A position just before message `message_id` in its channel, so that
    /// [`Self::messages_after`] from it starts with that very message (the
    /// catch-up of messages turned away while the store was unreachable
    /// starts at the first one); `None` when `message_id` is not one of
    /// this platform's ids.
    fn position_before(&self, message_id: &str) -> Option<String>;

    /// The current text of one message (e.g. a reply cut short by a crash).
    async fn message_text(
        &self,
        channel_id: &str,
        message_id: &str,
    ) -> Result<String, OutboundError>;
}
