//! `discord.shards`: how many gateway shards this bot runs, a number
//! (1 by default: one shard, no extra REST call) or `"auto"` (Discord's
//! recommendation from `GET /gateway/bot`, read at start).
//!
//! Owns the key's two accepted forms and their bounds; it must never reach
//! Discord (the app asks `/gateway/bot` when the config says so).

use super::ConfigError;

/// The most shards one instance runs: each is a gateway connection with
/// its own tasks (Discord recommends one shard per 1,000 guilds or so).
pub const MAX_DISCORD_SHARDS: u32 = 256;

/// What `discord.shards` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiscordShards {
    /// Exactly this many (1 = today's single shard).
    Count(u32),
    /// As many as `GET /gateway/bot` recommends.
    Auto,
}

impl Default for DiscordShards {
    fn default() -> Self {
        DiscordShards::Count(1)
    }
}

impl DiscordShards {
    /// Whether running it needs `GET /gateway/bot` (anything but one shard:
    /// the count, or the identify pacing several shards share).
    pub fn needs_gateway_bot(self) -> bool {
        self != DiscordShards::Count(1)
    }
}

impl std::fmt::Display for DiscordShards {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DiscordShards::Count(n) => write!(f, "{n}"),
            DiscordShards::Auto => f.write_str("\"auto\""),
        }
    }
}

/// The key's value as written (absent = 1).
pub(super) fn discord_shards(
    raw: Option<&toml::Value>,
    file: &str,
) -> Result<DiscordShards, ConfigError> {
    let refuse = |what: String| {
        ConfigError::invalid(
            file,
            "discord.shards",
            format!(
                "is {what}; use a whole number from 1 to {MAX_DISCORD_SHARDS} (e.g. shards = 4) \
                 or the string \"auto\" (Discord's recommended count from GET /gateway/bot)"
            ),
        )
    };
    match raw {
        None => Ok(DiscordShards::default()),
        Some(toml::Value::Integer(n)) => match u32::try_from(*n) {
            Ok(n) if (1..=MAX_DISCORD_SHARDS).contains(&n) => Ok(DiscordShards::Count(n)),
            _ => Err(refuse(n.to_string())),
        },
        Some(toml::Value::String(text)) if text == "auto" => Ok(DiscordShards::Auto),
        Some(toml::Value::String(text)) => Err(refuse(format!("{text:?}"))),
        Some(other) => Err(refuse(format!("{other} (a {})", other.type_str()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<DiscordShards, String> {
        let table: toml::Table = toml::from_str(text).unwrap();
        discord_shards(table.get("shards"), "test.toml").map_err(|e| e.to_string())
    }

    #[test]
    fn absent_is_one_shard_and_needs_no_rest_call() {
        let table = toml::Table::new();
        let shards = discord_shards(table.get("shards"), "t").unwrap();
        assert_eq!(shards, DiscordShards::Count(1));
        assert!(!shards.needs_gateway_bot());
    }

    #[test]
    fn a_number_or_auto_is_accepted() {
        assert_eq!(parse("shards = 1"), Ok(DiscordShards::Count(1)));
        assert_eq!(parse("shards = 4"), Ok(DiscordShards::Count(4)));
        assert_eq!(parse("shards = 256"), Ok(DiscordShards::Count(256)));
        assert_eq!(parse("shards = \"auto\""), Ok(DiscordShards::Auto));
        assert!(DiscordShards::Count(2).needs_gateway_bot());
        assert!(DiscordShards::Auto.needs_gateway_bot());
    }

    #[test]
    fn anything_else_names_the_key_and_both_forms() {
        for bad in [
            "shards = 0",
            "shards = -2",
            "shards = 257",
            "shards = \"4\"",
            "shards = \"Auto\"",
            "shards = 2.5",
            "shards = true",
            "shards = [2]",
        ] {
            let err = parse(bad).expect_err(bad);
            assert!(err.contains("discord.shards"), "{bad}: {err}");
            assert!(err.contains("whole number from 1 to 256"), "{bad}: {err}");
            assert!(err.contains("\"auto\""), "{bad}: {err}");
        }
    }
}
