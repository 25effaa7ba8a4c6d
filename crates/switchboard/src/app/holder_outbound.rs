//! A thread's outbound that posts only while this instance holds the
//! thread's lease (ADR 22; issue 14): an owner paused past its lease
//! (SIGSTOP, a stalled host) must not go on streaming an answer that the
//! new owner is giving again. Every call asks the [`HolderSlot`] first, by the clock, and
//! is refused (not tried) once the lease may be another instance's.
//!
//! Owns only that check; it never decides who holds a thread.

use std::sync::Arc;

use async_trait::async_trait;

use crate::chat::{ChatOutbound, Conversation, OutboundError, Platform, PostKey, PromptButton};
use crate::cluster::HolderSlot;

/// `inner`, refused while `slot` holds nothing this instance may act on.
pub(super) struct HolderOutbound {
    pub inner: Arc<dyn ChatOutbound>,
    pub slot: HolderSlot,
}

impl HolderOutbound {
    fn may_act(&self) -> Result<(), OutboundError> {
        if self.slot.may_act() {
            Ok(())
        } else {
            Err(OutboundError::Rejected(
                "this instance does not hold this thread now; the instance that holds it \
                 answers"
                    .to_owned(),
            ))
        }
    }
}

#[async_trait]
impl ChatOutbound for HolderOutbound {
    fn platform(&self) -> Platform {
        self.inner.platform()
    }

    fn max_message_chars(&self) -> usize {
        self.inner.max_message_chars()
    }

    fn rendered_len(&self, text: &str) -> usize {
        self.inner.rendered_len(text)
    }

    async fn start_thread(
        &self,
        channel_id: &str,
        message_id: &str,
        name: &str,
    ) -> Result<Conversation, OutboundError> {
        self.may_act()?;
        self.inner.start_thread(channel_id, message_id, name).await
    }

    async fn post(
        &self,
        conversation: &Conversation,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        self.may_act()?;
        self.inner.post(conversation, text, key).await
    }

    async fn post_to_channel(
        &self,
        channel_id: &str,
        text: &str,
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        self.may_act()?;
        self.inner.post_to_channel(channel_id, text, key).await
    }

    async fn post_prompt(
        &self,
        conversation: &Conversation,
        text: &str,
        buttons: &[PromptButton],
        key: &PostKey,
    ) -> Result<String, OutboundError> {
        self.may_act()?;
        self.inner
            .post_prompt(conversation, text, buttons, key)
            .await
    }

    async fn close_prompt(
        &self,
        conversation: &Conversation,
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError> {
        self.may_act()?;
        self.inner
            .close_prompt(conversation, message_id, text)
            .await
    }

    async fn edit(
        &self,
        conversation: &Conversation,
        message_id: &str,
        text: &str,
    ) -> Result<(), OutboundError> {
        self.may_act()?;
        self.inner.edit(conversation, message_id, text).await
    }

    async fn react(
        &self,
        channel_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), OutboundError> {
        self.may_act()?;
        self.inner.react(channel_id, message_id, emoji).await
    }

    async fn unreact(
        &self,
        channel_id: &str,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), OutboundError> {
        self.may_act()?;
        self.inner.unreact(channel_id, message_id, emoji).await
    }
}
