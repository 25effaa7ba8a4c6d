//! Application commands: the bot's registered commands (global and per
//! guild) and Discord's validation of a bulk overwrite: at most 100
//! commands with unique names; CHAT_INPUT names and option names 1-32
//! characters of `^[-_'\p{L}\p{N}]{1,32}$` in their lowercase form;
//! descriptions 1-100; at most 25 options (required ones first, names
//! unique) and 25 choices (name 1-100, value a string of at most 100
//! characters or a number) per option. An overwrite keeps the id of a
//! command that already exists with the same name and type.
//!
//! Pure model and validation; ids come from the caller. It must never do
//! I/O or build HTTP answers (errors are `FormError`s).

use std::collections::{BTreeMap, HashSet};

use serde_json::{Value, json};

use crate::form_error::{FormError, check_len};

pub(crate) const MAX_COMMANDS: usize = 100;
pub(crate) const MAX_OPTIONS: usize = 25;
pub(crate) const MAX_CHOICES: usize = 25;
const MAX_NAME: usize = 32;
const MAX_DESCRIPTION: usize = 100;

const CHAT_INPUT: u64 = 1;
const SUB_COMMAND: u64 = 1;
const SUB_COMMAND_GROUP: u64 = 2;
/// STRING, INTEGER and NUMBER options may carry choices.
const CHOICE_TYPES: [u64; 3] = [3, 4, 10];

/// Registered commands: `None` is the global scope, `Some(guild)` a guild's.
#[derive(Debug, Default)]
pub(crate) struct Commands {
    pub scopes: BTreeMap<Option<u64>, Vec<Value>>,
}

impl Commands {
    pub fn list(&self, guild: Option<u64>) -> Vec<Value> {
        self.scopes.get(&guild).cloned().unwrap_or_default()
    }

    /// Replaces a scope's commands after validating all of them; nothing
    /// changes when any is invalid.
    pub fn overwrite(
        &mut self,
        application_id: u64,
        guild: Option<u64>,
        body: Option<&Value>,
        mut next_id: impl FnMut() -> u64,
    ) -> Result<Vec<Value>, FormError> {
        let Some(commands) = body.and_then(Value::as_array) else {
            return Err(FormError::new("BASE_TYPE_ARRAY", "Must be an array."));
        };
        if commands.len() > MAX_COMMANDS {
            return Err(FormError::max_length(MAX_COMMANDS));
        }
        let mut names = HashSet::new();
        for (index, command) in commands.iter().enumerate() {
            validate_command(command).map_err(|e| e.under(index))?;
            let key = (kind(command), command["name"].as_str().unwrap_or_default());
            if !names.insert(key) {
                return Err(FormError::new(
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
                .under("name")
                .under(index));
            }
        }
        let previous = self.list(guild);
        let stored: Vec<Value> = commands
            .iter()
            .map(|command| {
                let existing = previous
                    .iter()
                    .find(|p| p["name"] == command["name"] && p["type"] == json!(kind(command)));
                let id = existing
                    .and_then(|p| p["id"].as_str())
                    .map(str::to_owned)
                    .unwrap_or_else(|| next_id().to_string());
                stored_command(command, &id, next_id(), application_id, guild)
            })
            .collect();
        self.scopes.insert(guild, stored.clone());
        Ok(stored)
    }

    /// Every scope's commands: `{"global": [...], "<guild id>": [...]}`.
    pub fn to_json(&self) -> Value {
        let scopes = self.scopes.iter().map(|(scope, commands)| {
            let key = scope.map_or_else(|| "global".to_owned(), |g| g.to_string());
            (key, Value::Array(commands.clone()))
        });
        Value::Object(scopes.collect())
    }

    /// The command named `name` that a user in `guild` can run (a guild
    /// command shadows a global one of the same name).
    pub fn find(&self, guild: u64, name: &str) -> Option<&Value> {
        let named = |scope: Option<u64>| {
            self.scopes.get(&scope).and_then(|cs| {
                cs.iter()
                    .find(|c| c["name"] == name && kind(c) == CHAT_INPUT)
            })
        };
        named(Some(guild)).or_else(|| named(None))
    }
}

fn kind(command: &Value) -> u64 {
    command
        .get("type")
        .and_then(Value::as_u64)
        .unwrap_or(CHAT_INPUT)
}

fn stored_command(
    command: &Value,
    id: &str,
    version: u64,
    application_id: u64,
    guild: Option<u64>,
) -> Value {
    let mut out = json!({
        "id": id,
        "application_id": application_id.to_string(),
        "version": version.to_string(),
        "type": kind(command),
        "name": command["name"],
        "name_localizations": command.get("name_localizations").cloned().unwrap_or(Value::Null),
        "description": command.get("description").cloned().unwrap_or(json!("")),
        "description_localizations":
            command.get("description_localizations").cloned().unwrap_or(Value::Null),
        "default_member_permissions":
            command.get("default_member_permissions").cloned().unwrap_or(Value::Null),
        "nsfw": command.get("nsfw").and_then(Value::as_bool).unwrap_or(false),
        "integration_types": command.get("integration_types").cloned().unwrap_or(json!([0])),
        "contexts": command.get("contexts").cloned().unwrap_or(Value::Null),
    });
    if let Some(options) = command.get("options").filter(|o| !o.is_null()) {
        out["options"] = options.clone();
    }
    match guild {
        Some(guild) => out["guild_id"] = json!(guild.to_string()),
        None => {
            out["dm_permission"] = json!(
                command
                    .get("dm_permission")
                    .and_then(Value::as_bool)
                    .unwrap_or(true)
            )
        }
    }
    out
}

fn validate_command(command: &Value) -> Result<(), FormError> {
    let kind = kind(command);
    if !(1..=4).contains(&kind) {
        return Err(
            FormError::new("BASE_TYPE_CHOICES", "Value must be one of {1, 2, 3, 4}.").under("type"),
        );
    }
    check_len(command.get("name"), "name", 1, MAX_NAME)?;
    let name = command["name"].as_str().unwrap_or_default();
    if kind == CHAT_INPUT {
        if !valid_chat_input_name(name) {
            return Err(invalid_name().under("name"));
        }
        check_len(
            command.get("description"),
            "description",
            1,
            MAX_DESCRIPTION,
        )?;
        validate_options(command.get("options"), 0).map_err(|e| e.under("options"))?;
    } else if command
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| !d.is_empty())
    {
        return Err(FormError::new(
            "APPLICATION_COMMAND_INVALID_DESCRIPTION",
            "Description must be empty for this command type",
        )
        .under("description"));
    }
    Ok(())
}

