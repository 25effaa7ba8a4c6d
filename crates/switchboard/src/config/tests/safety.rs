//! The safer defaults (issue 11 point 9) and the agent's message bound
//! (point 2): `store.data_dir` outside `agent.cwd`, `agent.env` values as
//! secrets, bots heard only from `trusted_bot_ids`, and
//! `agent.max_message_size`.

use super::*;

/// A Discord section, then `rest` (from `[agent]` on).
fn with_agent(rest: &str) -> String {
    format!(
        "[discord]\ntoken = \"${{DISCORD_BOT_TOKEN}}\"\nallowed_channels = [\"1\"]\n\
         allow_all_users = true\n\n{rest}"
    )
}

/// Parse as if read from `dir/switchboard.toml`.
fn parse_in(dir: &std::path::Path, text: &str) -> Result<Config, ConfigError> {
    let file = dir.join("switchboard.toml").display().to_string();
    Config::from_toml_str(text, &file, &env)
}

#[test]
fn a_data_dir_inside_the_agent_cwd_is_refused_with_the_risk_and_the_fixes() {
    let dir = tempfile::tempdir().unwrap();
    // The defaults: the agent works in the file's folder, the store is
    // ./switchboard-data next to the file.
    let message = parse_in(dir.path(), &with_agent("[agent]\ncommand = \"a\"\n"))
        .unwrap_err()
        .to_string();
    let real = dir.path().canonicalize().unwrap();
    assert!(
        message.contains(&format!(
            "store.data_dir: {} is inside the agent's working directory {} (agent.cwd",
            real.join("switchboard-data").display(),
            real.display()
        )),
        "{message}"
    );
    for needle in [
        "every user's prompts",
        "Set store.data_dir to a directory outside",
        "store.allow_inside_agent_cwd = true",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
    assert!(!message.contains(TOKEN), "{message}");

    // Explicitly accepted.
    let config = parse_in(
        dir.path(),
        &with_agent("[agent]\ncommand = \"a\"\n\n[store]\nallow_inside_agent_cwd = true\n"),
    )
    .unwrap();
    assert!(config.store.allow_inside_agent_cwd);

    // The store beside the agent's folder, not in it.
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let config = parse_in(
        dir.path(),
        &with_agent("[agent]\ncommand = \"a\"\ncwd = \"work\"\n"),
    )
    .unwrap();
    assert!(!config.store.allow_inside_agent_cwd);

    // A data_dir reached through a symlink that points into the cwd.
    std::os::unix::fs::symlink(&work, dir.path().join("innocent")).unwrap();
    let message = parse_in(
        dir.path(),
        &with_agent(
            "[agent]\ncommand = \"a\"\ncwd = \"work\"\n\n[store]\ndata_dir = \"innocent/db\"\n",
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        message.contains("is inside the agent's working directory"),
        "{message}"
    );
    // `..` that climbs out is outside.
    parse_in(
        dir.path(),
        &with_agent(
            "[agent]\ncommand = \"a\"\ncwd = \"work\"\n\n[store]\ndata_dir = \"work/../db\"\n",
        ),
    )
    .unwrap();
}

#[test]
fn agent_env_values_are_secrets_in_debug_and_in_errors() {
    const KEY: &str = "sk-live-0123456789abcdef";
    let text = with_agent(&format!(
        "[agent]\ncommand = \"a\"\ncwd = \"/srv/work\"\nenv = {{ API_KEY = \"{KEY}\" }}\n"
    ));
    let config = parse(&text).unwrap();
    let agent = config.agent.as_ref().unwrap();
    assert_eq!(agent.env["API_KEY"].expose(), KEY);
    for printed in [format!("{config:?}"), format!("{config:#?}")] {
        assert!(!printed.contains(KEY), "{printed}");
        assert!(printed.contains("API_KEY"), "{printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
    }
    // A key pasted into the wrong field is not repeated by the error.
    let message = error(&text.replace(
        "cwd = \"/srv/work\"",
        &format!("cwd = \"/srv/work\"\npermission_policy = \"{KEY}\""),
    ));
    assert!(!message.contains(KEY), "{message}");
    assert!(message.contains("agent.permission_policy"), "{message}");
}

#[test]
fn bots_need_trusted_bot_ids_when_bot_messages_are_allowed() {
    let base = "[discord]\ntoken = \"t\"\nallowed_channels = [\"1\"]\nallow_all_users = true\n";
    let agent = "[agent]\ncommand = \"a\"\ncwd = \"/srv/work\"\n";
    for setting in ["mentions", "all"] {
        let message = error(&format!(
            "{base}allow_bot_messages = \"{setting}\"\n{agent}"
        ));
        assert_eq!(
            message,
            format!(
                "switchboard.toml: discord.trusted_bot_ids: is empty, but \
                 discord.allow_bot_messages = \"{setting}\" hears bots only from this list (a \
                 bot never passes through allowed_users or allow_all_users); list the bot user \
                 ids to hear, or set discord.allow_bot_messages = \"none\""
            )
        );
    }
    let config = parse(&format!(
        "{base}allow_bot_messages = \"all\"\ntrusted_bot_ids = [\"5\"]\n{agent}"
    ))
    .unwrap();
    assert_eq!(config.discord.unwrap().gating.trusted_bot_ids, ["5"]);
}

#[test]
fn max_message_size_takes_humane_sizes_within_bounds() {
    let size = |value: &str| {
        parse(&with_agent(&format!(
            "[agent]\ncommand = \"a\"\ncwd = \"/srv/work\"\n{value}"
        )))
        .map(|config| config.agent.unwrap().max_message_size)
    };
    assert_eq!(size("").unwrap(), DEFAULT_MAX_MESSAGE_SIZE);
    assert_eq!(DEFAULT_MAX_MESSAGE_SIZE.to_string(), "16 MiB");
    assert_eq!(
        size("max_message_size = \"1MiB\"").unwrap(),
        ByteSize(1 << 20)
    );
    assert_eq!(
        size("max_message_size = 2097152").unwrap(),
        ByteSize(2 << 20)
    );
    let message = size("max_message_size = \"16 megs\"")
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with(
            "switchboard.toml: agent.max_message_size: invalid size \"16 megs\": unknown unit"
        ),
        "{message}"
    );
    let message = size("max_message_size = \"1KiB\"").unwrap_err().to_string();
    assert!(
        message.contains("is 1 KiB; use between 64 KiB (an agent's first answers"),
        "{message}"
    );
    let message = size("max_message_size = \"2GiB\"").unwrap_err().to_string();
    assert!(message.contains("is 2 GiB; use between"), "{message}");
    let message = size("max_message_size = -1").unwrap_err().to_string();
    assert!(message.contains("cannot be negative"), "{message}");
    let message = size("max_message_size = true").unwrap_err().to_string();
    assert!(
        message.contains("agent.max_message_size: wrong type"),
        "{message}"
    );
}
