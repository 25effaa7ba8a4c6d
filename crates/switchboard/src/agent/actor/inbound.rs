//! What the actor does with each line the agent writes: route replies,
//! answer the agent's requests (permissions by policy, the rest "method not
//! found"), and forward this turn's updates.
//!
//! Owns: the reading of agent messages and the permission answer.
//!
//! Must never: fail a turn over a message it does not understand (log and
//! skip), or leave an agent request unanswered.

use std::time::Duration;

use agent_client_protocol_schema::v1::{
    Error as RpcError, PromptResponse, RequestId, RequestPermissionOutcome,
    RequestPermissionRequest, RequestPermissionResponse, SelectedPermissionOutcome, SessionUpdate,
    StopReason as WireStopReason,
};
use serde_json::Value;
use tokio::time::Instant;

use super::{Actor, Asked, CancelCause, LOGGED_LINE_MAX, Turn};
use crate::agent::ask::{self, AskOutcome, PermissionAsk, PermissionReply};
use crate::agent::permission::{self, Decision};
use crate::agent::process::truncate;
use crate::agent::rpc::{self, Incoming};
use crate::agent::updates::{self, ParsedUpdate, wire_name};
use crate::agent::{AgentError, AgentUpdate, PermissionPolicy, StopReason};

impl Actor {
    pub(super) fn on_line(&mut self, line: &[u8]) {
        self.last_activity = Instant::now();
        if line.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        match rpc::parse_line(line) {
            Ok(Incoming::Response { id, result }) => self.on_response(id, result),
            Ok(Incoming::Request { id, method, params }) => self.on_request(id, &method, params),
            Ok(Incoming::Notification { method, params }) => self.on_notification(&method, &params),
            Err(reason) => tracing::warn!(
                %reason,
                line = %truncate(&String::from_utf8_lossy(line), LOGGED_LINE_MAX),
                "skipping a malformed line from the agent"
            ),
        }
    }

    fn on_response(&mut self, id: RequestId, result: Result<Value, RpcError>) {
        let RequestId::Number(id) = id else {
            tracing::warn!(%id, "agent answered a request id we never sent");
            return;
        };
        if let Some((method, reply)) = self.pending.remove(&id) {
            let result = result.map_err(|error| {
                AgentError::Protocol(format!("{method} failed: {}", rpc::describe_error(&error)))
            });
            let _ = reply.send(result);
            return;
        }
        match self.turn.take() {
            Some(turn) if turn.request_id == id => {
                if let Ok(result) = &result {
                    self.config
                        .facts
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .add_prompt_usage(result);
                }
                let outcome = turn_outcome(&turn, result, self.config.idle_timeout);
                tracing::debug!(outcome = ?outcome, "turn ended");
                let _ = turn.reply.send(outcome);
            }
            other => {
                self.turn = other;
                tracing::warn!(id, "agent answered a request id we never sent");
            }
        }
    }

    fn on_request(&mut self, id: RequestId, method: &str, params: Value) {
        if method == "session/request_permission" {
            self.on_permission(id, params);
            return;
        }
        tracing::info!(
            method,
            "agent asked for a method switchboard does not provide"
        );
        self.send_line(rpc::error_response(id, RpcError::method_not_found()));
    }

