//! switchboard's Discord application commands and their registration by
//! bulk overwrite (`PUT .../commands`): per guild when `discord.guild_ids`
//! lists guilds (an update shows at once there), else global. Registration
//! happens once per process, after the first READY (it gives the
//! application id); a failure is a WARN and the bot runs on without
//! commands. Owns the command definitions; never answers a command.

use reqwest::Method;
use serde_json::{Value, json};

use super::rest::{DiscordRest, RestError};
use super::route::{Route, RouteKind};
use crate::chat::command::COMMANDS;

/// The definitions, one CHAT_INPUT command per subcommand; `/mode`,
/// `/model` and `/ask` take one string option.
pub fn definitions() -> Value {
    let commands: Vec<Value> = COMMANDS
        .iter()
        .map(|(name, description)| {
            let mut command = json!({ "name": name, "type": 1, "description": description });
            let option = match *name {
                "ask" => Some(("prompt", "What to ask the agent", true)),
                "mode" => Some(("mode", "The mode's id (leave out to list them)", false)),
                "model" => Some(("model", "The model's id (leave out to list them)", false)),
                _ => None,
            };
            if let Some((option, about, required)) = option {
                command["options"] = json!([{
                    "type": 3, "name": option, "description": about, "required": required,
                }]);
            }
            command
        })
        .collect();
    Value::Array(commands)
}

impl DiscordRest {
    /// Overwrite the application's commands (in `guild`, or global).
    pub async fn overwrite_commands(
        &self,
        application_id: u64,
        guild: Option<u64>,
        commands: &Value,
    ) -> Result<(), RestError> {
        let app = application_id.to_string();
        let url = match guild {
            Some(guild) => {
                let guild = guild.to_string();
                self.url(&["applications", &app, "guilds", &guild, "commands"], &[])?
            }
            None => self.url(&["applications", &app, "commands"], &[])?,
        };
        let route = Route::channel(RouteKind::Commands, application_id);
        self.call_empty(Method::PUT, route, url, Some(commands.clone()))
            .await
    }
}

/// Register the commands where `guild_ids` says (global when empty).
pub async fn register(rest: DiscordRest, application_id: u64, guild_ids: Vec<u64>) {
    let commands = definitions();
    let scopes: Vec<Option<u64>> = if guild_ids.is_empty() {
        vec![None]
    } else {
        guild_ids.into_iter().map(Some).collect()
    };
    for scope in scopes {
        match rest
            .overwrite_commands(application_id, scope, &commands)
            .await
        {
            Ok(()) => tracing::info!(
                platform = "discord",
                scope = scope.map_or("global".to_owned(), |g| format!("guild {g}")),
                count = COMMANDS.len(),
                "slash commands registered"
            ),
            Err(err) => tracing::warn!(
                platform = "discord",
                scope = scope.map_or("global".to_owned(), |g| format!("guild {g}")),
                %err,
                "could not register the slash commands; the bot runs on without them \
                 (the bot needs the applications.commands scope in that server)"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_defined_with_its_option() {
        let defs = definitions();
        let defs = defs.as_array().unwrap();
        assert_eq!(defs.len(), COMMANDS.len());
        let ask = defs.iter().find(|c| c["name"] == "ask").unwrap();
        assert_eq!(ask["options"][0]["required"], true);
        let status = defs.iter().find(|c| c["name"] == "status").unwrap();
        assert!(status.get("options").is_none());
        assert!(
            defs.iter()
                .all(|c| c["description"].as_str().unwrap().len() <= 100)
        );
    }
}
