//! The open permission prompts of one thread (policy `ask`): each request
//! from the agent becomes a message with one button per option, and waits
//! for a click by someone who may decide, for `agent.permission_timeout`,
//! or for the turn to be cancelled or to end.
//!
//! Owns the life of each prompt: post it (retried under one key), route
//! clicks to it (a button id is verified against this thread first), check
//! who clicked, answer the agent, and show the outcome in place (buttons
//! removed). Every prompt ends answered: chosen, rejected at the timeout,
//! or `cancelled` (a [`PermissionReply`] dropped answers that by itself).
//! Never lets anyone but the requester or an approver decide, and never
//! holds more than [`MAX_OPEN_PROMPTS`] open at once.
//!
//! [`PermissionReply`]: crate::agent::ask::PermissionReply

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::permission_prompt::{
    ButtonIdError, ButtonKey, Deciders, decided_text, prompt_text, refusal_text,
};
use super::reply::retry::with_retry;
use crate::agent::ask::{AskOption, PermissionAsk};
use crate::chat::{
    ButtonClick, ButtonStyle, ChatOutbound, ClickAnswer, Conversation, OutboundError, PostScope,
    PromptButton,
};

/// Prompts open at once in one thread, at most; a request beyond it is
/// answered `cancelled` at once (an agent asks one thing at a time).
pub const MAX_OPEN_PROMPTS: usize = 8;
/// Clicks waiting for one prompt; more at once are told to try again.
const CLICKS_QUEUED: usize = 8;

/// What the private answer says when a prompt is no longer open.
pub const NO_LONGER_OPEN: &str = "This request was already decided or is no longer open.";
/// What the private answer says to an id that does not verify.
pub const NOT_THIS_THREADS: &str = "This button does not belong to an open request of this thread.";

type OpenPrompts = Arc<Mutex<HashMap<u64, mpsc::Sender<(ButtonClick, usize)>>>>;

/// One thread's open prompts. Cheap to clone.
#[derive(Clone)]
pub struct PermissionDesk {
    thread: String,
    key: Arc<ButtonKey>,
    open: OpenPrompts,
    next: Arc<Mutex<u64>>,
    /// Cancelled at shutdown: every prompt, open or to come, is closed.
    closing: CancellationToken,
}

/// Where and how one prompt is shown and decided.
pub struct PromptSetting {
    pub outbound: Arc<dyn ChatOutbound>,
    pub conversation: Conversation,
    pub deciders: Deciders,
    /// How the requesters are @mentioned in the prompt and refusals.
    pub requester_mentions: Vec<String>,
    pub timeout: Duration,
    /// The turn's posts' scope (the prompt's key is made in it).
    pub scope: PostScope,
    /// Cancelled by `!cancel` / `/cancel`, or when the turn ends.
    pub closed: CancellationToken,
}

/// Takes a prompt out of the open ones when its task ends, however.
struct OpenEntry {
    open: OpenPrompts,
    request: u64,
}

impl Drop for OpenEntry {
    fn drop(&mut self) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&self.request);
        }
    }
}

/// How a prompt ended, as shown in its place.
#[derive(Debug, PartialEq, Eq)]
enum Ending {
    TimedOut,
    Closed,
}

impl PermissionDesk {
    pub fn new(thread: &str, key: Arc<ButtonKey>) -> Self {
        Self {
            thread: thread.to_owned(),
            key,
            open: Arc::default(),
            next: Arc::new(Mutex::new(0)),
            closing: CancellationToken::new(),
        }
    }

    /// Close every prompt now (shutdown: nobody can decide any more, and
    /// the turn should end within its grace): the agent is answered
    /// `cancelled`.
    pub fn close_all(&self) {
        self.closing.cancel();
    }

    /// How many prompts are open.
    pub fn open_count(&self) -> usize {
        self.open.lock().map_or(0, |open| open.len())
    }

