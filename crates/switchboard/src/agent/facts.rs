//! What a live session has said about itself: its modes, models and
//! config options with the current choice, the agent's own commands
//! (`available_commands_update`) and its usage (`usage_update`, and the
//! token counts of each prompt's result).
//!
//! Written by the session's actor as the agent says it (in a turn or
//! between turns), read through [`SessionControls`](super::SessionControls)
//! by whoever shows or changes them. Read leniently from the raw JSON: a
//! field that is missing or malformed counts as not said. Must never block
//! (one short mutex) or fail a session over these optional facts.

use std::sync::{Arc, Mutex};

use serde_json::Value;

/// The session update kinds that only change facts (never rendered).
pub(crate) const FACT_KINDS: [&str; 4] = [
    "current_mode_update",
    "available_commands_update",
    "config_option_update",
    "usage_update",
];

/// Most entries kept in each list (an agent could announce any number).
const MAX_ENTRIES: usize = 100;

/// One choice: its id (what is sent back) and its name (what is shown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub id: String,
    pub name: String,
}

/// A session config option of type select.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigChoice {
    pub id: String,
    pub name: String,
    /// `mode`, `model`, `thought_level`, ... when the agent says.
    pub category: Option<String>,
    pub current: String,
    pub values: Vec<Choice>,
}

/// One of the agent's own slash commands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentCommandInfo {
    pub name: String,
    pub description: String,
}

/// What the session has used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct UsageFacts {
    /// Tokens in the context window now, and its size (`usage_update`).
    pub context_used: Option<u64>,
    pub context_size: Option<u64>,
    /// The session's cumulative cost and its unit (`usage_update.cost`).
    pub cost: Option<(f64, String)>,
    /// Summed over the prompts whose result carried `usage`.
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_tokens: u64,
}

/// Everything a session has said about itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SessionFacts {
    pub modes: Vec<Choice>,
    pub current_mode: Option<String>,
    /// `models.availableModels` (ACP's model selection, still unstable).
    pub models: Vec<Choice>,
    pub current_model: Option<String>,
    pub config_options: Vec<ConfigChoice>,
    pub commands: Vec<AgentCommandInfo>,
    pub usage: UsageFacts,
}

/// How a model is chosen in this session, if it can be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModelSetting {
    /// A config option (category `model`, or id `model`):
    /// `session/set_config_option`.
    ConfigOption(ConfigChoice),
    /// `models`: `session/set_model`.
    Models {
        current: Option<String>,
        values: Vec<Choice>,
    },
    /// The agent offers no model choice.
    None,
}

/// The facts, shared between the actor and the session's handles.
pub type SharedFacts = Arc<Mutex<SessionFacts>>;

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn choices(list: Option<&Value>, id_key: &str) -> Vec<Choice> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let id = text(entry, id_key)?;
            let name = text(entry, "name").unwrap_or_else(|| id.clone());
            Some(Choice { id, name })
        })
        .take(MAX_ENTRIES)
        .collect()
}

/// Select options, flat or grouped (`{group, name, options: [...]}`).
fn select_values(options: Option<&Value>) -> Vec<Choice> {
    let mut values = Vec::new();
    for entry in options.and_then(Value::as_array).into_iter().flatten() {
        if let Some(group) = entry.get("options") {
            values.extend(choices(Some(group), "value"));
        } else if let Some(id) = text(entry, "value") {
            let name = text(entry, "name").unwrap_or_else(|| id.clone());
            values.push(Choice { id, name });
        }
    }
    values.truncate(MAX_ENTRIES);
    values
}

fn config_choices(list: &Value) -> Option<Vec<ConfigChoice>> {
    let list = list.as_array()?;
    Some(
        list.iter()
            .filter_map(|option| {
                if option.get("type").and_then(Value::as_str) != Some("select") {
                    return None;
                }
                let id = text(option, "id")?;
                Some(ConfigChoice {
                    name: text(option, "name").unwrap_or_else(|| id.clone()),
                    category: text(option, "category"),
                    current: text(option, "currentValue").unwrap_or_default(),
                    values: select_values(option.get("options")),
                    id,
                })
            })
            .take(MAX_ENTRIES)
            .collect(),
    )
}

impl SessionFacts {
    /// Read what a `session/new` or `session/load` result announced.
    pub(crate) fn read_session_result(&mut self, result: &Value) {
        if let Some(modes) = result.get("modes") {
            self.modes = choices(modes.get("availableModes"), "id");
            self.current_mode = text(modes, "currentModeId");
        }
        if let Some(models) = result.get("models") {
            self.models = choices(models.get("availableModels"), "modelId");
            self.current_model = text(models, "currentModelId");
        }
        if let Some(options) = result.get("configOptions").and_then(config_choices) {
            self.config_options = options;
        }
    }

