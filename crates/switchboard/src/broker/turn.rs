//! One turn of a thread: open the thread if needed, check a session out of
//! the pool (restoring the pre-restart one with `session/load` when the agent
//! can), prompt it, stream the answer, set the reactions ([`super::status`])
//! and the journal (`prompted` beside the prompt, then the final state, the
//! reply ids and the thread's activity in one write).
//! Never fails: every problem ends as a notice in the thread, an error
//! reaction and a `failed` journal state. The pool slot is held as a
//! [`SlotLease`] from checkout to check-in: a turn cut short anywhere
//! (`!cancel` while the agent starts, a shutdown dropping it) frees the
//! slot, and a session dropped with it kills its agent.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::permission_desk::{PermissionDesk, PromptSetting};
use super::permission_prompt::Deciders;
use super::pool::{Checkout, SlotLease};
use super::reply::{ReplyEvent, spawn_reply_observed};
use super::status::{THINKING_AFTER, TurnStatus};
use super::thread::{Incoming, ThreadActor, ThreadDeps, notify, react, report};
use crate::agent::facts::UsageFacts;
use crate::agent::{
    AgentError, AgentSession, AgentUpdate, PermissionPolicy, PromptPart, StopReason,
};
use crate::chat::{Conversation, PostScope, TurnTry};
use crate::store::{JournalState, ThreadUsage};

/// The one-time notice after a restart when the agent cannot restore its
/// session.
pub const CONTEXT_LOST: &str = "ℹ️ switchboard restarted and this agent cannot restore its session, so its earlier context in this thread was not kept. Your message goes to a fresh session.";

impl ThreadActor {
    /// One turn for `batch`.
    pub(super) async fn turn(&mut self, batch: Vec<Incoming>, cancel: CancellationToken) {
        let deps = self.deps.clone();
        let status = TurnStatus::start(deps.clone(), &batch, THINKING_AFTER);
        let (ok, reply_ids) = self.answer(&batch, &cancel, &status).await;
        let ids: Vec<String> = batch.iter().map(|m| m.message_id.clone()).collect();
        let state = if ok {
            JournalState::Answered
        } else {
            JournalState::Failed
        };
        deps.durable
            .finish_turn(&ids, state, &reply_ids, &self.key)
            .await;
        status.end(ok);
    }

