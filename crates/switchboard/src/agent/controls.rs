//! [`SessionControls`]: reading a live session's facts and changing its
//! mode, model or config options from any task (a slash command), during
//! a turn or between turns. Holding one does not keep the session alive:
//! once the session is gone every call answers [`AgentError::Closed`].
//! Every request has a deadline, so an agent that never answers cannot
//! hold a command.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::AgentError;
use super::actor::Command;
use super::facts::{SessionFacts, SharedFacts};

/// How long a mode or option change may take the agent.
const CHANGE_DEADLINE: Duration = Duration::from_secs(10);

/// Reads and changes one session's choices. Cheap to clone.
#[derive(Clone, Debug)]
pub struct SessionControls {
    pub(super) commands: mpsc::WeakUnboundedSender<Command>,
    pub(super) session_id: String,
    pub(super) facts: SharedFacts,
}

impl SessionControls {
    /// The ACP session id.
    pub fn session_id(&self) -> &str {
        &self.session_id
    }

    /// What the session has said about itself so far.
    pub fn facts(&self) -> SessionFacts {
        self.facts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Whether the session's actor still runs.
    pub fn is_live(&self) -> bool {
        self.commands.upgrade().is_some_and(|c| !c.is_closed())
    }

    async fn request(&self, method: &'static str, params: Value) -> Result<Value, AgentError> {
        let commands = self.commands.upgrade().ok_or(AgentError::Closed)?;
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::Request {
                method,
                params,
                reply,
            })
            .map_err(|_| AgentError::Closed)?;
        drop(commands);
        match tokio::time::timeout(CHANGE_DEADLINE, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(AgentError::Closed),
            Err(_) => Err(AgentError::Protocol(format!(
                "{method} got no answer within {} s",
                CHANGE_DEADLINE.as_secs()
            ))),
        }
    }

    fn update(&self, change: impl FnOnce(&mut SessionFacts)) {
        change(
            &mut self
                .facts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
    }

    /// `session/set_mode`.
    pub async fn set_mode(&self, mode: &str) -> Result<(), AgentError> {
        self.request(
            "session/set_mode",
            json!({ "sessionId": self.session_id, "modeId": mode }),
        )
        .await?;
        self.update(|facts| facts.current_mode = Some(mode.to_owned()));
        Ok(())
    }

    /// `session/set_config_option` (a select's value).
    pub async fn set_config_option(&self, option: &str, value: &str) -> Result<(), AgentError> {
        let result = self
            .request(
                "session/set_config_option",
                json!({ "sessionId": self.session_id, "configId": option, "value": value }),
            )
            .await?;
        self.update(|facts| {
            // The answer carries every option as it now is.
            facts.read_session_result(&result);
            if let Some(changed) = facts.config_options.iter_mut().find(|o| o.id == option) {
                changed.current = value.to_owned();
            }
        });
        Ok(())
    }

    /// `session/set_model` (ACP's model selection, where the agent offers
    /// `models` rather than a model config option).
    pub async fn set_model(&self, model: &str) -> Result<(), AgentError> {
        self.request(
            "session/set_model",
            json!({ "sessionId": self.session_id, "modelId": model }),
        )
        .await?;
        self.update(|facts| facts.current_model = Some(model.to_owned()));
        Ok(())
    }
}