    /// Apply a fact-only `session/update` (`update` is its `update`
    /// object); whether it was one.
    pub(crate) fn apply_update(&mut self, update: &Value) -> bool {
        match update.get("sessionUpdate").and_then(Value::as_str) {
            Some("current_mode_update") => {
                if let Some(mode) = text(update, "currentModeId") {
                    self.current_mode = Some(mode);
                }
            }
            Some("available_commands_update") => {
                self.commands = update
                    .get("availableCommands")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| {
                        Some(AgentCommandInfo {
                            name: text(c, "name")?,
                            description: text(c, "description").unwrap_or_default(),
                        })
                    })
                    .take(MAX_ENTRIES)
                    .collect();
            }
            Some("config_option_update") => {
                if let Some(options) = update.get("configOptions").and_then(config_choices) {
                    self.config_options = options;
                }
            }
            Some("usage_update") => {
                let number = |key| update.get(key).and_then(Value::as_u64);
                self.usage.context_used = number("used").or(self.usage.context_used);
                self.usage.context_size = number("size").or(self.usage.context_size);
                if let Some(cost) = update.get("cost")
                    && let (Some(amount), Some(currency)) = (
                        cost.get("amount").and_then(Value::as_f64),
                        text(cost, "currency"),
                    )
                {
                    self.usage.cost = Some((amount, currency));
                }
            }
            _ => return false,
        }
        true
    }

    /// Add the token counts of a `session/prompt` result (`usage`, when
    /// the agent sends it).
    pub(crate) fn add_prompt_usage(&mut self, result: &Value) {
        let Some(usage) = result.get("usage") else {
            return;
        };
        let number = |key| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
        self.usage.input_tokens += number("inputTokens");
        self.usage.output_tokens += number("outputTokens");
        self.usage.total_tokens += number("totalTokens");
    }

    /// How this session's model can be chosen.
    pub fn model_setting(&self) -> ModelSetting {
        let option = self.config_options.iter().find(|o| {
            o.category.as_deref() == Some("model") || (o.category.is_none() && o.id == "model")
        });
        match option {
            Some(option) => ModelSetting::ConfigOption(option.clone()),
            None if !self.models.is_empty() => ModelSetting::Models {
                current: self.current_model.clone(),
                values: self.models.clone(),
            },
            None => ModelSetting::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_session_result_gives_modes_models_and_select_options() {
        let mut facts = SessionFacts::default();
        facts.read_session_result(&json!({
            "sessionId": "s",
            "modes": {"currentModeId": "default", "availableModes": [
                {"id": "default", "name": "Default"}, {"id": "acceptEdits", "name": "Accept Edits"}
            ]},
            "models": {"currentModelId": "m1", "availableModels": [{"modelId": "m1", "name": "One"}]},
            "configOptions": [
                {"id": "model", "name": "Model", "category": "model", "type": "select",
                 "currentValue": "m1", "options": [{"value": "m1", "name": "One"}, {"value": "m2", "name": "Two"}]},
                {"id": "verbose", "name": "Verbose", "type": "boolean", "currentValue": true}
            ]
        }));
        assert_eq!(facts.current_mode.as_deref(), Some("default"));
        assert_eq!(facts.modes[1].id, "acceptEdits");
        assert_eq!(facts.models[0].name, "One");
        assert_eq!(facts.config_options.len(), 1, "only select options");
        match facts.model_setting() {
            ModelSetting::ConfigOption(option) => {
                assert_eq!(option.current, "m1");
                assert_eq!(option.values[1].id, "m2");
            }
            other => panic!("the model config option wins: {other:?}"),
        }
    }

    #[test]
    fn updates_change_the_facts_and_other_kinds_are_not_facts() {
        let mut facts = SessionFacts::default();
        assert!(facts.apply_update(
            &json!({"sessionUpdate": "current_mode_update", "currentModeId": "plan"})
        ));
        assert!(facts.apply_update(&json!({"sessionUpdate": "available_commands_update",
            "availableCommands": [{"name": "review", "description": "Review the diff"}, {"bad": 1}]})));
        assert!(facts.apply_update(
            &json!({"sessionUpdate": "usage_update", "used": 5000, "size": 200000,
            "cost": {"amount": 0.12, "currency": "USD"}})
        ));
        facts.add_prompt_usage(&json!({"stopReason": "end_turn",
            "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15}}));
        facts.add_prompt_usage(&json!({"stopReason": "end_turn",
            "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2}}));
        assert!(!facts.apply_update(&json!({"sessionUpdate": "agent_message_chunk"})));
        assert_eq!(facts.current_mode.as_deref(), Some("plan"));
        assert_eq!(facts.commands.len(), 1);
        assert_eq!(facts.usage.context_used, Some(5000));
        assert_eq!(facts.usage.cost, Some((0.12, "USD".into())));
        assert_eq!(facts.usage.total_tokens, 17);
        assert_eq!(facts.model_setting(), ModelSetting::None);
    }
}
