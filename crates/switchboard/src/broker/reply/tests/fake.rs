//! A recording fake `ChatOutbound`: keeps every message's current text and
//! every successful write with its (tokio) time; can be slow and can fail.
//! It refuses what Discord refuses: text over the limit, blank text.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::{Instant, sleep};

use crate::chat::{ChatOutbound, Conversation, OutboundError, Platform, PostKey};

#[derive(Clone, Debug)]
pub struct Write {
    pub message: usize,
    pub at: Instant,
    pub is_edit: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Unavailable,
    Unauthorized,
}

#[derive(Debug, Default)]
pub struct Recorded {
    pub messages: Vec<String>,
    pub writes: Vec<Write>,
    /// Every call to post or edit, failed ones too.
    pub calls: u32,
    /// The next this many calls fail with `Unavailable`.
    pub fail_next: u32,
    /// Every call fails this way while set.
    pub fail_always: Option<Failure>,
    /// The key of every call to post, failed ones too.
    pub post_keys: Vec<PostKey>,
}

pub struct FakeChat {
    limit: usize,
    /// How long each call takes (as if it waited out a 429).
    delay: Duration,
    recorded: Mutex<Recorded>,
}

impl FakeChat {
    pub fn new(limit: usize) -> Arc<Self> {
        Self::slow(limit, Duration::ZERO)
    }

    pub fn slow(limit: usize, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            limit,
            delay,
            recorded: Mutex::new(Recorded::default()),
        })
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut Recorded) -> T) -> T {
        f(&mut self.recorded.lock().unwrap())
    }

    pub fn messages(&self) -> Vec<String> {
        self.with(|recorded| recorded.messages.clone())
    }

    /// The times of the successful edits of each message.
    pub fn edit_times(&self) -> Vec<Vec<Instant>> {
        self.with(|recorded| {
            let mut times = vec![Vec::new(); recorded.messages.len()];
            for write in recorded.writes.iter().filter(|write| write.is_edit) {
                times[write.message].push(write.at);
            }
            times
        })
    }

    pub fn conversation() -> Conversation {
        Conversation {
            platform: Platform::Discord,
            channel_id: "c1".into(),
            thread_id: "t1".into(),
        }
    }

    /// Common gate of post and edit: delay, count, injected failures, and
    /// Discord's own refusals.
    async fn call(&self, text: &str) -> Result<(), OutboundError> {
        sleep(self.delay).await;
        self.with(|recorded| {
            recorded.calls += 1;
            match recorded.fail_always {
                Some(Failure::Unauthorized) => return Err(OutboundError::Unauthorized),
                Some(Failure::Unavailable) => {
                    return Err(OutboundError::Unavailable("down".into()));
                }
                None => {}
            }
            if recorded.fail_next > 0 {
                recorded.fail_next -= 1;
                return Err(OutboundError::Unavailable("blip".into()));
            }
            if text.chars().count() > self.limit || text.trim().is_empty() {
                return Err(OutboundError::Rejected(format!(
                    "bad content: {} chars",
                    text.chars().count()
                )));
            }
            Ok(())
        })
    }
}

#[async_trait]
impl ChatOutbound for FakeChat {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    fn max_message_chars(&self) -> usize {
        self.limit
    }

    async fn start_thread(
        &self,
        channel_id: &str,
        message_id: &str,
        _name: &str,
    ) -> Result<Conversation, OutboundError> {
        Ok(Conversation {
            platform: Platform::Discord,
            channel_id: channel_id.into(),
            thread_id: message_id.into(),
        })
    }

    async fn post(
        &self,
        _conversation: &Conversation,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        self.with(|recorded| recorded.post_keys.push(key.clone()));
        self.call(text).await?;
        Ok(self.with(|recorded| {
            recorded.messages.push(text.to_owned());
            let message = recorded.messages.len() - 1;
            recorded.writes.push(Write {
                message,
                at: Instant::now(),
                is_edit: false,
            });
            message.to_string()
        }))
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
        _buttons: &[crate::chat::PromptButton],
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
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError> {
        self.call(text).await?;
        self.with(|recorded| {
            let message: usize = message_id
                .parse()
                .map_err(|_| OutboundError::Rejected("unknown message".into()))?;
            let slot = recorded
                .messages
                .get_mut(message)
                .ok_or(OutboundError::Rejected("unknown message".into()))?;
            *slot = text.to_owned();
            recorded.writes.push(Write {
                message,
                at: Instant::now(),
                is_edit: true,
            });
            Ok(())
        })
    }

    async fn react(
        &self,
        _channel_id: &str,
        _message_id: &str,
        _emoji: &str,
    ) -> Result<(), OutboundError> {
        Ok(())
    }

    async fn unreact(
        &self,
        _channel_id: &str,
        _message_id: &str,
        _emoji: &str,
    ) -> Result<(), OutboundError> {
        Ok(())
    }
}
