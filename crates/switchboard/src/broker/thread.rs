//! One actor per conversation thread: its queue, batching, commands and the
//! shutdown grace. The turn itself is in `turn`.
//!
//! While a turn runs, new messages wait in the queue (reacted "queued") and
//! go together as the next prompt, each prefixed with its author; they are
//! never interleaved into the running turn and never dropped. `!cancel`
//! cancels the running turn; `!reset` also ends the session afterwards. On
//! shutdown a running turn gets `shutdown_grace` to finish; if it does not,
//! its messages are journaled as interrupted and answered after a restart.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::durable::Durable;
use super::permission_desk::PermissionDesk;
use super::permission_prompt::ButtonKey;
use super::pool::{PooledSession, SessionPool};
use super::queue_cap::Waiting;
use super::reply::ReplyConfig;
use super::reply::retry::with_retry;
use super::router::Command;
use super::thread_panel::{ChoiceKind, ThreadPanel};
use crate::agent::{AgentCommand, AgentSession, SessionOptions};
use crate::chat::{
    ButtonClick, ChatOutbound, CommandAnswer, Conversation, OutboundError, PostScope,
};
use crate::config::Reactions;
use crate::store::JournalState;

impl PooledSession for AgentSession {
    fn is_alive(&self) -> bool {
        AgentSession::is_alive(self)
    }

    async fn close(self) {
        self.shutdown().await;
    }
}

/// What every thread actor of one platform shares (a thread with an owner
/// gets a copy whose posts and writes ask its lease first).
#[derive(Clone)]
pub struct ThreadDeps {
    pub outbound: Arc<dyn ChatOutbound>,
    pub pool: Arc<SessionPool<AgentSession>>,
    pub agent: AgentCommand,
    pub session: SessionOptions,
    pub reply: ReplyConfig,
    pub reactions: Reactions,
    pub max_bot_turns: u32,
    /// `broker.max_queued` (see `queue_cap`).
    pub max_queued: usize,
    /// An actor with nothing to do for this long ends; the bridge starts a
    /// new one for the thread's next message ([`ACTOR_IDLE_END`]).
    pub actor_idle_end: Duration,
    pub shutdown_grace: Duration,
    pub durable: Durable,
    /// Where a 401 from the platform is reported (fatal for the process).
    pub fatal: mpsc::UnboundedSender<OutboundError>,
    /// Who decides permission requests put to the thread, and how long
    /// they wait (policy `ask`).
    pub approval: Approval,
}

/// Permission prompts of one platform: the key their buttons are signed
/// with, the approvers besides the requester, the time a prompt waits.
#[derive(Debug, Clone)]
pub struct Approval {
    pub key: Arc<ButtonKey>,
    /// User ids (`<platform>.approvers.users`).
    pub users: Vec<String>,
    /// Discord role ids or Slack user-group ids.
    pub groups: Vec<String>,
    /// `agent.permission_timeout`.
    pub timeout: Duration,
}

impl Default for Approval {
    /// A fresh key, no approvers, 10 minutes.
    fn default() -> Self {
        Self {
            key: Arc::new(ButtonKey::random()),
            users: Vec::new(),
            groups: Vec::new(),
            timeout: Duration::from_secs(600),
        }
    }
}

/// A message for a thread, already routed and journaled.
#[derive(Clone, Debug)]
pub struct Incoming {
    pub message_id: String,
    /// Where the message was posted (for its reactions).
    pub channel_id: String,
    /// The author's id (a requester who may decide permission prompts).
    pub author_id: String,
    pub author: String,
    pub is_bot: bool,
    pub text: String,
    /// For a message taken up from the journal (a restart, a thread taken
    /// over): what earlier tries at answering it left. `None` when heard
    /// live.
    pub taken_up: Option<TakenUp>,
}

/// What earlier tries left of a message taken up from the journal: the
/// turn's post keys depend on it ([`crate::chat::TurnTry`]).
#[derive(Clone, Debug)]
pub struct TakenUp {
    /// The reply ids an earlier try recorded (marked interrupted now).
    pub recorded: Vec<String>,
    /// An earlier try began (the entry was `prompted` or `interrupted`).
    pub began: bool,
}

#[derive(Debug)]
pub enum ThreadInput {
    Message(Incoming),
    Command(Command),
    /// A click on one of the thread's buttons.
    Click(Box<ButtonClick>),
    /// `/status` in the thread.
    Status(CommandAnswer),
    /// `/mode` or `/model` in the thread (an empty value lists them).
    Choose {
        kind: ChoiceKind,
        value: String,
        answer: CommandAnswer,
    },
}