    /// Run the agent for `batch`: whether the turn ended normally, and the
    /// reply's message ids.
    async fn answer(
        &mut self,
        batch: &[Incoming],
        cancel: &CancellationToken,
        status: &TurnStatus,
    ) -> (bool, Vec<String>) {
        let deps = self.deps.clone();
        let ids: Vec<String> = batch.iter().map(|m| m.message_id.clone()).collect();
        let scope = turn_scope(batch);
        let conversation = match self.conversation().await {
            Ok(conversation) => conversation,
            Err(err) => {
                tracing::warn!(thread = %self.key, %err, "could not open the thread");
                super::refused::thread_not_opened(&deps, &self.origin, &ids, &err).await;
                report(&deps, Some(err));
                return (false, Vec::new());
            }
        };
        // Cancelling here drops the checkout or the agent's start part way:
        // the lease frees the slot and the half-started agent is killed.
        let started = tokio::select! {
            biased;
            () = cancel.cancelled() => {
                tracing::info!(thread = %self.key, "turn cancelled by the user before the agent was ready");
                let key = scope.notice("cancelled");
                let posted = deps.outbound.post(&conversation, "Turn cancelled.", &key).await;
                report(&deps, posted.err());
                return (false, Vec::new());
            }
            started = self.session(&conversation) => started,
        };
        let Some((session, lease)) = started else {
            return (false, Vec::new());
        };
        let controls = session.controls();
        self.panel.set_session(controls.clone());
        self.panel.apply_pending(&controls).await;
        let usage_before = controls.facts().usage;

        // One id per message the reply posts (2,000 or 3,800 characters of
        // the answer each), read at once by the recorder.
        let (posted_tx, posted_rx) = mpsc::unbounded_channel();
        // Agent updates, forwarded as they come into the reply's events
        // (in memory, no I/O between): the queue holds what arrived since
        // the last poll; what the reply keeps is its document.
        let (updates_tx, updates_rx) = mpsc::unbounded_channel();
        let canceller = session.canceller();
        let prompting = async {
            let call = session.prompt(vec![PromptPart::Text(prompt_text(batch))], updates_tx);
            tokio::pin!(call);
            let mut cancel_sent = false;
            loop {
                tokio::select! {
                    result = &mut call => break result,
                    () = cancel.cancelled(), if !cancel_sent => {
                        tracing::info!(thread = %self.key, "turn cancelled by the user");
                        canceller.cancel();
                        cancel_sent = true;
                    }
                }
            }
        };
        // Open permission prompts close when the turn is cancelled or ends
        // (however: the guard also fires if this future is dropped).
        let prompts_closed = cancel.child_token();
        let _close_prompts = prompts_closed.clone().drop_guard();
        let asking = Asking {
            desk: &self.desk,
            conversation: &conversation,
            scope: scope.clone(),
            closed: prompts_closed,
            deciders: deciders(&deps, batch),
        };
        // `prompted` is written beside the prompt, not before it: the
        // journal entry (written before the message was acted on) already
        // keeps the message safe. But before the reply may post: a post
        // exists only for an entry marked begun, so a process taking the
        // message up knows when to look for an earlier try's post (ADR 25).
        // The agent's updates wait in their queue meanwhile. It is awaited
        // with the turn, so the final state is always written after it.
        let replying = async {
            deps.durable.set_prompted(&ids).await;
            let (reply_tx, reply) = spawn_reply_observed(
                deps.outbound.clone(),
                conversation.clone(),
                deps.reply.clone(),
                Some(posted_tx),
                scope.clone(),
            );
            forward_updates(updates_rx, reply_tx.clone(), &deps, batch, status, &asking).await;
            (reply_tx, reply)
        };
        // Ends when the reply task (the sender's owner) is done.
        let recorder = tokio::spawn(record_reply_ids(
            posted_rx,
            deps.durable.clone(),
            ids.clone(),
            exits_after_post(&deps, batch),
        ));
        let (result, (reply_tx, reply)) = tokio::join!(prompting, replying);
        status.agent_answering();
        let used = usage_delta(&usage_before, &controls.facts().usage);
        if used != ThreadUsage::default() {
            deps.durable.add_usage(&self.key, &used).await;
        }

        let ok = match result {
            Ok(stop) => {
                if stop == StopReason::Cancelled {
                    let _ = reply_tx.send(ReplyEvent::Notice("Turn cancelled.".into()));
                } else if stop != StopReason::EndTurn {
                    let _ = reply_tx.send(ReplyEvent::Notice(format!(
                        "The agent stopped early ({stop})."
                    )));
                }
                lease.checkin(session);
                true
            }
            Err(err) => {
                let _ = reply_tx.send(ReplyEvent::Notice(failure_notice(&err)));
                tracing::warn!(thread = %self.key, %err, "turn failed");
                if matches!(
                    err,
                    AgentError::Exited { .. }
                        | AgentError::IdleTimeout { .. }
                        | AgentError::MessageTooLarge { .. }
                ) || !session.is_alive()
                {
                    session.shutdown().await;
                    lease.release();
                } else {
                    lease.checkin(session);
                }
                false
            }
        };
        drop(reply_tx);
        let outcome = reply
            .await
            .unwrap_or_else(|join| panic!("reply task failed: {join}"));
        let _ = recorder.await;
        let posted = super::refused::answer_posted(&deps, &ids, outcome.error.as_ref()).await;
        let ok = ok && posted;
        report(&deps, outcome.error);
        (ok, outcome.message_ids)
    }