fn invalid_name() -> FormError {
    FormError::new(
        "APPLICATION_COMMAND_INVALID_NAME",
        "Command name is invalid",
    )
}

/// `^[-_'\p{L}\p{N}]{1,32}$` with every cased letter in lowercase.
pub(crate) fn valid_chat_input_name(name: &str) -> bool {
    let len = name.chars().count();
    (1..=MAX_NAME).contains(&len)
        && name.chars().all(|c| {
            let allowed = matches!(c, '-' | '_' | '\'') || c.is_alphabetic() || c.is_numeric();
            allowed && !c.is_uppercase()
        })
}

/// Options at nesting `depth` (0: the command's, 1: a subcommand's or a
/// group's, 2: a grouped subcommand's).
fn validate_options(options: Option<&Value>, depth: u8) -> Result<(), FormError> {
    let Some(options) = options.filter(|o| !o.is_null()) else {
        return Ok(());
    };
    let Some(options) = options.as_array() else {
        return Err(FormError::new("BASE_TYPE_ARRAY", "Must be an array."));
    };
    if options.len() > MAX_OPTIONS {
        return Err(FormError::max_length(MAX_OPTIONS));
    }
    let mut names = HashSet::new();
    let mut optional_seen = false;
    for (index, option) in options.iter().enumerate() {
        let at = |e: FormError| e.under(index);
        let kind = option.get("type").and_then(Value::as_u64).unwrap_or(0);
        if !(1..=11).contains(&kind) {
            return Err(at(FormError::new(
                "BASE_TYPE_CHOICES",
                "Value must be one of {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}.",
            )
            .under("type")));
        }
        check_len(option.get("name"), "name", 1, MAX_NAME).map_err(at)?;
        let name = option["name"].as_str().unwrap_or_default();
        if !valid_chat_input_name(name) {
            return Err(at(invalid_name().under("name")));
        }
        if !names.insert(name) {
            return Err(at(FormError::new(
                "APPLICATION_COMMAND_OPTIONS_NAME_ALREADY_EXISTS",
                "Option names must be unique",
            )
            .under("name")));
        }
        check_len(option.get("description"), "description", 1, MAX_DESCRIPTION).map_err(at)?;
        let required = option
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if required && optional_seen {
            return Err(at(FormError::new(
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
            .under("required")));
        }
        optional_seen |= !required;
        validate_choices(option.get("choices"), kind).map_err(|e| at(e.under("choices")))?;
        let nested = option.get("options").filter(|o| !o.is_null());
        match kind {
            SUB_COMMAND_GROUP if depth == 0 => validate_options(nested, 1),
            SUB_COMMAND if depth < 2 => validate_options(nested, 2),
            SUB_COMMAND | SUB_COMMAND_GROUP => Err(FormError::new(
                "APPLICATION_COMMAND_OPTION_INVALID_NESTING",
                "Subcommands cannot be nested this deep",
            )
            .under("type")),
            _ if nested.is_some() => Err(FormError::new(
                "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
                "Only subcommands and groups can have options",
            )),
            _ => Ok(()),
        }
        .map_err(|e| at(e.under("options")))?;
    }
    Ok(())
}

fn validate_choices(choices: Option<&Value>, option_kind: u64) -> Result<(), FormError> {
    let Some(choices) = choices.filter(|c| !c.is_null()) else {
        return Ok(());
    };
    let Some(choices) = choices.as_array() else {
        return Err(FormError::new("BASE_TYPE_ARRAY", "Must be an array."));
    };
    if !CHOICE_TYPES.contains(&option_kind) && !choices.is_empty() {
        return Err(FormError::new(
            "APPLICATION_COMMAND_OPTION_CHOICES_NOT_ALLOWED",
            "Choices are only allowed for STRING, INTEGER and NUMBER options",
        ));
    }
    if choices.len() > MAX_CHOICES {
        return Err(FormError::max_length(MAX_CHOICES));
    }
    for (index, choice) in choices.iter().enumerate() {
        check_len(choice.get("name"), "name", 1, MAX_DESCRIPTION).map_err(|e| e.under(index))?;
        let value = choice.get("value").filter(|v| !v.is_null());
        let valid = match (option_kind, value) {
            (3, Some(Value::String(s))) => (1..=100).contains(&s.chars().count()),
            (4, Some(v)) => v.is_i64() || v.is_u64(),
            (10, Some(v)) => v.is_number(),
            _ => false,
        };
        if !valid {
            let e = match value {
                None => FormError::required(),
                Some(_) => FormError::new(
                    "APPLICATION_COMMAND_OPTION_CHOICE_VALUE_INVALID",
                    "Choice value does not match the option type",
                ),
            };
            return Err(e.under("value").under(index));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(name: &str) -> Value {
        json!({ "name": name, "description": "d", "type": 1 })
    }

    fn overwrite(c: &mut Commands, body: Value) -> Result<Vec<Value>, FormError> {
        let mut n = 100;
        c.overwrite(1, None, Some(&body), || {
            n += 1;
            n
        })
    }

    #[test]
    fn names_follow_discords_rule() {
        for good in ["cancel", "set-mode", "a_b", "ñandú", "日本", "x1", "don't"] {
            assert!(valid_chat_input_name(good), "{good}");
        }
        for bad in ["", "Cancel", "has space", "a.b", &"a".repeat(33), "emoji🙂"] {
            assert!(!valid_chat_input_name(bad), "{bad}");
        }
    }

    #[test]
    fn an_overwrite_keeps_ids_by_name_and_refuses_atomically() {
        let mut c = Commands::default();
        let first = overwrite(&mut c, json!([cmd("status"), cmd("mode")])).unwrap();
        let second = overwrite(&mut c, json!([cmd("mode")])).unwrap();
        assert_eq!(second[0]["id"], first[1]["id"]);
        assert_ne!(second[0]["version"], first[1]["version"]);
        let e = overwrite(&mut c, json!([cmd("ok"), cmd("Bad")])).unwrap_err();
        assert_eq!(e.path, ["1", "name"]);
        assert_eq!(c.list(None).len(), 1);
        let dup = overwrite(&mut c, json!([cmd("a"), cmd("a")])).unwrap_err();
        assert_eq!(dup.code, "APPLICATION_COMMANDS_DUPLICATE_NAME");
        let many: Vec<Value> = (0..101).map(|i| cmd(&format!("c{i}"))).collect();
        assert_eq!(
            overwrite(&mut c, Value::Array(many)).unwrap_err().code,
            "BASE_TYPE_MAX_LENGTH"
        );
    }

    #[test]
    fn options_and_choices_are_checked() {
        let mut c = Commands::default();
        let mut with = |options: Value| {
            let mut command = cmd("mode");
            command["options"] = options;
            overwrite(&mut c, json!([command]))
        };
        let choices: Vec<Value> = (0..26)
            .map(|i| json!({ "name": i.to_string(), "value": i.to_string() }))
            .collect();
        let e = with(json!([{ "type": 3, "name": "m", "description": "d", "choices": choices }]))
            .unwrap_err();
        assert_eq!(e.path, ["0", "options", "0", "choices"]);
        let e = with(json!([
            { "type": 3, "name": "a", "description": "d" },
            { "type": 3, "name": "b", "description": "d", "required": true },
        ]))
        .unwrap_err();
        assert_eq!(e.code, "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID");
        let e = with(json!([{ "type": 3, "name": "a", "description": "" }])).unwrap_err();
        assert_eq!(e.code, "BASE_TYPE_BAD_LENGTH");
        let e = with(json!([{ "type": 3, "name": "a", "description": "d", "choices": [{ "name": "x", "value": 1 }] }])).unwrap_err();
        assert_eq!(e.code, "APPLICATION_COMMAND_OPTION_CHOICE_VALUE_INVALID");
        assert!(
            with(
                json!([{ "type": 3, "name": "m", "description": "d", "required": true,
            "choices": [{ "name": "plan", "value": "plan" }] }])
            )
            .is_ok()
        );
    }
}
