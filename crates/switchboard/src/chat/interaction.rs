//! Buttons on switchboard's messages and the clicks on them, the same for
//! every platform: a [`PromptButton`] to post, a [`ButtonClick`] delivered,
//! and the one-time [`ClickAnswer`] the click is owed.
//!
//! A platform answers a click its own way (Discord: the interaction
//! callback within 3 s; Slack: the envelope is acked at once, then
//! chat.update / chat.postEphemeral), behind [`ClickResponder`]. A
//! [`ClickAnswer`] dropped unanswered acknowledges the click without
//! changing anything, so a click is never left "failed" on the user's
//! screen. Nothing here decides who may click what (that is the broker's).

use std::sync::Arc;

use async_trait::async_trait;

use super::{Author, OutboundError, Platform};

/// How a button looks: its colour by what it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ButtonStyle {
    /// Allows something (green on Discord, `primary` on Slack).
    Allow,
    /// Refuses something (red, `danger`).
    Reject,
}

/// One button to post under a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PromptButton {
    /// What the click sends back (at most 100 characters).
    pub id: String,
    /// Its label (cut to the platform's limit).
    pub label: String,
    pub style: ButtonStyle,
}

/// A click on one of the bot's buttons.
#[derive(Debug)]
pub struct ButtonClick {
    pub platform: Platform,
    /// The thread the clicked message is in, as the broker keys threads
    /// (Discord: the thread channel's id; Slack: the root message's id).
    pub thread_key: String,
    /// The clicked message's id.
    pub message_id: String,
    /// The id of the button clicked.
    pub button_id: String,
    pub user: Author,
    pub answer: ClickAnswer,
}

/// How a platform answers one click.
#[async_trait]
pub trait ClickResponder: Send + Sync + 'static {
    /// Replace the clicked message's text and remove its buttons.
    async fn update_message(&self, text: &str) -> Result<(), OutboundError>;
    /// Tell the clicking user only (an ephemeral message).
    async fn tell_privately(&self, text: &str) -> Result<(), OutboundError>;
    /// Acknowledge the click, changing nothing.
    async fn acknowledge(&self) -> Result<(), OutboundError>;
    /// The groups among `among` the clicking user belongs to (Discord:
    /// the member's roles, from the click itself; Slack: user groups,
    /// looked up).
    async fn user_groups(&self, among: &[String]) -> Vec<String>;
    /// What another instance needs to answer this click itself (the
    /// thread's owner, ADR 22), as JSON; `None`: it cannot.
    fn route(&self) -> Option<serde_json::Value> {
        None
    }
    /// Before the click is handed to another instance: whatever the
    /// platform needs so the other can answer later (Discord: defer the
    /// interaction now, within its 3 s; Slack: nothing).
    async fn hand_off(&self) -> Result<(), OutboundError> {
        Ok(())
    }
}

/// The answer a click is owed, once. Dropped unanswered, it acknowledges
/// the click in the background.
pub struct ClickAnswer {
    responder: Option<Arc<dyn ClickResponder>>,
}

impl std::fmt::Debug for ClickAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickAnswer")
            .field("answered", &self.responder.is_none())
            .finish()
    }
}

impl ClickAnswer {
    pub fn new(responder: Arc<dyn ClickResponder>) -> Self {
        Self {
            responder: Some(responder),
        }
    }

    fn take(&mut self) -> Arc<dyn ClickResponder> {
        self.responder
            .take()
            .expect("a ClickAnswer is consumed by its one answer")
    }

    /// The groups among `among` the clicking user belongs to.
    pub async fn user_groups(&self, among: &[String]) -> Vec<String> {
        match &self.responder {
            Some(responder) => responder.user_groups(among).await,
            None => Vec::new(),
        }
    }

    /// What another instance needs to answer this click ([`ClickResponder::route`]).
    pub fn route(&self) -> Option<serde_json::Value> {
        self.responder.as_ref().and_then(|r| r.route())
    }

    /// Ready the click for another instance's answer
    /// ([`ClickResponder::hand_off`]); it can still be answered here.
    pub async fn hand_off(&self) -> Result<(), OutboundError> {
        match &self.responder {
            Some(responder) => responder.hand_off().await,
            None => Ok(()),
        }
    }

    /// The click was handed to another instance, which answers it: this
    /// one owes nothing (not even the acknowledgement of a drop).
    pub fn forwarded(mut self) {
        self.responder = None;
    }

    /// Replace the clicked message's text and remove its buttons.
    pub async fn update_message(mut self, text: &str) -> Result<(), OutboundError> {
        self.take().update_message(text).await
    }

    /// Tell the clicking user only.
    pub async fn tell_privately(mut self, text: &str) -> Result<(), OutboundError> {
        self.take().tell_privately(text).await
    }
}

impl Drop for ClickAnswer {
    fn drop(&mut self) {
        let Some(responder) = self.responder.take() else {
            return;
        };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(err) = responder.acknowledge().await {
                    tracing::debug!(%err, "acknowledging a click failed");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[derive(Default)]
    struct Recorded(Mutex<Vec<String>>);

    #[async_trait]
    impl ClickResponder for Recorded {
        async fn update_message(&self, text: &str) -> Result<(), OutboundError> {
            self.0.lock().unwrap().push(format!("update {text}"));
            Ok(())
        }
        async fn tell_privately(&self, text: &str) -> Result<(), OutboundError> {
            self.0.lock().unwrap().push(format!("private {text}"));
            Ok(())
        }
        async fn acknowledge(&self) -> Result<(), OutboundError> {
            self.0.lock().unwrap().push("ack".into());
            Ok(())
        }
        async fn user_groups(&self, _among: &[String]) -> Vec<String> {
            Vec::new()
        }
    }

    #[tokio::test]
    async fn an_answer_is_given_once_and_a_dropped_one_acknowledges() {
        let recorded = Arc::new(Recorded::default());
        ClickAnswer::new(recorded.clone())
            .update_message("Allowed")
            .await
            .unwrap();
        ClickAnswer::new(recorded.clone())
            .tell_privately("not you")
            .await
            .unwrap();
        drop(ClickAnswer::new(recorded.clone()));
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
        while recorded.0.lock().unwrap().len() < 3 {
            assert!(tokio::time::Instant::now() < deadline, "no ack after drop");
            tokio::task::yield_now().await;
        }
        assert_eq!(
            *recorded.0.lock().unwrap(),
            ["update Allowed", "private not you", "ack"]
        );
    }
}