    /// The thread's session (its live one, the restored pre-restart one, or
    /// a new one) with the lease on its pool slot; `None` after telling the
    /// user why there is none. Dropped part way, it holds nothing: the
    /// lease frees the slot and a session being started is killed.
    async fn session(
        &mut self,
        conversation: &Conversation,
    ) -> Option<(AgentSession, SlotLease<AgentSession>)> {
        let deps = self.deps.clone();
        let Checkout { lease, session } = deps
            .pool
            .checkout(&self.key, || {
                let text = format!(
                    "All {} agent slots are busy; your message is queued and will be answered when one frees up.",
                    deps.pool.max()
                );
                let (outbound, conversation) = (deps.outbound.clone(), conversation.clone());
                tokio::spawn(async move { notify(&*outbound, &conversation, &text, "busy").await });
            })
            .await;
        if let Some(session) = session {
            return Some((session, lease));
        }
        let previous = self.previous.take();
        let mut options = deps.session.clone();
        options.log_tag = self.key.clone();
        let resume = previous
            .as_ref()
            .filter(|p| p.supports_load)
            .map(|p| p.session_id.as_str());
        match AgentSession::start(&deps.agent, options, resume).await {
            Ok(session) => {
                let info = session.info();
                tracing::info!(thread = %self.key, session_id = %info.session_id, resumed = info.resumed, "agent session started");
                if previous.is_some() && !info.resumed {
                    report(
                        &deps,
                        notify(&*deps.outbound, conversation, CONTEXT_LOST, "context-lost")
                            .await
                            .err(),
                    );
                    deps.durable.context_lost_notified(&self.key).await;
                }
                let cwd = deps.agent.cwd.display().to_string();
                deps.durable
                    .set_session(&self.key, &info.session_id, &cwd, info.load_session)
                    .await;
                Some((session, lease))
            }
            Err(err) => {
                lease.release();
                self.previous = previous;
                tracing::warn!(thread = %self.key, %err, "could not start the agent");
                let note = format!("⚠️ Could not start the agent: {err}");
                report(
                    &deps,
                    notify(&*deps.outbound, conversation, &note, "start-failed")
                        .await
                        .err(),
                );
                None
            }
        }
    }
}

/// What one turn used: the prompt results' tokens since `before`, and the
/// growth of the session's cumulative cost (all of it when the session had
/// reported none before, or changed currency).
fn usage_delta(before: &UsageFacts, after: &UsageFacts) -> ThreadUsage {
    let cost = match (&before.cost, &after.cost) {
        (Some((was, unit)), Some((now, same))) if unit == same => Some((now - was, same)),
        (_, Some((now, unit))) => Some((*now, unit)),
        (_, None) => None,
    };
    let (cost_micros, cost_currency) = match cost {
        Some((amount, unit)) if amount > 0.0 => ((amount * 1e6).round() as i64, Some(unit.clone())),
        _ => (0, None),
    };
    ThreadUsage {
        input_tokens: after.input_tokens.saturating_sub(before.input_tokens) as i64,
        output_tokens: after.output_tokens.saturating_sub(before.output_tokens) as i64,
        cost_micros,
        cost_currency,
    }
}

/// Journal each reply message id as soon as it is posted, so a crash
/// mid-reply leaves a record of what to mark as interrupted.
async fn record_reply_ids(
    mut posted: mpsc::UnboundedReceiver<String>,
    durable: super::durable::Durable,
    ids: Vec<String>,
    exit_after_post: bool,
) {
    let mut reply_ids = Vec::new();
    while let Some(id) = posted.recv().await {
        if exit_after_post {
            super::test_faults::exit_now("a reply was posted; its id is not recorded");
        }
        reply_ids.push(id);
        durable.set_reply(&ids, &reply_ids).await;
    }
}

