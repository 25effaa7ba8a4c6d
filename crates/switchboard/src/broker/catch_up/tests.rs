//! Catch-up's budgets against a real SQLite store and a scripted history.

use std::sync::Mutex;

use async_trait::async_trait;

use super::*;
use crate::chat::{Author, ChatMessage, OutboundError, Platform, inbound_channel};
use crate::health::StoreHealth;
use crate::store::Store;

/// Per channel: `Some(n)` answers n messages and "cut by pages" when n is
/// 3 or more; `None` never answers.
struct Scripted {
    channels: Vec<(&'static str, Option<usize>)>,
    budgets: Mutex<Vec<HistoryBudget>>,
}

fn message(channel: &str, n: usize) -> ChatMessage {
    ChatMessage {
        id: format!("{channel}-{n}"),
        channel_id: channel.to_owned(),
        parent_channel_id: None,
        guild_id: None,
        platform: Platform::Discord,
        author: Author {
            id: "7".into(),
            name: "alice".into(),
            is_bot: false,
        },
        content: format!("m{n}"),
        mentions_bot: false,
        bot_mention_markup: Vec::new(),
        mentioned_roles: Vec::new(),
        from_self: false,
        caught_up: true,
    }
}

#[async_trait]
impl ChatHistory for Scripted {
    async fn messages_after(
        &self,
        channel_id: &str,
        _: &str,
        budget: HistoryBudget,
    ) -> Result<HistoryRead<ChatMessage>, OutboundError> {
        self.budgets.lock().unwrap().push(budget);
        let script = self.channels.iter().find(|(c, _)| *c == channel_id);
        match script.map(|(_, n)| *n) {
            Some(Some(n)) => Ok(HistoryRead {
                messages: (0..n).map(|i| message(channel_id, i)).collect(),
                cut_short: (n >= 3).then_some(CutShort::Pages),
            }),
            Some(None) => std::future::pending().await,
            None => Err(OutboundError::Rejected("no such channel".into())),
        }
    }

    fn position_before(&self, message_id: &str) -> Option<String> {
        Some(format!("before {message_id}"))
    }

    async fn message_text(&self, _: &str, _: &str) -> Result<String, OutboundError> {
        Ok(String::new())
    }
}

#[tokio::test]
async fn every_channel_gets_its_own_budget_and_what_was_cut_short_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).await.unwrap();
    for channel in ["10", "20", "30", "40"] {
        store
            .advance_cursor("discord", channel, "1", now_ms())
            .await
            .unwrap();
    }
    let history = Arc::new(Scripted {
        channels: vec![("10", Some(2)), ("20", Some(3)), ("30", None)],
        budgets: Mutex::new(Vec::new()),
    });
    let health = CatchUpHealth::default();
    let limits = CatchUpLimits {
        max_pages: 4,
        max_time: Duration::from_millis(50),
        page_overrun: Duration::from_millis(50),
        health: health.clone(),
    };
    let scope = CatchUpScope {
        allowed_channels: HashSet::new(),
        allow_all_channels: true,
        owned_threads: HashSet::new(),
        window: Duration::from_secs(60),
    };
    let (inbound, mut received) = inbound_channel();
    let durable = Durable::new(store, StoreHealth::default(), "discord");

    let fetched = catch_up(history.clone(), durable, scope, limits, inbound).await;

    assert_eq!(fetched, 5);
    let mut ids = Vec::new();
    while let Ok(ChatEvent::Message(message, _)) = received.try_recv() {
        ids.push(message.id);
    }
    assert_eq!(ids, ["10-0", "10-1", "20-0", "20-1", "20-2"]);
    let budgets = history.budgets.lock().unwrap().clone();
    assert_eq!(budgets.len(), 4, "every channel in scope was read");
    assert!(budgets.iter().all(|b| b.max_pages == 4));
    assert!(
        budgets.windows(2).all(|w| w[1].deadline > w[0].deadline),
        "each channel's time budget starts when its read does"
    );

    let run = &health.figures()[0];
    assert!(!run.running);
    assert_eq!((run.channels, run.fetched), (4, 5));
    assert_eq!((run.cut_short_total, run.failed_total), (2, 1));
    let incomplete: Vec<(&str, &str, u64)> = run
        .incomplete
        .iter()
        .map(|c| (c.channel.as_str(), c.reason.as_str(), c.fetched))
        .collect();
    assert_eq!(
        incomplete,
        [
            ("20", "page_budget", 3),
            ("30", "time_budget", 0),
            ("40", "error", 0)
        ]
    );
}