    /// Put `ask` to the thread; runs until it is decided, timed out or
    /// closed. Beyond [`MAX_OPEN_PROMPTS`] the request is answered
    /// `cancelled` at once.
    pub fn ask(&self, ask: PermissionAsk, setting: PromptSetting) {
        let (tx, rx) = mpsc::channel(CLICKS_QUEUED);
        let request = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            *next += 1;
            *next
        };
        {
            let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
            if open.len() >= MAX_OPEN_PROMPTS {
                tracing::warn!(thread = %self.thread, limit = MAX_OPEN_PROMPTS, "too many open permission prompts; request answered cancelled");
                return;
            }
            open.insert(request, tx);
        }
        let entry = OpenEntry {
            open: self.open.clone(),
            request,
        };
        let buttons = buttons(&self.key, &self.thread, request, &ask.options);
        let thread = self.thread.clone();
        let closing = self.closing.clone();
        let closed = setting.closed.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = closing.cancelled() => closed.cancel(),
                () = closed.cancelled() => {}
            }
        });
        tokio::spawn(async move {
            let _entry = entry;
            run_prompt(thread, ask, request, buttons, setting, rx).await;
        });
    }

    /// Route a click on one of this thread's buttons to its prompt; what
    /// is not an open prompt's button gets a private answer saying so.
    pub fn click(&self, click: ButtonClick) {
        let choice = match self.key.verify(&self.thread, &click.button_id) {
            Ok(choice) => choice,
            Err(err) => {
                if err == ButtonIdError::Forged {
                    tracing::warn!(thread = %self.thread, user = %click.user.id, "a button id that does not verify for this thread was refused");
                }
                tell_privately(click.answer, NOT_THIS_THREADS);
                return;
            }
        };
        let sender = self
            .open
            .lock()
            .ok()
            .and_then(|open| open.get(&choice.request).cloned());
        match sender {
            Some(sender) => {
                if let Err(refused) = sender.try_send((click, choice.option)) {
                    let (click, _) = refused.into_inner();
                    tell_privately(click.answer, NO_LONGER_OPEN);
                }
            }
            None => tell_privately(click.answer, NO_LONGER_OPEN),
        }
    }
}

/// One button per option, allow options first (the ask is ordered so).
fn buttons(
    key: &ButtonKey,
    thread: &str,
    request: u64,
    options: &[AskOption],
) -> Vec<PromptButton> {
    options
        .iter()
        .enumerate()
        .map(|(index, option)| PromptButton {
            id: key.button_id(thread, request, index),
            label: option.name.clone(),
            style: if option.allows() {
                ButtonStyle::Allow
            } else {
                ButtonStyle::Reject
            },
        })
        .collect()
}

fn tell_privately(answer: ClickAnswer, text: &'static str) {
    tokio::spawn(async move {
        if let Err(err) = answer.tell_privately(text).await {
            tracing::debug!(%err, "a private answer to a click failed");
        }
    });
}

/// The wall-clock time as people read it in a decision ("14:05 UTC").
pub fn clock_time(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    format!("{:02}:{:02} UTC", secs / 3600 % 24, secs / 60 % 60)
}