    fn on_permission(&mut self, id: RequestId, params: Value) {
        let request = match serde_json::from_value::<RequestPermissionRequest>(params) {
            Ok(request) => request,
            Err(err) => {
                tracing::warn!(%err, "malformed session/request_permission");
                let error = RpcError::invalid_params().data(Value::String(err.to_string()));
                self.send_line(rpc::error_response(id, error));
                return;
            }
        };
        let call = &request.tool_call;
        let call_id = call.tool_call_id.0.to_string();
        let known = self.turn.as_ref().and_then(|t| t.tools.get(&call_id));
        let title = call
            .fields
            .title
            .clone()
            .or_else(|| known.map(|(title, _)| title.clone()))
            .unwrap_or_else(|| call_id.clone());
        let kind = call.fields.kind.or_else(|| known.map(|(_, kind)| *kind));
        let cancelled = self.turn.as_ref().is_some_and(|t| t.cancelling.is_some());
        if self.config.policy == PermissionPolicy::Ask && !cancelled && self.turn.is_some() {
            self.ask(id, &request, title, kind);
            return;
        }
        let decision = if cancelled {
            Decision::Cancelled
        } else {
            permission::choose(self.config.policy, kind, &request.options)
        };
        let kind_name = kind
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), wire_name);
        if let Decision::Selected { fallback: true, .. } = &decision {
            tracing::warn!(
                tool = %title, tool_kind = %kind_name, policy = %self.config.policy,
                chosen = decision.kind_name(),
                "the agent offered no option of the wanted kind; chose the next best"
            );
        } else if matches!(decision, Decision::Cancelled) && !cancelled {
            tracing::warn!(
                tool = %title, tool_kind = %kind_name, policy = %self.config.policy,
                "the agent offered no acceptable option; answering cancelled"
            );
        }
        tracing::info!(
            tool = %title, tool_kind = %kind_name, policy = %self.config.policy,
            chosen = decision.kind_name(), turn_cancelled = cancelled,
            "permission decided"
        );
        let outcome = match &decision {
            Decision::Selected { option_id, .. } => RequestPermissionOutcome::Selected(
                SelectedPermissionOutcome::new(option_id.clone()),
            ),
            Decision::Cancelled => RequestPermissionOutcome::Cancelled,
        };
        self.send_line(rpc::response(id, &RequestPermissionResponse::new(outcome)));
        if let Some(turn) = &self.turn {
            let _ = turn.updates.send(AgentUpdate::PermissionDecided {
                tool_title: title,
                option_kind: decision.kind_name().to_owned(),
            });
        }
    }

    fn on_notification(&mut self, method: &str, params: &Value) {
        if method != "session/update" {
            tracing::debug!(method, "ignoring a notification from the agent");
            return;
        }
        if let Some(update) = params.get("update")
            && update
                .get("sessionUpdate")
                .and_then(Value::as_str)
                .is_some_and(|kind| crate::agent::facts::FACT_KINDS.contains(&kind))
        {
            let applied = self
                .config
                .facts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .apply_update(update);
            tracing::trace!(applied, "session facts updated");
            return;
        }
        let notification = match updates::parse(params) {
            ParsedUpdate::Known(notification) => notification,
            ParsedUpdate::Ignored { kind } => {
                tracing::trace!(kind, "ignoring a session update kind");
                return;
            }
            ParsedUpdate::Malformed(reason) => {
                tracing::warn!(%reason, "skipping a malformed session update");
                return;
            }
        };
        if self
            .session_id
            .as_deref()
            .is_some_and(|id| *id != *notification.session_id.0)
        {
            tracing::warn!(session = %notification.session_id, "update for another session ignored");
            return;
        }
        let Some(turn) = self.turn.as_mut() else {
            // Replayed history during session/load (before the session id
            // is set) is swallowed; answer text after a turn ended is kept
            // for the next turn.
            if self.session_id.is_some()
                && let SessionUpdate::AgentMessageChunk(chunk) = &notification.update
                && let Some(AgentUpdate::MessageChunk(text)) =
                    updates::to_agent_update(&SessionUpdate::AgentMessageChunk(chunk.clone()))
            {
                keep_late(&mut self.late_text, &text);
                tracing::debug!(
                    chars = text.chars().count(),
                    "answer text after the turn ended; kept for the next turn"
                );
            } else {
                tracing::trace!("session update outside a turn swallowed");
            }
            return;
        };
        if let SessionUpdate::ToolCall(call) = &notification.update {
            turn.tools.insert(
                call.tool_call_id.0.to_string(),
                (call.title.clone(), call.kind),
            );
        }
        if let Some(update) = updates::to_agent_update(&notification.update) {
            // The caller may have stopped listening; the turn still runs.
            let _ = turn.updates.send(update);
        }
    }
}

/// What `prompt()` returns for the prompt's reply.
fn turn_outcome(
    turn: &Turn,
    result: Result<Value, RpcError>,
    idle_timeout: Duration,
) -> Result<StopReason, AgentError> {
    let cause = turn.cancelling.map(|(cause, _)| cause);
    if cause == Some(CancelCause::Idle) {
        return Err(AgentError::IdleTimeout {
            after: idle_timeout,
        });
    }
    match result {
        Ok(value) => match serde_json::from_value::<PromptResponse>(value) {
            Ok(response) => Ok(map_stop_reason(response.stop_reason)),
            Err(err) => Err(AgentError::Protocol(format!(
                "session/prompt returned an unreadable result: {err}"
            ))),
        },
        // ACP asks agents to answer a cancelled prompt with stopReason
        // cancelled; some answer with an error instead.
        Err(error) if cause == Some(CancelCause::User) => {
            tracing::debug!(error = %rpc::describe_error(&error), "cancelled prompt answered with an error");
            Ok(StopReason::Cancelled)
        }
        Err(error) => Err(AgentError::Protocol(format!(
            "session/prompt failed: {}",
            rpc::describe_error(&error)
        ))),
    }
}

