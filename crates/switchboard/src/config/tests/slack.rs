//! `[slack]`: tokens of the right kind, Slack ids, connections, and both
//! platforms in one file.

use super::*;

const BOT: &str = "xoxb-1111-2222-secret-bot-token";
const APP: &str = "xapp-1-A111-secret-app-token";

fn slack_env(name: &str) -> Option<String> {
    match name {
        "SLACK_BOT_TOKEN" => Some(BOT.to_owned()),
        "SLACK_APP_TOKEN" => Some(APP.to_owned()),
        other => env(other),
    }
}

fn parse_slack(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, "switchboard.toml", &slack_env)
}

fn slack_error(text: &str) -> String {
    let message = parse_slack(text)
        .expect_err("config should be rejected")
        .to_string();
    for secret in [BOT, APP, "secret-bot", "secret-app"] {
        assert!(!message.contains(secret), "token leaked: {message}");
    }
    message
}

fn section(body: &str) -> String {
    format!("[slack]\n{body}\n\n[agent]\ncommand = \"my-acp-agent\"\ncwd = \"/srv/work\"\n")
}

const TOKENS: &str = "bot_token = \"${SLACK_BOT_TOKEN}\"\napp_token = \"${SLACK_APP_TOKEN}\"\n";

#[test]
fn slack_section_with_defaults() {
    let config = parse_slack(&section(&format!(
        "{TOKENS}allowed_channels = [\"C0123456789\"]\nallow_all_users = true"
    )))
    .expect("valid");
    let slack = config.slack.expect("slack configured");
    assert_eq!(slack.bot_token.expose(), BOT);
    assert_eq!(slack.app_token.expose(), APP);
    assert_eq!(slack.api_url, DEFAULT_SLACK_API_URL);
    assert_eq!(slack.connections, 2);
    assert!(slack.gating.mention_roles.is_empty());
    let proxied = parse_slack(&section(&format!(
        "{TOKENS}allowed_channels = [\"C1\"]\nallow_all_users = true\napi_url = \"http://127.0.0.1:4567/api/\""
    )))
    .expect("valid");
    assert_eq!(
        proxied.slack.map(|s| s.api_url).as_deref(),
        Some("http://127.0.0.1:4567/api")
    );
    assert_eq!(slack.gating.allowed_channels, vec!["C0123456789"]);
    assert_eq!(slack.reactions, Reactions::slack_default());
    assert!(config.discord.is_none());
    let debug = format!("{:?}", slack.bot_token);
    assert!(!debug.contains("xoxb"), "{debug}");
}

#[test]
fn slack_values_are_checked() {
    let body = |extra: &str| section(&format!("{TOKENS}allow_all_users = true\n{extra}"));
    let cases = [
        (
            body("allowed_channels = [\"general\"]"),
            "slack.allowed_channels[0]: invalid id \"general\"; a Slack id looks like \"C0123456789\"",
        ),
        (
            body(""),
            "slack.allowed_channels: empty list would allow no channel",
        ),
        (
            body("allowed_channels = [\"C1\"]\nconnections = 0"),
            "slack.connections: is 0; use 1 to 10",
        ),
        (
            body("allowed_channels = [\"C1\"]\napi_url = \"slack.com/api\""),
            "slack.api_url: invalid URL \"slack.com/api\"",
        ),
        (
            body("allowed_channels = [\"C1\"]\napi_url = \"ftp://127.0.0.1/api\""),
            "slack.api_url: \"ftp://127.0.0.1/api\" has scheme \"ftp\"",
        ),
        (
            body("allowed_channels = [\"C1\"]\nreactions = { done = \" \" }"),
            "slack.reactions.done: is empty; give an emoji such as \"white_check_mark\"",
        ),
        (
            section(
                "bot_token = \"${SLACK_APP_TOKEN}\"\napp_token = \"${SLACK_APP_TOKEN}\"\nallowed_channels = [\"C1\"]\nallow_all_users = true",
            ),
            "slack.bot_token: does not start with \"xoxb-\" (this is an app-level token: it belongs in slack.app_token)",
        ),
        (
            section(
                "bot_token = \"${SLACK_BOT_TOKEN}\"\napp_token = \"${SLACK_BOT_TOKEN}\"\nallowed_channels = [\"C1\"]\nallow_all_users = true",
            ),
            "slack.app_token: does not start with \"xapp-\" (this is a bot token: it belongs in slack.bot_token)",
        ),
        (
            section(
                "bot_token = \"\"\napp_token = \"${SLACK_APP_TOKEN}\"\nallowed_channels = [\"C1\"]\nallow_all_users = true",
            ),
            "slack.bot_token: is empty; put the Bot User OAuth Token",
        ),
        (
            section(&format!(
                "{TOKENS}allowed_channels = [\"C1\"]\nallow_all_users = true\nmention_roles = [\"@devs\"]"
            )),
            "slack.mention_roles[0]: invalid id \"@devs\"",
        ),
    ];
    for (text, expected) in cases {
        let message = slack_error(&text);
        assert!(
            message.contains(expected),
            "{expected:?} not in {message:?}"
        );
    }
}

#[test]
fn slack_needs_an_agent() {
    let message = slack_error(&format!(
        "[slack]\n{TOKENS}allowed_channels = [\"C1\"]\nallow_all_users = true\n"
    ));
    assert!(message.contains("agent: missing section"), "{message}");
}

#[test]
fn discord_and_slack_together() {
    let text = format!(
        "{DISCORD_OK}\n[slack]\n{TOKENS}allowed_channels = [\"C1\"]\nallow_all_users = true\nconnections = 3\n"
    );
    let config = parse_slack(&text).expect("valid");
    assert!(config.discord.is_some());
    assert_eq!(config.slack.as_ref().map(|s| s.connections), Some(3));
    assert_eq!(
        config.summary(),
        "ok: switchboard.toml: discord (1 allowed channel), slack (1 allowed channel), admin on 127.0.0.1:9464"
    );
}

#[test]
fn a_literal_slack_token_in_an_error_is_redacted() {
    let text = "[slack]\nbot_token = \"xoxb-literal-secret-1\"\napp_token = \"xapp-literal-secret-2\"\nallowed_channels = [\"C1\"]\nallow_all_users = true\nbogus = \"xoxb-literal-secret-1\"\n[agent]\ncommand = \"a\"\n";
    let message = parse_slack(text).expect_err("unknown key").to_string();
    assert!(message.contains("bogus"), "{message}");
    assert!(!message.contains("literal-secret"), "{message}");
}
