//! Tests of the value rules in `validate`: ids, the channel allowlist, URLs,
//! the listen address, durations and the log section.

use std::time::Duration;

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
         channel ids, or set discord.allow_all_channels = true to allow every channel"
    );
    let message = error("[discord]\ntoken = \"t\"\nallowed_channels = []\n");
    assert!(
        message.contains("empty list would allow no channel"),
        "{message}"
    );

    let config = parse(
        "[discord]\ntoken = \"t\"\nallow_all_channels = true\nallow_all_users = true\n[agent]\ncommand = \"a\"\ncwd = \"/srv/work\"\n",
    )
    .unwrap();
    assert!(
        config.summary().contains("discord (all channels)"),
        "{}",
        config.summary()
    );

    let message =
        error("[discord]\ntoken = \"t\"\nallowed_channels = [\"1\"]\nallow_all_channels = true\n");
    assert!(
        message.starts_with("switchboard.toml: discord.allow_all_channels: is true, but discord.allowed_channels lists 1 channel(s)"),
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

#[test]
fn empty_user_allowlist_needs_allow_all_users() {
    let base = "[discord]\ntoken = \"t\"\nallowed_channels = [\"1\"]\n";
    let message = error(base);
    assert_eq!(
        message,
        "switchboard.toml: discord.allowed_users: empty list would allow no user; list user ids, \
         or set discord.allow_all_users = true to allow every user"
    );
    let message = error(&format!("{base}allowed_users = [\"5\"]\n"));
    assert!(
        message.starts_with("switchboard.toml: agent: missing section"),
        "{message}"
    );
}

#[test]
fn bridge_values_are_checked() {
    let base = "[discord]\ntoken = \"t\"\nallowed_channels = [\"1\"]\nallow_all_users = true\n";
    let with = |extra: &str| error(&format!("{base}{extra}"));
    assert_eq!(
        with("allow_bot_messages = \"some\"\n[agent]\ncommand = \"a\"\n"),
        "switchboard.toml: discord.allow_bot_messages: unknown value \"some\" (expected one of: none, mentions, all)"
    );
    assert_eq!(
        with("[agent]\ncommand = \"a\"\npermission_policy = \"yolo\"\n"),
        "switchboard.toml: agent.permission_policy: unknown value \"yolo\" (expected one of: ask, allow, deny, allow_reads)"
    );
    assert!(
        with("[agent]\ncommand = \" \"\n").starts_with("switchboard.toml: agent.command: is empty")
    );
    assert!(
        with("[agent]\ncommand = \"a\"\nmax_sessions = 0\n")
            .starts_with("switchboard.toml: agent.max_sessions: is 0")
    );
    assert!(
        with("[agent]\ncommand = \"a\"\nmcp_servers = [{ command = \"x\" }]\n")
            .contains("agent.mcp_servers[0]: needs a \"name\"")
    );
    assert_eq!(
        with("[broker]\ntool_display = \"loud\"\n[agent]\ncommand = \"a\"\n"),
        "switchboard.toml: broker.tool_display: unknown value \"loud\" (expected one of: full, compact, none)"
    );
    for n in ["0", "1001", "-3"] {
        assert!(
            with(&format!(
                "[broker]\nmax_queued = {n}\n[agent]\ncommand = \"a\"\n"
            ))
            .starts_with(&format!(
                "switchboard.toml: broker.max_queued: is {n}; use 1 to 1000"
            )),
            "{n}"
        );
    }
    for n in ["0", "1001"] {
        assert!(
            with(&format!(
                "[broker]\ncatch_up_max_pages = {n}\n[agent]\ncommand = \"a\"\n"
            ))
            .starts_with(&format!(
                "switchboard.toml: broker.catch_up_max_pages: is {n}; use 1 to 1000"
            )),
            "{n}"
        );
    }
    assert!(
        with("[broker]\ncatch_up_max_time = \"0s\"\n[agent]\ncommand = \"a\"\n").starts_with(
            "switchboard.toml: broker.catch_up_max_time: is \"0s\", but must be longer than zero"
        )
    );
    assert!(
        with("[discord.reactions]\ndone = \"\"\n[agent]\ncommand = \"a\"\n")
            .starts_with("switchboard.toml: discord.reactions.done: is empty")
    );
}

#[test]
fn agent_cwd_is_resolved_against_the_config_file() {
    let text = "[agent]\ncommand = \"a\"\ncwd = \"work\"\n";
    let config =
        super::Config::from_toml_str(text, "/etc/switchboard/switchboard.toml", &|_| None).unwrap();
    assert_eq!(
        config.agent.unwrap().cwd,
        std::path::PathBuf::from("/etc/switchboard/work")
    );
}

#[test]
fn a_relative_agent_command_path_is_resolved_against_the_config_file() {
    let command = |value: &str| {
        let text = format!("[agent]\ncommand = {value:?}\ncwd = \"/srv/work\"\n");
        super::Config::from_toml_str(&text, "/etc/switchboard/switchboard.toml", &|_| None)
            .unwrap()
            .agent
            .unwrap()
            .command
    };
    assert_eq!(command("./bin/agent"), "/etc/switchboard/bin/agent");
    assert_eq!(command("bin/agent"), "/etc/switchboard/bin/agent");
    assert_eq!(command("/opt/agent"), "/opt/agent");
    // A bare name is for PATH, looked up when the agent starts.
    assert_eq!(command("npx"), "npx");
}

#[test]
fn approvers_and_the_permission_settings_are_read_and_the_other_platforms_word_is_refused() {
    let discord = "[discord]\ntoken = \"t\"\nallowed_channels = [\"1\"]\nallow_all_users = true\n";
    let agent = "[agent]\ncommand = \"a\"\ncwd = \"/srv/work\"\n";
    let config = parse(&format!(
        "{discord}approvers = {{ users = [\"7\"], roles = [\"555\"] }}\n{agent}permission_timeout = \"90s\"\n"
    ))
    .unwrap();
    let gating = &config.discord.as_ref().unwrap().gating;
    assert_eq!(gating.approver_users, ["7"]);
    assert_eq!(gating.approver_groups, ["555"]);
    let agent_config = config.agent.as_ref().unwrap();
    assert_eq!(agent_config.permission_policy, "ask", "ask by default");
    assert_eq!(agent_config.permission_timeout, Duration::from_secs(90));
    assert_eq!(
        error(&format!(
            "{discord}approvers = {{ groups = [\"555\"] }}\n{agent}"
        )),
        "switchboard.toml: discord.approvers.groups: is not a discord setting; list these ids in discord.approvers.roles"
    );
    let slack = "[slack]\nbot_token = \"xoxb-1\"\napp_token = \"xapp-1\"\nallowed_channels = [\"C1\"]\nallow_all_users = true\n";
    assert_eq!(
        error(&format!(
            "{slack}approvers = {{ roles = [\"S1\"] }}\n{agent}"
        )),
        "switchboard.toml: slack.approvers.roles: is not a slack setting; list these ids in slack.approvers.groups"
    );
}

#[test]
fn discord_shards_through_the_whole_file() {
    use crate::config::DiscordShards;
    let with = |value: &str| {
        super::DISCORD_OK.replacen(
            "allow_all_users = true\n",
            &format!("allow_all_users = true\nshards = {value}\n"),
            1,
        )
    };
    let shards = |text: &str| parse(text).unwrap().discord.unwrap().shards;
    assert_eq!(
        shards(super::DISCORD_OK),
        DiscordShards::Count(1),
        "default"
    );
    assert_eq!(shards(&with("3")), DiscordShards::Count(3));
    assert_eq!(shards(&with("\"auto\"")), DiscordShards::Auto);
    let summary = parse(&with("\"auto\"")).unwrap().summary();
    assert!(
        summary.contains("discord, shards \"auto\" (1 allowed channel)"),
        "{summary}"
    );
    let summary = parse(super::DISCORD_OK).unwrap().summary();
    assert!(summary.contains("discord (1 allowed channel)"), "{summary}");
    let message = error(&with("\"many\""));
    assert!(
        message.starts_with(
            "switchboard.toml: discord.shards: is \"many\"; use a whole number from 1 to 256"
        ),
        "{message}"
    );
    assert!(message.contains("or the string \"auto\""), "{message}");
}
