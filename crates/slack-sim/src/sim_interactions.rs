//! The handle's interaction methods: a user clicks a button or runs a
//! slash command (`InteractionHandle` follows what became of it), the
//! app's response_url posts, and the records tests read (interactions,
//! ephemeral messages, response_url uses).
//!
//! Each call is one state change under the lock (`interactions` and
//! `response_url` do the bookkeeping); it must never block on the network.

use std::time::Duration;

use serde_json::Value;

use crate::interactions::{self, InteractionError, Started};
use crate::records::{EphemeralMessage, InteractionOutcome, InteractionRecord, ResponseUrlUse};
use crate::response_url::{self, UrlAnswer};
use crate::sim::SlackSim;

/// One click or slash command in flight: its envelope id, response_url and
/// trigger_id, and a way to read or wait on its record.
#[derive(Clone, Debug)]
pub struct InteractionHandle {
    pub envelope_id: String,
    pub response_url: String,
    pub trigger_id: String,
    /// `NoConnection` or `Muted` when no envelope went out at all.
    pub outcome: InteractionOutcome,
    sim: SlackSim,
}

impl InteractionHandle {
    /// The interaction's record as it stands now.
    pub fn record(&self) -> InteractionRecord {
        self.sim
            .interaction(&self.envelope_id)
            .expect("an interaction's record is never removed")
    }

    /// Waits until the envelope is acked or timed out (or was never sent);
    /// `None` if that did not happen within `timeout`.
    pub async fn settled(&self, timeout: Duration) -> Option<InteractionRecord> {
        self.sim
            .wait_until(timeout, |s| {
                s.interaction(&self.envelope_id)
                    .filter(|r| r.outcome != InteractionOutcome::Awaiting)
            })
            .await
    }
}

impl SlackSim {
    fn handle(&self, started: Started) -> InteractionHandle {
        InteractionHandle {
            envelope_id: started.envelope_id,
            response_url: started.response_url,
            trigger_id: started.trigger_id,
            outcome: started.outcome,
            sim: SlackSim::from_inner(self.inner.clone()),
        }
    }

    /// `user` clicks the button `action_id` on the message `message_ts` of
    /// `channel`: an `interactive` envelope (`block_actions`) goes to one
    /// live connection, to be acked within `ack_timeout` (never
    /// redelivered). With no connection open nothing is sent and the
    /// outcome is `NoConnection`.
    pub fn click_button(
        &self,
        channel: &str,
        message_ts: &str,
        action_id: &str,
        user: &str,
    ) -> Result<InteractionHandle, InteractionError> {
        let started = self.inner.update(|s| {
            interactions::click(&self.inner, s, channel, message_ts, action_id, user)
        })?;
        Ok(self.handle(started))
    }

    /// `user` runs `command text` (e.g. "/switchboard", "status") in
    /// `channel`: a `slash_commands` envelope, like `click_button`. An ack
    /// carrying `{text?, blocks?, response_type?}` is shown as the
    /// command's response (ephemeral to `user` unless `in_channel`).
    pub fn run_slash_command(
        &self,
        channel: &str,
        user: &str,
        command: &str,
        text: &str,
    ) -> Result<InteractionHandle, InteractionError> {
        let started = self.inner.update(|s| {
            interactions::slash_command(&self.inner, s, channel, user, command, text)
        })?;
        Ok(self.handle(started))
    }

    /// A POST to a response_url (what the HTTP endpoint does).
    pub(crate) fn post_response_url(&self, url_id: &str, body: Value) -> UrlAnswer {
        self.inner
            .update(|s| response_url::post(s, &self.inner.config, url_id, body))
    }

    /// Every click and slash command, oldest first.
    pub fn interactions(&self) -> Vec<InteractionRecord> {
        self.inner.read(|s| s.interactions.records.clone())
    }

    /// The record of the interaction sent in `envelope_id`.
    pub fn interaction(&self, envelope_id: &str) -> Option<InteractionRecord> {
        self.inner.read(|s| {
            s.interactions
                .records
                .iter()
                .find(|r| r.envelope_id == envelope_id)
                .cloned()
        })
    }

    /// Ephemeral messages (each seen by one user, never in history).
    pub fn ephemerals(&self) -> Vec<EphemeralMessage> {
        self.inner.read(|s| s.interactions.ephemerals.clone())
    }

    /// Every POST to a response_url, accepted or refused, oldest first.
    pub fn response_url_uses(&self) -> Vec<ResponseUrlUse> {
        self.inner.read(|s| s.interactions.response_uses.clone())
    }
}