/// The keys of the turn's posts: from its first message and what earlier
/// tries at answering that message left (ADR 25).
fn turn_scope(batch: &[Incoming]) -> PostScope {
    let first = batch.first();
    let attempt = match first.and_then(|m| m.taken_up.as_ref()) {
        Some(taken_up) => TurnTry::TakenUp {
            recorded: &taken_up.recorded,
            began: taken_up.began,
        },
        None => TurnTry::First,
    };
    PostScope::turn(first.map_or("", |m| m.message_id.as_str()), attempt)
}

/// Whether the test fault `exit_after_post` ends the process after this
/// turn's first post: on a message's first try only (whoever takes it up
/// after the exit has the fault armed too).
fn exits_after_post(deps: &ThreadDeps, batch: &[Incoming]) -> bool {
    let retried = batch
        .iter()
        .any(|m| m.taken_up.as_ref().is_some_and(|t| t.began));
    !retried
        && deps
            .durable
            .faults()
            .exits_after_post(batch.iter().map(|m| m.text.as_str()))
}

/// Where a turn's permission requests are put to people.
struct Asking<'a> {
    desk: &'a PermissionDesk,
    conversation: &'a Conversation,
    scope: PostScope,
    closed: CancellationToken,
    deciders: Deciders,
}

/// Who may decide the turn's permission requests: the people (not bots)
/// whose messages started it, and the platform's approvers.
fn deciders(deps: &ThreadDeps, batch: &[Incoming]) -> Deciders {
    let mut requesters: Vec<String> = Vec::new();
    for message in batch.iter().filter(|m| !m.is_bot) {
        if !requesters.contains(&message.author_id) {
            requesters.push(message.author_id.clone());
        }
    }
    Deciders {
        requesters,
        approver_users: deps.approval.users.clone(),
        approver_groups: deps.approval.groups.clone(),
    }
}

/// Agent updates -> reply events, and the "running a tool" reaction; the
/// first text or tool call tells `status` the agent is answering. A
/// permission request goes to the thread's desk as a prompt.
async fn forward_updates(
    mut updates: mpsc::UnboundedReceiver<AgentUpdate>,
    reply: mpsc::UnboundedSender<ReplyEvent>,
    deps: &ThreadDeps,
    batch: &[Incoming],
    status: &TurnStatus,
    asking: &Asking<'_>,
) {
    let mut tool_reacted = false;
    while let Some(update) = updates.recv().await {
        if matches!(
            update,
            AgentUpdate::MessageChunk(_) | AgentUpdate::ToolCall { .. }
        ) {
            status.agent_answering();
        }
        let event = match update {
            AgentUpdate::MessageChunk(text) => ReplyEvent::Text(text),
            AgentUpdate::LateText(text) => ReplyEvent::Notice(format!(
                "The agent sent this after its previous turn had ended: {text}"
            )),
            AgentUpdate::ToolCall {
                id,
                title,
                kind,
                status,
            } => {
                if !tool_reacted {
                    tool_reacted = true;
                    if let Some(last) = batch.last() {
                        react(deps, last, &deps.reactions.tool, true);
                    }
                }
                ReplyEvent::ToolStarted {
                    id,
                    title,
                    kind,
                    status,
                }
            }
            AgentUpdate::ToolCallUpdate { id, title, status } => {
                ReplyEvent::ToolUpdated { id, title, status }
            }
            // Asked in the thread: the prompt itself shows the decision.
            AgentUpdate::PermissionDecided { .. }
                if deps.session.permission_policy == PermissionPolicy::Ask =>
            {
                continue;
            }
            AgentUpdate::PermissionDecided {
                tool_title,
                option_kind,
            } => ReplyEvent::Notice(format!(
                "Permission for \"{tool_title}\": {}",
                option_kind.replace('_', " ")
            )),
            AgentUpdate::ThoughtChunk(_) | AgentUpdate::Plan(_) => continue,
            AgentUpdate::PermissionAsked(asked) => {
                let setting = PromptSetting {
                    outbound: deps.outbound.clone(),
                    conversation: asking.conversation.clone(),
                    requester_mentions: asking
                        .deciders
                        .requesters
                        .iter()
                        .map(|id| format!("<@{id}>"))
                        .collect(),
                    deciders: asking.deciders.clone(),
                    timeout: deps.approval.timeout,
                    scope: asking.scope.clone(),
                    closed: asking.closed.clone(),
                };
                asking.desk.ask(*asked, setting);
                continue;
            }
        };
        if reply.send(event).is_err() {
            return;
        }
    }
}

