//! One actor per conversation thread: its queue, batching and the turn
//! lifecycle (thread creation, session checkout, prompt, streamed reply,
//! status reactions, failure notices).
//!
//! While a turn runs, new messages wait in the queue (reacted "queued") and
//! go together as the next prompt, each prefixed with its author; they are
//! never interleaved into the running turn and never dropped. `!cancel`
//! cancels the running turn; `!reset` also ends the session afterwards.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::pool::{Checkout, PooledSession, SessionPool};
use super::reply::{ReplyConfig, ReplyEvent, spawn_reply};
use super::router::Command;
use crate::agent::{
    AgentCommand, AgentError, AgentSession, AgentUpdate, PromptPart, SessionOptions, StopReason,
};
use crate::chat::{ChatOutbound, Conversation, OutboundError};
use crate::config::Reactions;

impl PooledSession for AgentSession {
    fn is_alive(&self) -> bool {
        AgentSession::is_alive(self)
    }

    async fn close(self) {
        self.shutdown().await;
    }
}

/// What every thread actor shares.
pub struct ThreadDeps {
    pub outbound: Arc<dyn ChatOutbound>,
    pub pool: Arc<SessionPool<AgentSession>>,
    pub agent: AgentCommand,
    pub session: SessionOptions,
    pub reply: ReplyConfig,
    pub reactions: Reactions,
    pub max_bot_turns: u32,
    /// Where a 401 from the platform is reported (fatal for the process).
    pub fatal: mpsc::UnboundedSender<OutboundError>,
}

/// A message for a thread, already routed.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub message_id: String,
    /// Where the message was posted (for its reactions).
    pub channel_id: String,
    pub author: String,
    pub is_bot: bool,
    pub text: String,
}

#[derive(Debug)]
pub enum ThreadInput {
    Message(Incoming),
    Command(Command),
}

/// Where the thread's replies go.
#[derive(Clone, Debug)]
pub enum Origin {
    /// Open a thread from this message on the first turn.
    NewThread {
        channel_id: String,
        message_id: String,
        name: String,
    },
    /// An existing thread.
    Existing(Conversation),
}

