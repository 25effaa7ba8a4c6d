//! Tests of the file's shape: `${VAR}` expansion, unknown and missing keys,
//! wrong types, and that none of these errors echoes the token.

use super::{TOKEN, error, parse};

#[test]
fn expansion_and_the_escape() {
    let config = parse(
        r#"
[discord]
token = "${DISCORD_BOT_TOKEN}"
allowed_channels = ["${SIM_PORT}"]
api_url = "http://127.0.0.1:${SIM_PORT}"
allow_all_users = true

[agent]
command = "agent"
cwd = "/srv/work"
"#,
    );
    let config = config.unwrap();
    let discord = config.discord.unwrap();
    assert_eq!(discord.token.expose(), TOKEN);
    assert_eq!(discord.gating.allowed_channels, ["4567"]);
    assert_eq!(discord.api_url, "http://127.0.0.1:4567");
    // `$${` stays a literal `${`; a lone `$` is kept.
    let config = parse(
        "[discord]\ntoken = \"a$${NOT_EXPANDED}b$c\"\nallow_all_channels = true\nallow_all_users = true\n[agent]\ncommand = \"a\"\ncwd = \"/srv/work\"\n",
    );
    assert_eq!(
        config.unwrap().discord.unwrap().token.expose(),
        "a${NOT_EXPANDED}b$c"
    );
}

#[test]
fn malformed_reference_is_reported_not_kept() {
    // `${NAME:-default}` (shell syntax) is not supported: it is an error.
    let message = error("[log]\nlevel = \"${LEVEL:-info}\"\n");
    assert_eq!(
        message,
        "switchboard.toml: log.level: `${LEVEL:-info}` is not a variable reference (a name is \
         a letter or _, then letters, digits or _) (write $${ for a literal ${)"
    );
    let message = error("[log]\nlevel = \"${LEVEL\"\n");
    assert_eq!(
        message,
        "switchboard.toml: log.level: `${` without a closing `}` (write $${ for a literal ${)"
    );
}

#[test]
fn unset_variable_is_named_with_its_key() {
    let message =
        error("[discord]\ntoken = \"${DISCORD_TOKEN_TYPO}\"\nallow_all_channels = true\n");
    assert_eq!(
        message,
        "switchboard.toml: discord.token: environment variable DISCORD_TOKEN_TYPO is not set \
         (set it, or put the value in the file)"
    );
    let message = error("[discord]\ntoken = \"t\"\nallowed_channels = [\"1\", \"${CHAN}\"]\n");
    assert!(
        message.starts_with(
            "switchboard.toml: discord.allowed_channels[1]: environment variable CHAN is not set"
        ),
        "{message}"
    );
}

#[test]
fn unknown_key_at_top_level() {
    let message = error("[discrod]\ntoken = \"x\"\n");
    assert_eq!(
        message,
        "switchboard.toml: discrod: unknown key (expected one of: discord, slack, admin, log, supervisor, broker, agent, store, canary, cluster)"
    );
}

#[test]
fn unknown_key_nested() {
    let message = error("[discord]\ntokn = \"${DISCORD_BOT_TOKEN}\"\n");
    assert_eq!(
        message,
        "switchboard.toml: discord.tokn: unknown key (expected one of: token, allowed_channels, \
         allow_all_channels, api_url, gateway_url, allowed_users, allow_all_users, mention_roles, \
         allow_bot_messages, trusted_bot_ids, reactions, approvers, guild_ids, shards)"
    );
    let message = error("[supervisor]\nbackoff = \"1s\"\n");
    assert!(message.starts_with("switchboard.toml: supervisor.backoff: unknown key (expected one of: backoff_initial, backoff_max,"), "{message}");
}

#[test]
fn missing_token() {
    let message = error("[discord]\nallow_all_channels = true\n");
    assert_eq!(
        message,
        "switchboard.toml: discord.token: required key is missing"
    );
}

#[test]
fn wrong_types_name_key_and_expected_type() {
    let message = error("[discord]\ntoken = \"t\"\nallow_all_channels = \"yes\"\n");
    assert_eq!(
        message,
        "switchboard.toml: discord.allow_all_channels: wrong type: expected a boolean, found a string"
    );
    let message = error("[discord]\ntoken = 5\nallow_all_channels = true\n");
    assert_eq!(
        message,
        "switchboard.toml: discord.token: wrong type: expected a string, found integer `5`"
    );
    let message = error("[discord]\ntoken = \"t\"\nallowed_channels = \"123\"\n");
    assert_eq!(
        message,
        "switchboard.toml: discord.allowed_channels: wrong type: expected an array, found a string"
    );
    let message = error("[discord]\ntoken = \"t\"\nallowed_channels = [1.5]\n");
    assert!(message.starts_with("switchboard.toml: discord.allowed_channels[0]: wrong type: expected an id (a string of digits, or an integer), found floating point"), "{message}");
    let message = error("discord = 3\n");
    assert_eq!(
        message,
        "switchboard.toml: discord: wrong type: expected a table, found integer `3`"
    );
    let message = error("[supervisor]\nprobe_after = 10\n");
    assert_eq!(
        message,
        "switchboard.toml: supervisor.probe_after: wrong type: expected a string, found integer `10`"
    );
}

#[test]
fn token_in_a_wrong_typed_field_is_not_echoed() {
    let message = error(&format!(
        "[discord]\ntoken = \"x\"\nallowed_channels = \"{TOKEN}\"\n"
    ));
    assert!(
        message.contains("discord.allowed_channels: wrong type"),
        "{message}"
    );
    let message =
        error("[discord]\ntoken = \"x\"\nallow_all_channels = \"${DISCORD_BOT_TOKEN}\"\n");
    assert!(
        message.contains("discord.allow_all_channels: wrong type"),
        "{message}"
    );
    // A value check that quotes its input shows the variable's name instead.
    let message = error(
        "[discord]\ntoken = \"x\"\nallow_all_channels = true\napi_url = \"${DISCORD_BOT_TOKEN}\"\n",
    );
    assert!(
        message.starts_with("switchboard.toml: discord.api_url: "),
        "{message}"
    );
    assert!(
        message.contains("<value of $DISCORD_BOT_TOKEN>"),
        "{message}"
    );
    // The literal token, copied into another key, is redacted.
    let message = error(&format!(
        "[discord]\ntoken = \"{TOKEN}\"\nallow_all_channels = true\n[admin]\nlisten = \"{TOKEN}\"\n"
    ));
    assert!(
        message.contains("invalid socket address \"<redacted>\""),
        "{message}"
    );
}