/// One message as is; several as one prompt, each prefixed with its author.
pub fn prompt_text(batch: &[Incoming]) -> String {
    match batch {
        [one] => one.text.clone(),
        many => many
            .iter()
            .map(|m| format!("{}: {}", m.author, m.text))
            .collect::<Vec<_>>()
            .join("\n\n"),
    }
}

fn failure_notice(err: &AgentError) -> String {
    match err {
        AgentError::Exited { status } => {
            format!(
                "⚠️ The agent stopped unexpectedly ({status}). Your next message starts a new session."
            )
        }
        AgentError::IdleTimeout { after } => format!(
            "⚠️ The agent sent nothing for {} and was stopped. Your next message starts a new session.",
            humantime::format_duration(Duration::from_secs(after.as_secs()))
        ),
        AgentError::MessageTooLarge { limit } => format!(
            "⚠️ The agent sent a message larger than {} (agent.max_message_size) and was stopped. Your next message starts a new session.",
            crate::config::ByteSize(*limit as u64)
        ),
        other => format!("⚠️ The agent failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(author: &str, text: &str) -> Incoming {
        Incoming {
            message_id: "1".into(),
            channel_id: "2".into(),
            author_id: author.into(),
            author: author.into(),
            is_bot: false,
            text: text.into(),
            taken_up: None,
        }
    }

    #[test]
    fn a_turns_usage_is_what_grew_during_it() {
        let before = UsageFacts {
            input_tokens: 10,
            output_tokens: 5,
            cost: Some((0.002, "USD".into())),
            ..UsageFacts::default()
        };
        let after = UsageFacts {
            input_tokens: 25,
            output_tokens: 9,
            cost: Some((0.0035, "USD".into())),
            ..UsageFacts::default()
        };
        assert_eq!(
            usage_delta(&before, &after),
            ThreadUsage {
                input_tokens: 15,
                output_tokens: 4,
                cost_micros: 1_500,
                cost_currency: Some("USD".into()),
            }
        );
        assert_eq!(
            usage_delta(&after, &after),
            ThreadUsage::default(),
            "nothing new, nothing added"
        );
    }

    #[test]
    fn one_message_is_sent_as_is_and_several_with_their_authors() {
        assert_eq!(prompt_text(&[incoming("alice", "fix it")]), "fix it");
        assert_eq!(
            prompt_text(&[
                incoming("alice", "one"),
                incoming("bob", "two"),
                incoming("alice", "three")
            ]),
            "alice: one\n\nbob: two\n\nalice: three"
        );
    }

    #[test]
    fn failure_notices_say_what_happened_and_what_comes_next() {
        let exited = failure_notice(&AgentError::Exited {
            status: "exit status 3".into(),
        });
        assert!(
            exited.contains("exit status 3") && exited.contains("new session"),
            "{exited}"
        );
        let idle = failure_notice(&AgentError::IdleTimeout {
            after: Duration::from_secs(600),
        });
        assert!(idle.contains("10m") && idle.contains("stopped"), "{idle}");
        assert_eq!(
            failure_notice(&AgentError::MessageTooLarge { limit: 16 << 20 }),
            "⚠️ The agent sent a message larger than 16 MiB (agent.max_message_size) and was stopped. Your next message starts a new session."
        );
    }
}