impl ThreadInput {
    /// Answer a panel command without waiting for the actor's loop (a
    /// choice may wait up to 10 s on the agent).
    fn answer_panel(self, panel: &ThreadPanel) -> Option<Self> {
        match self {
            ThreadInput::Status(answer) => {
                let panel = panel.clone();
                tokio::spawn(async move {
                    let text = panel.status().await;
                    let _ = answer.reply(&text, true).await;
                });
                None
            }
            ThreadInput::Choose {
                kind,
                value,
                answer,
            } => {
                let panel = panel.clone();
                tokio::spawn(async move {
                    let text = panel.choose(kind, &value).await;
                    let _ = answer.reply(&text, value.is_empty()).await;
                });
                None
            }
            other => Some(other),
        }
    }
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

/// The agent session a thread had before a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreviousSession {
    pub session_id: String,
    pub supports_load: bool,
}

/// How long a thread actor waits idle before it ends (its agent session
/// stays in the pool, ruled by `idle_ttl`). Overridden by the environment
/// variable `SWITCHBOARD_THREAD_ACTOR_IDLE_MS` (tests).
pub const ACTOR_IDLE_END: Duration = Duration::from_secs(600);

/// [`ACTOR_IDLE_END`], or the environment's override.
pub fn actor_idle_end() -> Duration {
    std::env::var("SWITCHBOARD_THREAD_ACTOR_IDLE_MS")
        .ok()
        .and_then(|ms| ms.parse().ok())
        .map_or(ACTOR_IDLE_END, Duration::from_millis)
}

/// A running thread actor: where its inputs go, and how many of its
/// messages wait for a turn. The channel is unbounded because the bridge
/// caps what it hands over (`broker.max_queued` messages; commands are
/// few and handled at once).
#[derive(Clone, Debug)]
pub struct ThreadHandle {
    pub tx: mpsc::UnboundedSender<ThreadInput>,
    pub waiting: Waiting,
}

/// Start the actor for thread `key`.
pub fn spawn_thread(
    key: String,
    origin: Origin,
    previous: Option<PreviousSession>,
    deps: Arc<ThreadDeps>,
    tracker: &TaskTracker,
    shutdown: CancellationToken,
) -> ThreadHandle {
    let (tx, rx) = mpsc::unbounded_channel();
    let waiting = Waiting::default();
    let actor = ThreadActor {
        desk: PermissionDesk::new(&key, deps.approval.key.clone()),
        panel: ThreadPanel::new(
            &deps.agent.command,
            &key,
            deps.durable.clone(),
            waiting.clone(),
        ),
        key,
        origin,
        deps,
        bot_turns: 0,
        previous,
        waiting: waiting.clone(),
    };
    tracker.spawn(actor.run(rx, shutdown));
    ThreadHandle { tx, waiting }
}

