//! Tests of the value rules in `validate`: ids, the channel allowlist, URLs,
//! the listen address, durations and the log section.

use super::{error, parse};

#[test]
fn bad_channel_ids() {
    let base = "[discord]\ntoken = \"t\"\nallowed_channels = ";
    let message = error(&format!("{base}[\"123\", \"general\"]\n"));
    assert!(
        message.starts_with("switchboard.toml: discord.allowed_channels[1]: invalid id \"general\"; an id is a number like"),
        "{message}"
    );
    assert!(message.contains("Copy Channel ID"), "{message}");
    let message = error(&format!("{base}[-5]\n"));
    assert!(
        message.starts_with("switchboard.toml: discord.allowed_channels[0]: invalid id -5;"),
        "{message}"
    );
    let message = error(&format!("{base}[\"0\"]\n"));
    assert!(message.contains("invalid id \"0\""), "{message}");
    let message = error(&format!("{base}[\"99999999999999999999999\"]\n"));
    assert!(
        message.contains("invalid id \"99999999999999999999999\""),
        "{message}"
    );
    let message = error(&format!("{base}[\" 12\"]\n"));
    assert!(message.contains("invalid id \" 12\""), "{message}");
}

#[test]
fn empty_allowlist_needs_allow_all_channels() {
    let message = error("[discord]\ntoken = \"t\"\n");
    assert_eq!(
        message,
        "switchboard.toml: discord.allowed_channels: empty list would allow no channel; list \
         channel ids, or set allow_all_channels = true to answer in every channel"
    );
    let message = error("[discord]\ntoken = \"t\"\nallowed_channels = []\n");
    assert!(
        message.contains("empty list would allow no channel"),
        "{message}"
    );

    let config = parse("[discord]\ntoken = \"t\"\nallow_all_channels = true\n").unwrap();
    assert!(
        config.summary().contains("discord (all channels)"),
        "{}",
        config.summary()
    );

    let message =
        error("[discord]\ntoken = \"t\"\nallowed_channels = [\"1\"]\nallow_all_channels = true\n");
    assert!(
        message.starts_with("switchboard.toml: discord.allow_all_channels: is true, but allowed_channels lists 1 channel(s)"),
        "{message}"
    );
}

#[test]
fn empty_token_is_rejected() {
    let message = error("[discord]\ntoken = \"  \"\nallow_all_channels = true\n");
    assert!(
        message.starts_with("switchboard.toml: discord.token: is empty; put the bot token here"),
        "{message}"
    );
}

#[test]
fn bad_urls() {
    let base = "[discord]\ntoken = \"t\"\nallow_all_channels = true\n";
    let message = error(&format!("{base}api_url = \"ftp://127.0.0.1\"\n"));
    assert_eq!(
        message,
        "switchboard.toml: discord.api_url: \"ftp://127.0.0.1\" has scheme \"ftp\"; it must start with http:// or https://"
    );
    let message = error(&format!("{base}api_url = \"http://127.0.0.1:1/api/v10\"\n"));
    assert!(
        message.starts_with(
            "switchboard.toml: discord.api_url: \"http://127.0.0.1:1/api/v10\" has a path"
        ),
        "{message}"
    );
    let message = error(&format!("{base}gateway_url = \"http://127.0.0.1:1\"\n"));
    assert!(
        message.starts_with("switchboard.toml: discord.gateway_url: "),
        "{message}"
    );
    assert!(
        message.contains("it must start with ws:// or wss://"),
        "{message}"
    );
    let message = error(&format!("{base}gateway_url = \"\"\n"));
    assert!(
        message.starts_with("switchboard.toml: discord.gateway_url: invalid URL \"\""),
        "{message}"
    );
}

#[test]
fn bad_listen_address() {
    let message = error("[admin]\nlisten = \"${ADMIN_LISTEN}\"\n");
    // Short or non-secret-looking env values are still redacted by name.
    assert!(
        message.starts_with(
            "switchboard.toml: admin.listen: invalid socket address \"<value of $ADMIN_LISTEN>\": "
        ),
        "{message}"
    );
    let message = error("[admin]\nlisten = \"localhost:99999\"\n");
    assert!(
        message.starts_with(
            "switchboard.toml: admin.listen: invalid socket address \"localhost:99999\": "
        ),
        "{message}"
    );
    assert!(
        message.contains("write IP:PORT, e.g. \"127.0.0.1:9464\""),
        "{message}"
    );
}

#[test]
fn durations_and_their_rules() {
    let message = error("[supervisor]\nprobe_after = \"10\"\n");
    assert!(
        message.starts_with("switchboard.toml: supervisor.probe_after: invalid duration \"10\": "),
        "{message}"
    );
    assert!(message.contains("e.g. \"500ms\", \"10s\""), "{message}");
    let message = error("[supervisor]\nack_deadline = \"0s\"\n");
    assert_eq!(
        message,
        "switchboard.toml: supervisor.ack_deadline: is \"0s\", but must be longer than zero"
    );
    let message = error("[supervisor]\nbackoff_initial = \"2m\"\nbackoff_max = \"90s\"\n");
    assert_eq!(
        message,
        "switchboard.toml: supervisor.backoff_initial: is 2m, longer than backoff_max (1m 30s); \
         the first retry delay must not exceed the cap"
    );
    let config = parse("[supervisor]\nbackoff_initial = \"1m\"\nbackoff_max = \"1m\"\n").unwrap();
    assert_eq!(
        config.supervisor.backoff_initial,
        config.supervisor.backoff_max
    );
}

#[test]
fn log_section_values() {
    let message = error("[log]\nformat = \"yaml\"\n");
    assert_eq!(
        message,
        "switchboard.toml: log.format: unknown log format \"yaml\" (expected one of: text, json)"
    );
    let message = error("[log]\nlevel = \"switchboard=loud\"\n");
    assert!(
        message.starts_with("switchboard.toml: log.level: invalid filter \"switchboard=loud\": "),
        "{message}"
    );
    let message = error("[log]\nlevel = \"\"\n");
    assert!(
        message.contains("invalid filter \"\": it is empty"),
        "{message}"
    );
}
