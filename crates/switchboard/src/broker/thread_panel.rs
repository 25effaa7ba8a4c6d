//! A thread's controls for slash commands: its live session's facts and
//! choices (`/status`, `/mode`, `/model`), shared by the thread actor and
//! its turn. A choice made while the thread has no live session waits
//! here and is applied when the next session starts.
//!
//! Owns the texts of `/status`, `/mode` and `/model` in a thread. Never
//! holds the session itself (only [`SessionControls`], which do not keep
//! it alive) and never blocks the actor (changes are awaited by the
//! caller's own task).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::durable::Durable;
use super::queue_cap::Waiting;
use crate::agent::{ModelSetting, SessionControls, SessionFacts};

/// What a choice is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChoiceKind {
    Mode,
    Model,
}

impl ChoiceKind {
    pub(super) fn word(self) -> &'static str {
        match self {
            Self::Mode => "mode",
            Self::Model => "model",
        }
    }
}

#[derive(Debug, Default)]
struct Pending {
    mode: Option<String>,
    model: Option<String>,
}

/// One thread's controls. Cheap to clone.
#[derive(Clone)]
pub struct ThreadPanel {
    /// The agent as configured (its command), for `/status`.
    agent: String,
    /// The thread's key and where its usage is kept.
    key: String,
    durable: Durable,
    controls: Arc<Mutex<Option<SessionControls>>>,
    pending: Arc<Mutex<Pending>>,
    waiting: Waiting,
    running: Arc<AtomicBool>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ThreadPanel {
    pub fn new(agent: &str, key: &str, durable: Durable, waiting: Waiting) -> Self {
        Self {
            agent: agent.to_owned(),
            key: key.to_owned(),
            durable,
            controls: Arc::default(),
            pending: Arc::default(),
            waiting,
            running: Arc::default(),
        }
    }

    /// The session now serving the thread (set by the turn).
    pub fn set_session(&self, controls: SessionControls) {
        *lock(&self.controls) = Some(controls);
    }

    /// Whether a turn runs now.
    pub fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::Relaxed);
    }

    fn live(&self) -> Option<SessionControls> {
        lock(&self.controls)
            .clone()
            .filter(SessionControls::is_live)
    }

    /// Apply the choices made while there was no live session (the turn
    /// calls this with a session just started or checked out).
    pub async fn apply_pending(&self, controls: &SessionControls) {
        let (mode, model) = {
            let mut pending = lock(&self.pending);
            (pending.mode.take(), pending.model.take())
        };
        if let Some(mode) = mode
            && let Err(err) = controls.set_mode(&mode).await
        {
            tracing::warn!(%err, mode, "a mode chosen earlier could not be set");
        }
        if let Some(model) = model
            && let Err(err) = set_model(controls, &controls.facts(), &model).await
        {
            tracing::warn!(%err, model, "a model chosen earlier could not be set");
        }
    }

    /// `/status` in the thread.
    pub async fn status(&self) -> String {
        let mut lines = vec![format!("**Agent**: `{}`", self.agent)];
        let durable = &self.durable;
        let stored = durable.check(
            "thread usage",
            durable
                .store()
                .thread_usage(durable.platform(), &self.key)
                .await,
        );
        if let Some(usage) = stored {
            let mut line = format!(
                "**Usage in this thread**: {} tokens in, {} out",
                usage.input_tokens, usage.output_tokens
            );
            if let Some(currency) = &usage.cost_currency {
                let cost = usage.cost_micros as f64 / 1e6;
                line.push_str(&format!("; cost {cost:.4} {currency}"));
            }
            lines.push(line);
        }
        match self.live() {
            Some(controls) => {
                let facts = controls.facts();
                lines.push(format!("**Session**: `{}`", controls.session_id()));
                lines.push(format!(
                    "**Mode**: {}",
                    current_of(facts.current_mode.as_deref(), &facts.modes)
                ));
                lines.push(format!("**Model**: {}", model_line(&facts)));
                lines.push(usage_line(&facts));
                if !facts.commands.is_empty() {
                    let names: Vec<String> = facts
                        .commands
                        .iter()
                        .map(|c| format!("`/{}`", c.name))
                        .collect();
                    lines.push(format!(
                        "**Agent commands** (start a message with one): {}",
                        names.join(", ")
                    ));
                }
            }
            None => lines.push(
                "**Session**: none live (the next message starts or restores one)".to_owned(),
            ),
        }
        let turn = if self.running.load(Ordering::Relaxed) {
            "answering"
        } else {
            "idle"
        };
        lines.push(format!(
            "**Turn**: {turn}; {} message(s) queued",
            self.waiting.count()
        ));
        lines.join("\n")
    }

    /// `/mode` or `/model` in the thread: list the choices (no `value`), or
    /// switch; the text to answer with.
    pub async fn choose(&self, kind: ChoiceKind, value: &str) -> String {
        let Some(controls) = self.live() else {
            if value.is_empty() {
                return format!(
                    "No live agent session in this thread; its {}s show once one starts.",
                    kind.word()
                );
            }
            let mut pending = lock(&self.pending);
            match kind {
                ChoiceKind::Mode => pending.mode = Some(value.to_owned()),
                ChoiceKind::Model => pending.model = Some(value.to_owned()),
            }
            return format!(
                "No live agent session in this thread: {} `{value}` will be set when the next one starts.",
                kind.word()
            );
        };
        let facts = controls.facts();
        let (current, choices) = match kind {
            ChoiceKind::Mode => (facts.current_mode.clone(), facts.modes.clone()),
            ChoiceKind::Model => match facts.model_setting() {
                ModelSetting::ConfigOption(option) => (Some(option.current), option.values),
                ModelSetting::Models { current, values } => (current, values),
                ModelSetting::None => (None, Vec::new()),
            },
        };
        if choices.is_empty() {
            return format!("This agent offers no {} choice.", kind.word());
        }
        let list = choices
            .iter()
            .map(|c| {
                let mark = if current.as_deref() == Some(c.id.as_str()) {
                    " (current)"
                } else {
                    ""
                };
                if c.name == c.id {
                    format!("`{}`{mark}", c.id)
                } else {
                    format!("`{}` {}{mark}", c.id, c.name)
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        if value.is_empty() {
            return format!("{}s: {list}", capitalised(kind.word()));
        }
        let Some(choice) = choices
            .iter()
            .find(|c| c.id == value || c.name.eq_ignore_ascii_case(value))
        else {
            return format!("No {} `{value}`. Choose one of: {list}", kind.word());
        };
        let result = match kind {
            ChoiceKind::Mode => controls.set_mode(&choice.id).await,
            ChoiceKind::Model => set_model(&controls, &facts, &choice.id).await,
        };
        match result {
            Ok(()) => {
                tracing::info!(session = controls.session_id(), kind = kind.word(), value = %choice.id, "session choice changed");
                format!("{} set to `{}`.", capitalised(kind.word()), choice.id)
            }
            Err(err) => format!("The agent refused {} `{}`: {err}", kind.word(), choice.id),
        }
    }
}

async fn set_model(
    controls: &SessionControls,
    facts: &SessionFacts,
    model: &str,
) -> Result<(), crate::agent::AgentError> {
    match facts.model_setting() {
        ModelSetting::ConfigOption(option) => controls.set_config_option(&option.id, model).await,
        _ => controls.set_model(model).await,
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn current_of(current: Option<&str>, choices: &[crate::agent::facts::Choice]) -> String {
    match current {
        Some(id) => format!("`{id}`"),
        None if choices.is_empty() => "not offered".to_owned(),
        None => "unknown".to_owned(),
    }
}

fn model_line(facts: &SessionFacts) -> String {
    match facts.model_setting() {
        ModelSetting::ConfigOption(option) => format!("`{}`", option.current),
        ModelSetting::Models { current, .. } => {
            current.map_or("unknown".to_owned(), |m| format!("`{m}`"))
        }
        ModelSetting::None => "not offered".to_owned(),
    }
}

fn usage_line(facts: &SessionFacts) -> String {
    let usage = &facts.usage;
    let mut parts = vec![format!(
        "{} tokens ({} in, {} out)",
        usage.total_tokens, usage.input_tokens, usage.output_tokens
    )];
    if let (Some(used), Some(size)) = (usage.context_used, usage.context_size) {
        parts.push(format!("context {used} of {size}"));
    }
    if let Some((amount, currency)) = &usage.cost {
        parts.push(format!("cost {amount:.4} {currency}"));
    }
    format!("**Session usage**: {}", parts.join("; "))
}
