//! The command line as an operator meets it: `check` validates without
//! connecting; a bad config stops `run` at once with file, key and reason.

mod support;

use std::process::Command;

fn write(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("switchboard.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn check_accepts_a_valid_file_without_connecting() {
    let dir = tempfile::tempdir().unwrap();
    // The agent's folder beside the store, not around it.
    std::fs::create_dir(dir.path().join("work")).unwrap();
    // Port 9 (discard) on loopback: nothing listens, and check must not try.
    let path = write(
        &dir,
        "[discord]\ntoken = \"${TEST_TOKEN}\"\nallowed_channels = [\"123\"]\nallow_all_users = true\n\
         api_url = \"http://127.0.0.1:9\"\n\n[agent]\ncommand = \"sh\"\ncwd = \"work\"\n",
    );
    let out = Command::new(support::binary())
        .args(["check", "--config"])
        .arg(&path)
        .env("TEST_TOKEN", "secret-token-value")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("ok: "), "{stdout}");
    assert!(!stdout.contains("secret-token-value"));
}

/// Runs `check` on `text`; (success, stdout + stderr).
fn check(text: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, text);
    let out = Command::new(support::binary())
        .args(["check", "--config"])
        .arg(&path)
        .env("TEST_TOKEN", "secret-token-value")
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!said.contains("secret-token-value"), "{said}");
    (out.status.success(), said)
}

#[test]
fn check_explains_a_store_inside_the_agent_folder_and_bots_without_a_trusted_list() {
    let discord = "[discord]\ntoken = \"${TEST_TOKEN}\"\nallowed_channels = [\"123\"]\n\
                   allow_all_users = true\n";
    // Both defaults: the agent works in the file's folder, the store is
    // ./switchboard-data beside the file.
    let (ok, said) = check(&format!(
        "{discord}\n[agent]\ncommand = \"some-acp-agent\"\n"
    ));
    assert!(!ok, "{said}");
    assert!(said.contains("store.data_dir: "), "{said}");
    assert!(
        said.contains("is inside the agent's working directory"),
        "{said}"
    );
    assert!(said.contains("every user's prompts"), "{said}");
    assert!(
        said.contains("store.allow_inside_agent_cwd = true"),
        "{said}"
    );
    let (ok, said) = check(&format!(
        "{discord}\n[agent]\ncommand = \"sh\"\n\n[store]\nallow_inside_agent_cwd = true\n"
    ));
    assert!(ok, "{said}");

    let (ok, said) = check(&format!(
        "{discord}allow_bot_messages = \"mentions\"\n\n[agent]\ncommand = \"a\"\ncwd = \"/srv/work\"\n"
    ));
    assert!(!ok, "{said}");
    assert!(
        said.contains("discord.trusted_bot_ids: is empty, but discord.allow_bot_messages"),
        "{said}"
    );
}

#[test]
fn a_config_typo_fails_run_with_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[discord]\ntokn = \"x\"\nallowed_channels = [\"123\"]\n",
    );
    for subcommand in ["check", "run"] {
        let out = Command::new(support::binary())
            .args([subcommand, "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("switchboard.toml"), "{stderr}");
        assert!(stderr.contains("discord.tokn"), "{stderr}");
        assert!(stderr.contains("unknown"), "{stderr}");
    }
}

#[test]
fn an_unset_variable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        &dir,
        "[discord]\ntoken = \"${SWITCHBOARD_TEST_UNSET_VAR}\"\nallowed_channels = [\"1\"]\n",
    );
    let out = Command::new(support::binary())
        .args(["run", "--config"])
        .arg(&path)
        .env_remove("SWITCHBOARD_TEST_UNSET_VAR")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("SWITCHBOARD_TEST_UNSET_VAR") && stderr.contains("discord.token"),
        "{stderr}"
    );
}

#[test]
fn without_arguments_it_runs_with_switchboard_toml_in_the_working_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(support::binary())
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("switchboard.toml"), "{stderr}");
}