pub(super) struct ThreadActor {
    pub(super) key: String,
    pub(super) origin: Origin,
    pub(super) deps: Arc<ThreadDeps>,
    /// Consecutive turns that only bots asked for.
    bot_turns: u32,
    /// The session to restore on the first turn after a restart.
    pub(super) previous: Option<PreviousSession>,
    /// Messages handed over and not yet in a turn (the bridge reads it).
    waiting: Waiting,
    /// The thread's open permission prompts.
    pub(super) desk: PermissionDesk,
    /// The thread's session controls for slash commands.
    pub(super) panel: ThreadPanel,
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
                    () = tokio::time::sleep(self.deps.actor_idle_end), if open => {
                        // Idle: end, so that actors do not pile up over weeks.
                        // Closing first makes every later send fail (the
                        // bridge then starts a new actor); what was sent
                        // before is still read below, then `None` ends us.
                        tracing::debug!(thread = %self.key, "thread actor idle; ending");
                        rx.close();
                        open = false;
                        continue;
                    }
                };
                let input = match input.map(|i| i.answer_panel(&self.panel)) {
                    Some(None) => continue,
                    Some(Some(input)) => Some(input),
                    None => None,
                };
                match input {
                    None => return,
                    Some(ThreadInput::Message(message)) => queue.push(message),
                    Some(ThreadInput::Command(Command::Cancel)) => {}
                    Some(ThreadInput::Command(Command::Reset)) => self.reset().await,
                    Some(ThreadInput::Click(click)) => self.desk.click(*click),
                    Some(ThreadInput::Status(_) | ThreadInput::Choose { .. }) => {}
                }
                continue;
            }
            let batch = std::mem::take(&mut queue);
            self.waiting.taken(batch.len());
            if !self.admit(&batch).await {
                continue;
            }
            let ids: Vec<String> = batch.iter().map(|m| m.message_id.clone()).collect();
            let cancel = CancellationToken::new();
            let mut reset_after = false;
            let deps = self.deps.clone();
            let desk = self.desk.clone();
            let panel = self.panel.clone();
            panel.set_running(true);
            let finished = {
                let turn = self.turn(batch, cancel.clone());
                tokio::pin!(turn);
                loop {
                    tokio::select! {
                        // Priority: shutdown, then the turn's own end, then
                        // input (a flood of messages cannot delay a finished
                        // turn).
                        biased;
                        () = shutdown.cancelled() => {
                            // Nobody can answer a prompt now: close them,
                            // so the turn can end within its grace.
                            desk.close_all();
                            break tokio::time::timeout(deps.shutdown_grace, &mut turn).await.is_ok();
                        }
                        () = &mut turn => break true,
                        input = rx.recv(), if open => match input.map(|i| i.answer_panel(&panel)) {
                            Some(None) => {}
                            Some(Some(ThreadInput::Status(_) | ThreadInput::Choose { .. })) => {}
                            Some(Some(ThreadInput::Message(message))) => {
                                react(&deps, &message, &deps.reactions.queued, true);
                                queue.push(message);
                            }
                            Some(Some(ThreadInput::Command(Command::Cancel))) => cancel.cancel(),
                            Some(Some(ThreadInput::Command(Command::Reset))) => {
                                cancel.cancel();
                                reset_after = true;
                            }
                            Some(Some(ThreadInput::Click(click))) => desk.click(*click),
                            None => open = false,
                        },
                    }
                }
            };
            panel.set_running(false);
            if shutdown.is_cancelled() {
                if !finished {
                    tracing::warn!(thread = %self.key, grace_ms = deps.shutdown_grace.as_millis() as u64, "turn still running at shutdown; journaled as interrupted");
                    deps.durable
                        .set_states(&ids, JournalState::Interrupted)
                        .await;
                }
                // Messages queued behind it stay journaled as received and
                // are answered after the restart.
                return;
            }
            for message in &queue {
                react(&deps, message, &deps.reactions.queued, false);
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
        let ids: Vec<String> = batch.iter().map(|m| m.message_id.clone()).collect();
        self.deps
            .durable
            .set_states(&ids, JournalState::Failed)
            .await;
        false
    }

    async fn reset(&mut self) {
        self.deps.pool.remove(&self.key).await;
        self.previous = None;
        if let Origin::Existing(conversation) = &self.origin {
            let note = "Session reset: your next message starts a new agent session.";
            report(
                &self.deps,
                notify(&*self.deps.outbound, conversation, note, "reset")
                    .await
                    .err(),
            );
        }
    }

    /// The conversation, opening the thread on the first turn (retried on
    /// transient errors; a retry after a lost response finds it opened).
    pub(super) async fn conversation(&mut self) -> Result<Conversation, OutboundError> {
        if let Origin::NewThread {
            channel_id,
            message_id,
            name,
        } = &self.origin
        {
            let outbound = &self.deps.outbound;
            let conversation = with_retry("open thread", || {
                outbound.start_thread(channel_id, message_id, name)
            })
            .await?;
            tracing::info!(thread = %conversation.thread_id, channel = %channel_id, "thread opened");
            self.origin = Origin::Existing(conversation);
        }
        match &self.origin {
            Origin::Existing(conversation) => Ok(conversation.clone()),
            Origin::NewThread { .. } => unreachable!("set just above"),
        }
    }
}

/// Post a notice of switchboard's own (`what` names it), retried on
/// transient errors under one idempotency key, so it appears once.
pub(super) async fn notify(
    outbound: &dyn ChatOutbound,
    conversation: &Conversation,
    text: &str,
    what: &str,
) -> Result<String, OutboundError> {
    let key = PostScope::unique(what).notice(what);
    with_retry("notice", || outbound.post(conversation, text, &key)).await
}

/// Add or remove a status reaction in the background; failures are logged.
pub(super) fn react(deps: &ThreadDeps, message: &Incoming, emoji: &str, add: bool) {
    let (outbound, fatal) = (deps.outbound.clone(), deps.fatal.clone());
    let (channel, id, emoji) = (
        message.channel_id.clone(),
        message.message_id.clone(),
        emoji.to_owned(),
    );
    tokio::spawn(async move { set_reaction(&*outbound, &fatal, &channel, &id, &emoji, add).await });
}

/// Add or remove a status reaction now; failures are logged (a 401 is
/// passed on as fatal).
pub(super) async fn set_reaction(
    outbound: &dyn ChatOutbound,
    fatal: &mpsc::UnboundedSender<OutboundError>,
    channel: &str,
    id: &str,
    emoji: &str,
    add: bool,
) {
    let result = if add {
        outbound.react(channel, id, emoji).await
    } else {
        outbound.unreact(channel, id, emoji).await
    };
    if let Err(err) = result {
        tracing::debug!(%err, message_id = %id, "status reaction failed");
        if matches!(err, OutboundError::Unauthorized) {
            let _ = fatal.send(err);
        }
    }
}

/// Pass a platform error on: 401 is fatal, the rest is logged.
pub(super) fn report(deps: &ThreadDeps, err: Option<OutboundError>) {
    match err {
        Some(OutboundError::Unauthorized) => {
            let _ = deps.fatal.send(OutboundError::Unauthorized);
        }
        Some(err) => tracing::warn!(%err, "posting to the platform failed"),
        None => {}
    }
}