/// A prompt's wait as people read it: "10 min", or "90 s".
fn wait_words(wait: Duration) -> String {
    let secs = wait.as_secs().max(1);
    if secs.is_multiple_of(60) {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// How a chosen option reads in the decision: "Allowed once", ...
fn choice_words(option: &AskOption) -> String {
    match option.kind {
        "allow_once" => "Allowed once".to_owned(),
        "allow_always" => "Always allowed".to_owned(),
        "reject_once" => "Rejected".to_owned(),
        "reject_always" => "Always rejected".to_owned(),
        _ => format!("\"{}\" chosen", option.name),
    }
}

async fn run_prompt(
    thread: String,
    ask: PermissionAsk,
    request: u64,
    buttons: Vec<PromptButton>,
    setting: PromptSetting,
    mut clicks: mpsc::Receiver<(ButtonClick, usize)>,
) {
    let PromptSetting {
        outbound,
        conversation,
        deciders,
        requester_mentions,
        timeout,
        scope,
        closed,
    } = setting;
    let text = prompt_text(&ask, &requester_mentions);
    let key = scope.notice(&format!("permission-{request}"));
    let posted = tokio::select! {
        posted = with_retry("permission prompt", || {
            outbound.post_prompt(&conversation, &text, &buttons, &key)
        }) => posted,
        () = closed.cancelled() => {
            // Dropping the ask answers the agent `cancelled`.
            return;
        }
    };
    let message_id = match posted {
        Ok(id) => id,
        Err(err) => {
            tracing::warn!(%thread, %err, tool = %ask.tool_title, "could not post a permission prompt; answered cancelled");
            return;
        }
    };
    tracing::info!(%thread, tool = %ask.tool_title, kind = %ask.tool_kind, request, "permission asked in the thread");
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let (ending, shown) = loop {
        tokio::select! {
            biased;
            () = closed.cancelled() => {
                let at = clock_time(SystemTime::now());
                break (Ending::Closed, format!("🔐 **{}**: cancelled at {at} (no answer before the turn ended)", super::permission_prompt::without_mentions(&ask.tool_title)));
            }
            () = &mut deadline => {
                break (Ending::TimedOut, decided_text(
                    &ask.tool_title,
                    &format!("Rejected (no answer within {})", wait_words(timeout)),
                    "switchboard",
                    &clock_time(SystemTime::now()),
                ));
            }
            Some((click, option)) = clicks.recv() => {
                // Groups are looked up only for someone not named outright
                // (on Slack it is a Web API call per approver group).
                let may_decide = deciders.may_decide(&click.user.id, &[])
                    || (!deciders.approver_groups.is_empty()
                        && deciders.may_decide(
                            &click.user.id,
                            &click.answer.user_groups(&deciders.approver_groups).await,
                        ));
                if !may_decide {
                    tracing::info!(%thread, user = %click.user.id, tool = %ask.tool_title, "a permission click by someone who may not decide was refused");
                    let refusal = refusal_text(&requester_mentions);
                    tokio::spawn(async move {
                        if let Err(err) = click.answer.tell_privately(&refusal).await {
                            tracing::debug!(%err, "the refusal of a click could not be sent");
                        }
                    });
                    continue;
                }
                let Some(chosen) = ask.options.get(option).cloned() else {
                    tell_privately(click.answer, NOT_THIS_THREADS);
                    continue;
                };
                let by = format!("<@{}>", click.user.id);
                let shown = decided_text(&ask.tool_title, &choice_words(&chosen), &by, &clock_time(SystemTime::now()));
                tracing::info!(%thread, tool = %ask.tool_title, option = %chosen.name, kind = chosen.kind, by = %click.user.id, "permission decided");
                ask.reply.select(&chosen.option_id);
                if let Err(err) = click.answer.update_message(&shown).await {
                    tracing::warn!(%thread, %err, "the click's answer failed; closing the prompt by an edit");
                    close(&*outbound, &conversation, &message_id, &shown).await;
                }
                return;
            }
        }
    };
    match ending {
        Ending::TimedOut => {
            tracing::info!(%thread, tool = %ask.tool_title, timeout_s = timeout.as_secs(), "permission prompt timed out; rejected");
            // Rejected once: a timeout never sets a lasting rule.
            let reject = ask
                .options
                .iter()
                .find(|o| o.kind == "reject_once")
                .or_else(|| ask.options.iter().find(|o| !o.allows()));
            match reject {
                Some(reject) => ask.reply.select(&reject.option_id),
                None => ask.reply.cancel(),
            }
        }
        Ending::Closed => ask.reply.cancel(),
    }
    close(&*outbound, &conversation, &message_id, &shown).await;
    // Clicks that came meanwhile are told it is over.
    clicks.close();
    while let Ok((click, _)) = clicks.try_recv() {
        tell_privately(click.answer, NO_LONGER_OPEN);
    }
}

async fn close(
    outbound: &dyn ChatOutbound,
    conversation: &Conversation,
    message_id: &str,
    text: &str,
) {
    let result: Result<(), OutboundError> = with_retry("close permission prompt", || {
        outbound.close_prompt(conversation, message_id, text)
    })
    .await;
    if let Err(err) = result {
        tracing::warn!(%err, "could not close a permission prompt");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_hours_and_minutes_utc() {
        let at = UNIX_EPOCH + Duration::from_secs(3 * 86_400 + 14 * 3600 + 5 * 60 + 59);
        assert_eq!(clock_time(at), "14:05 UTC");
    }

    #[test]
    fn waits_read_in_minutes_or_seconds() {
        assert_eq!(wait_words(Duration::from_secs(600)), "10 min");
        assert_eq!(wait_words(Duration::from_secs(90)), "90 s");
        assert_eq!(wait_words(Duration::from_millis(300)), "1 s");
    }

    #[test]
    fn choices_read_as_words() {
        let option = |kind| AskOption {
            option_id: "x".into(),
            name: "Yes, and remember".into(),
            kind,
        };
        assert_eq!(choice_words(&option("allow_once")), "Allowed once");
        assert_eq!(choice_words(&option("reject_always")), "Always rejected");
        assert_eq!(
            choice_words(&option("unknown")),
            "\"Yes, and remember\" chosen"
        );
    }
}