/// Start the actor for thread `key`; send it inputs on the returned channel.
pub fn spawn_thread(
    key: String,
    origin: Origin,
    deps: Arc<ThreadDeps>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> mpsc::UnboundedSender<ThreadInput> {
    let (tx, rx) = mpsc::unbounded_channel();
    let actor = ThreadActor {
        key,
        origin,
        deps,
        bot_turns: 0,
    };
    tracker.spawn(actor.run(rx, shutdown));
    tx
}

struct ThreadActor {
    key: String,
    origin: Origin,
    deps: Arc<ThreadDeps>,
    /// Consecutive turns that only bots asked for.
    bot_turns: u32,
}

impl ThreadActor {
    async fn run(
        mut self,
        mut rx: mpsc::UnboundedReceiver<ThreadInput>,
        shutdown: CancellationToken,
    ) {
        let mut queue: Vec<Incoming> = Vec::new();
        let mut open = true;
        loop {
            if queue.is_empty() {
                let input = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => return,
                    input = rx.recv() => input,
                };
                match input {
                    None => return,
                    Some(ThreadInput::Message(message)) => queue.push(message),
                    Some(ThreadInput::Command(Command::Cancel)) => {}
                    Some(ThreadInput::Command(Command::Reset)) => self.reset().await,
                }
                continue;
            }
            let batch = std::mem::take(&mut queue);
            if !self.admit(&batch).await {
                continue;
            }
            let cancel = CancellationToken::new();
            let mut reset_after = false;
            let deps = self.deps.clone();
            {
                let turn = self.turn(batch, cancel.clone());
                tokio::pin!(turn);
                loop {
                    tokio::select! {
                        // Priority: shutdown, then the turn's own end, then
                        // input (a flood of messages cannot delay a finished
                        // turn).
                        biased;
                        () = shutdown.cancelled() => return,
                        () = &mut turn => break,
                        input = rx.recv(), if open => match input {
                            Some(ThreadInput::Message(message)) => {
                                react(&deps, &message, &deps.reactions.queued, true);
                                queue.push(message);
                            }
                            Some(ThreadInput::Command(Command::Cancel)) => cancel.cancel(),
                            Some(ThreadInput::Command(Command::Reset)) => {
                                cancel.cancel();
                                reset_after = true;
                            }
                            None => open = false,
                        },
                    }
                }
            }
            for message in &queue {
                react(&self.deps, message, &self.deps.reactions.queued, false);
            }
            if reset_after {
                self.reset().await;
            }
            if !open && queue.is_empty() {
                return;
            }
        }
    }

    /// The bot-loop guard: a batch only bots asked for counts against
    /// `max_bot_turns`; a human in the batch resets the count.
    async fn admit(&mut self, batch: &[Incoming]) -> bool {
        if batch.iter().any(|m| !m.is_bot) {
            self.bot_turns = 0;
            return true;
        }
        self.bot_turns += 1;
        if self.bot_turns <= self.deps.max_bot_turns {
            return true;
        }
        tracing::info!(thread = %self.key, limit = self.deps.max_bot_turns, "bot-only turn refused: consecutive bot turn cap reached");
        for message in batch {
            react(&self.deps, message, &self.deps.reactions.denied, true);
        }
        false
    }

    async fn reset(&mut self) {
        self.deps.pool.remove(&self.key).await;
        if let Origin::Existing(conversation) = &self.origin {
            let note = "Session reset: your next message starts a new agent session.";
            report(
                &self.deps,
                self.deps.outbound.post(conversation, note).await.err(),
            );
        }
    }

    /// The conversation, opening the thread on the first turn.
    async fn conversation(&mut self) -> Result<Conversation, OutboundError> {
        if let Origin::NewThread {
            channel_id,
            message_id,
            name,
        } = &self.origin
        {
            let conversation = self
                .deps
                .outbound
                .start_thread(channel_id, message_id, name)
                .await?;
            tracing::info!(thread = %conversation.thread_id, channel = %channel_id, "thread opened");
            self.origin = Origin::Existing(conversation);
        }
        match &self.origin {
            Origin::Existing(conversation) => Ok(conversation.clone()),
            Origin::NewThread { .. } => unreachable!("set just above"),
        }
    }

    /// One turn for `batch`. Never fails: every problem ends as a notice in
    /// the thread and an error reaction.
    async fn turn(&mut self, batch: Vec<Incoming>, cancel: CancellationToken) {
        let deps = self.deps.clone();
        let r = &deps.reactions;
        for message in &batch {
            react(&deps, message, &r.thinking, true);
        }
        let outcome = self.answer(&batch, &cancel).await;
        for message in &batch {
            react(&deps, message, &r.thinking, false);
            let done = if outcome { &r.done } else { &r.error };
            react(&deps, message, done, true);
        }
    }

    /// Run the agent for `batch`; `true` when the turn ended normally.
    async fn answer(&mut self, batch: &[Incoming], cancel: &CancellationToken) -> bool {
        let deps = self.deps.clone();
        let conversation = match self.conversation().await {
            Ok(conversation) => conversation,
            Err(err) => {
                tracing::warn!(thread = %self.key, %err, "could not open the thread");
                report(&deps, Some(err));
                return false;
            }
        };
        let session = tokio::select! {
            biased;
            () = cancel.cancelled() => return false,
            session = self.session(&conversation) => session,
        };
        let Some(session) = session else { return false };

        let (reply_tx, reply) = spawn_reply(
            deps.outbound.clone(),
            conversation.clone(),
            deps.reply.clone(),
        );
        let (updates_tx, updates_rx) = mpsc::unbounded_channel();
        let prompt = prompt_text(batch);
        let canceller = session.canceller();
        let prompting = async {
            let call = session.prompt(vec![PromptPart::Text(prompt)], updates_tx);
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
        let forwarding = forward_updates(updates_rx, reply_tx.clone(), &deps, batch);
        let (result, ()) = tokio::join!(prompting, forwarding);

        let ok = match result {
            Ok(stop) => {
                if stop == StopReason::Cancelled {
                    let _ = reply_tx.send(ReplyEvent::Notice("Turn cancelled.".into()));
                } else if stop != StopReason::EndTurn {
                    let _ = reply_tx.send(ReplyEvent::Notice(format!(
                        "The agent stopped early ({stop})."
                    )));
                }
                deps.pool.checkin(&self.key, session);
                true
            }
            Err(err) => {
                let _ = reply_tx.send(ReplyEvent::Notice(failure_notice(&err)));
                tracing::warn!(thread = %self.key, %err, "turn failed");
                if matches!(
                    err,
                    AgentError::Exited { .. } | AgentError::IdleTimeout { .. }
                ) || !session.is_alive()
                {
                    session.shutdown().await;
                    deps.pool.release(&self.key);
                } else {
                    deps.pool.checkin(&self.key, session);
                }
                false
            }
        };
        drop(reply_tx);
        let outcome = reply
            .await
            .unwrap_or_else(|join| panic!("reply task failed: {join}"));
        report(&deps, outcome.error);
        ok
    }

    /// The thread's session: its live one, or a new one; `None` after
    /// telling the user why there is none.
    async fn session(&self, conversation: &Conversation) -> Option<AgentSession> {
        let deps = &self.deps;
        let checkout = deps
            .pool
            .checkout(&self.key, || {
                let text = format!(
                    "All {} agent slots are busy; your message is queued and will be answered when one frees up.",
                    deps.pool.max()
                );
                let (outbound, conversation) = (deps.outbound.clone(), conversation.clone());
                tokio::spawn(async move { outbound.post(&conversation, &text).await });
            })
            .await;
        match checkout {
            Checkout::Existing(session) => Some(session),
            Checkout::Vacant => {
                let mut options = deps.session.clone();
                options.log_tag = self.key.clone();
                match AgentSession::start(&deps.agent, options, None).await {
                    Ok(session) => {
                        tracing::info!(thread = %self.key, session_id = %session.info().session_id, "agent session started");
                        Some(session)
                    }
                    Err(err) => {
                        deps.pool.release(&self.key);
                        tracing::warn!(thread = %self.key, %err, "could not start the agent");
                        let note = format!("⚠️ Could not start the agent: {err}");
                        report(deps, deps.outbound.post(conversation, &note).await.err());
                        None
                    }
                }
            }
        }
    }
}

/// Agent updates -> reply events, and the "running a tool" reaction.
async fn forward_updates(
    mut updates: mpsc::UnboundedReceiver<AgentUpdate>,
    reply: mpsc::UnboundedSender<ReplyEvent>,
    deps: &ThreadDeps,
    batch: &[Incoming],
) {
    let mut tool_reacted = false;
    while let Some(update) = updates.recv().await {
        let event = match update {
            AgentUpdate::MessageChunk(text) => ReplyEvent::Text(text),
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
            AgentUpdate::PermissionDecided {
                tool_title,
                option_kind,
            } => ReplyEvent::Notice(format!(
                "Permission for \"{tool_title}\": {}",
                option_kind.replace('_', " ")
            )),
            AgentUpdate::ThoughtChunk(_) | AgentUpdate::Plan(_) => continue,
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
        other => format!("⚠️ The agent failed: {other}"),
    }
}

/// Add or remove a status reaction in the background; failures are logged.
fn react(deps: &ThreadDeps, message: &Incoming, emoji: &str, add: bool) {
    let (outbound, fatal) = (deps.outbound.clone(), deps.fatal.clone());
    let (channel, id, emoji) = (
        message.channel_id.clone(),
        message.message_id.clone(),
        emoji.to_owned(),
    );
    tokio::spawn(async move {
        let result = if add {
            outbound.react(&channel, &id, &emoji).await
        } else {
            outbound.unreact(&channel, &id, &emoji).await
        };
        if let Err(err) = result {
            tracing::debug!(%err, message_id = %id, "status reaction failed");
            if matches!(err, OutboundError::Unauthorized) {
                let _ = fatal.send(err);
            }
        }
    });
}

/// Pass a platform error on: 401 is fatal, the rest is logged.
fn report(deps: &ThreadDeps, err: Option<OutboundError>) {
    match err {
        Some(OutboundError::Unauthorized) => {
            let _ = deps.fatal.send(OutboundError::Unauthorized);
        }
        Some(err) => tracing::warn!(%err, "posting to the platform failed"),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incoming(author: &str, text: &str) -> Incoming {
        Incoming {
            message_id: "1".into(),
            channel_id: "2".into(),
            author: author.into(),
            is_bot: false,
            text: text.into(),
        }
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
    }
}