fn map_stop_reason(reason: WireStopReason) -> StopReason {
    match reason {
        WireStopReason::EndTurn => StopReason::EndTurn,
        WireStopReason::MaxTokens => StopReason::MaxTokens,
        WireStopReason::MaxTurnRequests => StopReason::MaxTurnRequests,
        WireStopReason::Refusal => StopReason::Refusal,
        WireStopReason::Cancelled => StopReason::Cancelled,
        // A future reason: the turn is over either way.
        _ => StopReason::EndTurn,
    }
}

impl Actor {
    /// Put a permission request to people (policy `ask`): the turn gets a
    /// [`PermissionAsk`]; the answer comes back as `Command::Answer`.
    fn ask(
        &mut self,
        id: RequestId,
        request: &RequestPermissionRequest,
        tool_title: String,
        kind: Option<agent_client_protocol_schema::v1::ToolKind>,
    ) {
        let key = id.to_string();
        let options = ask::allow_first(
            request
                .options
                .iter()
                .map(|o| (o.option_id.0.to_string(), o.name.clone(), o.kind))
                .collect(),
        );
        let tool_kind = kind
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), wire_name);
        tracing::info!(tool = %tool_title, tool_kind = %tool_kind, options = options.len(), "permission asked of the thread");
        self.asking.insert(
            key.clone(),
            Asked {
                id,
                tool_title: tool_title.clone(),
                option_ids: options.iter().map(|o| o.option_id.clone()).collect(),
            },
        );
        let asked = PermissionAsk {
            tool_title,
            tool_kind,
            preview: ask::preview(&request.tool_call.fields),
            options,
            reply: PermissionReply::new(self.own_commands.clone(), key),
        };
        if let Some(turn) = &self.turn {
            // If nobody listens, the reply is dropped with the update and
            // answers `cancelled` by itself.
            let _ = turn
                .updates
                .send(AgentUpdate::PermissionAsked(Box::new(asked)));
        }
    }

    /// People answered request `key` (or its reply was dropped).
    pub(super) fn on_answer(&mut self, key: &str, outcome: AskOutcome) {
        let Some(asked) = self.asking.remove(key) else {
            tracing::debug!(
                request = key,
                "a permission answer for a request already answered"
            );
            return;
        };
        // The agent's idle clock starts again now: the wait was on people.
        self.last_activity = tokio::time::Instant::now();
        let outcome = match outcome {
            AskOutcome::Selected(option) if !asked.option_ids.contains(&option) => {
                tracing::warn!(request = key, option = %option, "a permission answer named an option the agent did not offer; answering cancelled");
                AskOutcome::Cancelled
            }
            other => other,
        };
        let (wire, chosen) = match &outcome {
            AskOutcome::Selected(option) => (
                RequestPermissionOutcome::Selected(SelectedPermissionOutcome::new(option.clone())),
                option.clone(),
            ),
            AskOutcome::Cancelled => (RequestPermissionOutcome::Cancelled, "cancelled".to_owned()),
        };
        tracing::info!(tool = %asked.tool_title, chosen = %chosen, "permission answered by the thread");
        self.send_line(rpc::response(
            asked.id,
            &RequestPermissionResponse::new(wire),
        ));
        if let Some(turn) = &self.turn {
            let _ = turn.updates.send(AgentUpdate::PermissionDecided {
                tool_title: asked.tool_title,
                option_kind: chosen,
            });
        }
    }
}

/// Append `text` to the late text, within [`LATE_TEXT_MAX`] characters.
fn keep_late(late: &mut String, text: &str) {
    const CUT: &str = " […]";
    let room = crate::agent::LATE_TEXT_MAX.saturating_sub(late.chars().count());
    if room == 0 {
        return;
    }
    if text.chars().count() <= room {
        late.push_str(text);
    } else {
        late.extend(text.chars().take(room.saturating_sub(CUT.chars().count())));
        late.push_str(CUT);
    }
}

#[cfg(test)]
mod late_tests {
    use super::keep_late;
    use crate::agent::LATE_TEXT_MAX;

    #[test]
    fn late_text_is_kept_within_its_bound() {
        let mut late = String::new();
        keep_late(&mut late, "after ");
        keep_late(&mut late, "the end");
        assert_eq!(late, "after the end");
        keep_late(&mut late, &"x".repeat(LATE_TEXT_MAX));
        assert_eq!(late.chars().count(), LATE_TEXT_MAX);
        assert!(late.ends_with(" […]"));
        keep_late(&mut late, "more");
        assert_eq!(late.chars().count(), LATE_TEXT_MAX, "full: nothing more");
    }
}
