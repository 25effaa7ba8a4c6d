//! The fake platform at the edge: a `ChatOutbound` that records what the
//! bot posts (each call takes a few milliseconds, so a cancel or a shutdown
//! can land while a reply is being posted) and an empty history.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use switchboard::chat::{
    ChatHistory, ChatMessage, ChatOutbound, Conversation, HistoryBudget, HistoryRead,
    OutboundError, Platform, PostKey,
};

#[derive(Default)]
pub struct Recorder {
    calls: AtomicU64,
    /// (thread id, text) of every post, in order.
    posts: Mutex<Vec<(String, String)>>,
}

impl Recorder {
    /// Every text posted in `thread`, in order.
    pub fn posts_in(&self, thread: &str) -> Vec<String> {
        self.posts
            .lock()
            .unwrap()
            .iter()
            .filter(|(t, _)| t == thread)
            .map(|(_, text)| text.clone())
            .collect()
    }

    /// A platform round trip: 0 to 3 ms.
    async fn round_trip(&self) -> u64 {
        let n = self.calls.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(n % 4)).await;
        n
    }
}

#[async_trait]
impl ChatOutbound for Recorder {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn max_message_chars(&self) -> usize {
        2000
    }

    async fn start_thread(
        &self,
        channel_id: &str,
        message_id: &str,
        _name: &str,
    ) -> Result<Conversation, OutboundError> {
        self.round_trip().await;
        Ok(Conversation {
            platform: Platform::Discord,
            channel_id: channel_id.into(),
            thread_id: message_id.into(),
        })
    }

    async fn post(
        &self,
        conversation: &Conversation,
        text: &str,
        _key: &PostKey,
    ) -> Result<String, OutboundError> {
        let n = self.round_trip().await;
        self.posts
            .lock()
            .unwrap()
            .push((conversation.thread_id.clone(), text.into()));
        Ok(format!("9{n:08}"))
    }

    async fn post_to_channel(
        &self,
        channel_id: &str,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        let conversation = Conversation {
            platform: self.platform(),
            channel_id: channel_id.to_owned(),
            thread_id: channel_id.to_owned(),
        };
        self.post(&conversation, text, key).await
    }

    async fn post_prompt(
        &self,
        conversation: &Conversation,
        text: &str,
        _buttons: &[switchboard::chat::PromptButton],
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        self.post(conversation, text, key).await
    }

    async fn close_prompt(
        &self,
        conversation: &Conversation,
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError> {
        self.edit(conversation, message_id, text).await
    }

    async fn edit(
        &self,
        _conversation: &Conversation,
        _message_id: &str,
        _text: &str,
    ) -> Result<(), OutboundError> {
        self.round_trip().await;
        Ok(())
    }

    async fn react(&self, _: &str, _: &str, _: &str) -> Result<(), OutboundError> {
        self.round_trip().await;
        Ok(())
    }

    async fn unreact(&self, _: &str, _: &str, _: &str) -> Result<(), OutboundError> {
        self.round_trip().await;
        Ok(())
    }
}

/// A platform with no history to catch up on (catch-up is not exercised).
pub struct NoHistory;

#[async_trait]
impl ChatHistory for NoHistory {
    async fn messages_after(
        &self,
        _: &str,
        _: &str,
        _: HistoryBudget,
    ) -> Result<HistoryRead<ChatMessage>, OutboundError> {
        Ok(HistoryRead::default())
    }

    fn position_before(&self, _: &str) -> Option<String> {
        None
    }

    async fn message_text(&self, _: &str, _: &str) -> Result<String, OutboundError> {
        Ok(String::new())
    }
}
