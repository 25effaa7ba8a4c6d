//! Whole-file tests of `Config::from_toml_str` / `load` / `check`: every
//! assertion is on the message a person would read. Here: valid files,
//! defaults, redaction of the whole config, syntax and file errors; `shape`:
//! expansion, unknown keys, types; `values`: the value rules of `validate`.

use super::*;

mod safety;
mod shape;
mod slack;
mod store;
mod values;

const TOKEN: &str = "MTIzNDU2Nzg5.GhIjKl.super-secret-token-value";

fn env(name: &str) -> Option<String> {
    match name {
        "DISCORD_BOT_TOKEN" => Some(TOKEN.to_owned()),
        "SIM_PORT" => Some("4567".to_owned()),
        "ADMIN_LISTEN" => Some("localhost:99999".to_owned()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::from_toml_str(text, "switchboard.toml", &env)
}

/// The error message for `text`, which must be rejected; never contains the token.
fn error(text: &str) -> String {
    let message = parse(text)
        .expect_err("config should be rejected")
        .to_string();
    assert!(!message.contains(TOKEN), "token leaked: {message}");
    assert!(!message.contains("super-secret"), "token leaked: {message}");
    message
}

const DISCORD_OK: &str = r#"
[discord]
token = "${DISCORD_BOT_TOKEN}"
allowed_channels = ["123456789012345678"]
allow_all_users = true

[agent]
command = "my-acp-agent"
cwd = "/srv/work"
"#;

#[test]
fn full_valid_file() {
    let config = parse(
        r#"
[discord]
token = "${DISCORD_BOT_TOKEN}"
allowed_channels = ["123456789012345678", 876543210987654321]
allow_all_channels = false
api_url = "http://127.0.0.1:${SIM_PORT}/"
gateway_url = "ws://127.0.0.1:${SIM_PORT}"
allowed_users = ["42", 43]
mention_roles = ["77"]
allow_bot_messages = "mentions"
trusted_bot_ids = ["99"]

[discord.reactions]
done = "👍"

[broker]
max_bot_turns = 5
max_queued = 7
edit_interval = "2s"
catch_up_max_pages = 3
catch_up_max_time = "5s"
tool_display = "full"

[agent]
command = "my-agent"
args = ["--acp"]
cwd = "/srv/work"
env = { API_KEY = "k" }
permission_policy = "deny"
turn_idle_timeout = "1m"
max_sessions = 3
idle_ttl = "1h"
mcp_servers = [{ name = "fs", command = "mcp-fs", args = [], env = [] }]

[admin]
listen = "0.0.0.0:9000"

[log]
format = "json"
level = "info,switchboard=debug"

[supervisor]
backoff_initial = "500ms"
backoff_max = "30s"
healthy_reset = "2m"
probe_after = "8s"
ack_deadline = "3s"
summary_interval = "10m"
handshake_timeout = "20s"
"#,
    )
    .unwrap();
    let discord = config.discord.as_ref().unwrap();
    assert_eq!(discord.token.expose(), TOKEN);
    assert_eq!(
        discord.gating.allowed_channels,
        ["123456789012345678", "876543210987654321"]
    );
    assert!(!discord.gating.allow_all_channels);
    assert_eq!(discord.gating.allowed_users, ["42", "43"]);
    assert_eq!(discord.gating.mention_roles, ["77"]);
    assert_eq!(discord.gating.allow_bot_messages, BotMessages::Mentions);
    assert_eq!(discord.gating.trusted_bot_ids, ["99"]);
    assert_eq!(discord.reactions.done, "👍");
    assert_eq!(discord.reactions.error, "❌");
    assert_eq!(config.broker.max_bot_turns, 5);
    assert_eq!(config.broker.max_queued, 7);
    assert_eq!(config.broker.catch_up_max_pages, 3);
    assert_eq!(config.broker.catch_up_max_time, Duration::from_secs(5));
    assert_eq!(config.broker.edit_interval, Duration::from_secs(2));
    assert_eq!(config.broker.tool_display, "full");
    let agent = config.agent.as_ref().unwrap();
    assert_eq!(
        (agent.command.as_str(), agent.args.as_slice()),
        ("my-agent", &["--acp".to_owned()][..])
    );
    assert_eq!(agent.cwd, std::path::PathBuf::from("/srv/work"));
    assert_eq!(agent.env["API_KEY"].expose(), "k");
    assert_eq!(agent.permission_policy, "deny");
    assert_eq!(agent.turn_idle_timeout, Duration::from_secs(60));
    assert_eq!(agent.cancel_grace, Duration::from_secs(5));
    assert_eq!(
        (agent.max_sessions, agent.idle_ttl),
        (3, Duration::from_secs(3600))
    );
    assert_eq!(agent.mcp_servers[0]["name"], "fs");
    assert_eq!(discord.api_url, "http://127.0.0.1:4567");
    assert_eq!(discord.gateway_url.as_deref(), Some("ws://127.0.0.1:4567"));
    assert_eq!(config.admin.listen, "0.0.0.0:9000".parse().unwrap());
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, "info,switchboard=debug");
    let s = config.supervisor;
    assert_eq!(s.backoff_initial, Duration::from_millis(500));
    assert_eq!(s.backoff_max, Duration::from_secs(30));
    assert_eq!(s.healthy_reset, Duration::from_secs(120));
    assert_eq!(s.probe_after, Duration::from_secs(8));
    assert_eq!(s.ack_deadline, Duration::from_secs(3));
    assert_eq!(s.summary_interval, Duration::from_secs(600));
    assert_eq!(s.handshake_timeout, Duration::from_secs(20));
    assert_eq!(config.source, "switchboard.toml");
    assert_eq!(
        config.summary(),
        "ok: switchboard.toml: discord (2 allowed channels), admin on 0.0.0.0:9000"
    );
}

#[test]
fn defaults() {
    let config = parse(DISCORD_OK).unwrap();
    let discord = config.discord.as_ref().unwrap();
    assert_eq!(discord.api_url, "https://discord.com");
    assert_eq!(discord.gateway_url, None);
    assert_eq!(config.admin.listen.to_string(), "127.0.0.1:9464");
    assert_eq!(config.log.format, LogFormat::Text);
    assert_eq!(config.log.level, "info");
    assert_eq!(config.supervisor, SupervisorConfig::default());
    assert_eq!(config.supervisor.backoff_max, Duration::from_secs(60));
    assert_eq!(config.supervisor.summary_interval, Duration::from_secs(300));
    assert_eq!(
        config.summary(),
        "ok: switchboard.toml: discord (1 allowed channel), admin on 127.0.0.1:9464"
    );

    let empty = Config::from_toml_str("", EMBEDDED, &env).unwrap();
    assert_eq!(empty.discord, None);
    assert_eq!(
        empty.summary(),
        "ok: <embedded>: no chat platform configured, admin on 127.0.0.1:9464"
    );
}

#[test]
fn config_debug_never_shows_the_token() {
    let config = parse(DISCORD_OK).unwrap();
    for printed in [format!("{config:?}"), format!("{config:#?}")] {
        assert!(!printed.contains(TOKEN), "{printed}");
        assert!(printed.contains("token: <redacted>"), "{printed}");
    }
}

#[test]
fn syntax_error_has_line_number_and_no_snippet() {
    let text = format!("[discord]\nallow_all_channels = true\ntoken = \"{TOKEN}\n");
    let message = error(&text);
    assert!(
        message.starts_with("switchboard.toml: line 3, column "),
        "{message}"
    );
    assert!(message.contains(": TOML syntax error: "), "{message}");
    let message = error("[admin]\nlisten = \"127.0.0.1:1\"\n[admin]\n");
    assert_eq!(
        message,
        "switchboard.toml: line 3, column 2: TOML syntax error: duplicate key"
    );
}

#[test]
fn load_and_check_read_files() {
    let dir = std::env::temp_dir().join(format!("switchboard-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let missing = dir.join("missing.toml");
    let message = check(&missing).unwrap_err().to_string();
    assert_eq!(
        message,
        format!(
            "{}: config file not found; create it, or pass another with --config FILE \
             (`switchboard check --config FILE` validates a file without connecting)",
            missing.display()
        )
    );

    let file = dir.join("ok.toml");
    std::fs::write(
        &file,
        "[discord]\ntoken = \"t\"\nallowed_channels = [\"1\", 2, \"3\"]\nallow_all_users = true\n\n[agent]\ncommand = \"agent\"\ncwd = \"/srv/work\"\n",
    )
    .unwrap();
    assert_eq!(
        check(&file).unwrap(),
        format!(
            "ok: {}: discord (3 allowed channels), admin on 127.0.0.1:9464",
            file.display()
        )
    );

    let message = check(&dir).unwrap_err().to_string();
    assert!(
        message.starts_with(&format!("{}: cannot read config file: ", dir.display())),
        "{message}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
