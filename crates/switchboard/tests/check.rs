//! `switchboard check` catches before `run` what would only fail later, as
//! an operator meets it through the real binary: an agent command that does
//! not resolve, an agent that does not start (`--agent`, with the built-in
//! demo agent and with one that dies at once), and tokens the platforms
//! refuse (`--online`, against the in-process discord-sim and slack-sim),
//! never printing a token and never opening a gateway.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use discord_sim::{DiscordSim, SimConfig};
use slack_sim::{SlackSim, SlackSimConfig};

/// The config file `text` in `dir`. The store may stay in the agent's
/// folder (the default places both in `dir`): these tests are about the
/// agent and the tokens, and `check` would refuse that placement first.
fn write_config(dir: &Path, text: &str) -> PathBuf {
    write_config_with_store(dir, text, "allow_inside_agent_cwd = true")
}

/// The config file `text` with the `[store]` lines `store`, in `dir`.
fn write_config_with_store(dir: &Path, text: &str, store: &str) -> PathBuf {
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, format!("{text}\n[store]\n{store}\n")).unwrap();
    path
}

/// `switchboard check --config PATH EXTRA...` from `/` (so a relative path
/// can only be right if it is taken from the config file's folder), with
/// `env` added to a minimal environment.
async fn check(config: &Path, extra: &[&str], env: &[(&str, String)]) -> Output {
    let output = tokio::process::Command::new(support::binary())
        .arg("check")
        .arg("--config")
        .arg(config)
        .args(extra)
        .current_dir("/")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("check ends within 60 s")
        .expect("switchboard runs")
}

fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn an_agent_command_that_does_not_exist_fails_check_with_the_key_value_and_fix() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[agent]\ncommand = \"switchboard-test-no-such-agent\"\n",
    );
    let out = check(&config, &[], &[]).await;
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(
            "agent: FAILED: agent.command = \"switchboard-test-no-such-agent\": not found on PATH ("
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("from switchboard's PATH); install it or give an absolute path"),
        "{stderr}"
    );
    assert!(!stdout.contains("agent: ok"), "{stdout}");
}

#[tokio::test]
async fn a_relative_command_path_is_taken_from_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bin")).unwrap();
    let script = dir.path().join("bin/agent.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = write_config(dir.path(), "[agent]\ncommand = \"./bin/agent.sh\"\n");
    let out = check(&config, &[], &[]).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let folder = std::path::absolute(dir.path()).unwrap();
    assert!(
        stdout.contains(&format!(
            "agent: ok ({} is executable, working directory {})",
            folder.join("bin/agent.sh").display(),
            folder.display()
        )),
        "{stdout}"
    );

    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = check(&config, &[], &[]).await;
    let (_, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is not executable (chmod +x it)"),
        "{stderr}"
    );
}

/// The pids of live processes whose command line is exactly `argv`.
fn processes_running(argv: &[&str]) -> Vec<u32> {
    let wanted: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == wanted))
        .collect()
}

#[tokio::test]
async fn check_agent_starts_the_demo_agent_reports_it_and_leaves_no_process_behind() {
    let dir = tempfile::tempdir().unwrap();
    // A helper in the agent's process group that would outlive a kill of
    // the agent alone: only a kill of the whole group stops it.
    let marker = format!("{}", 700_000 + std::process::id() % 100_000);
    let config = write_config(
        dir.path(),
        &format!(
            "[agent]\ncommand = \"sh\"\nargs = [\"-c\", \"sleep {marker} & exec \\\"$0\\\" demo-agent --load-session\", {:?}]\n",
            support::binary()
        ),
    );
    let out = check(&config, &["--agent"], &[]).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("ok: "), "{stdout}");
    assert!(lines[1].starts_with("agent: ok (sh found at "), "{stdout}");
    assert_eq!(
        lines[2],
        format!(
            "agent: initialize ok — switchboard demo agent {}; loadSession yes, images yes, \
             modes: none; config options: none; stopped (killed by signal 9)",
            env!("CARGO_PKG_VERSION")
        )
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_running(&["sleep", &marker]);
        if left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent's group outlived check: pids {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn check_agent_reports_the_modes_of_the_session_it_created() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[agent]\ncommand = {:?}\nargs = [\"demo-agent\", \"--modes\", \"ask,code,architect\"]\n",
            support::binary()
        ),
    );
    let out = check(&config, &["--agent"], &[]).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("; loadSession no, images yes, modes: ask (current), code, architect; "),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_interrupted_check_agent_kills_the_agent_it_started() {
    let dir = tempfile::tempdir().unwrap();
    // An "agent" that never answers initialize: check waits on it, and the
    // terminal's SIGINT reaches only check (the agent has its own group).
    let marker = format!("{}", 800_000 + std::process::id() % 100_000);
    let config = write_config(
        dir.path(),
        &format!("[agent]\ncommand = \"sh\"\nargs = [\"-c\", \"exec sleep {marker}\"]\n"),
    );
    let child = tokio::process::Command::new(support::binary())
        .args(["check", "--agent", "--config"])
        .arg(&config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap() as i32;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while processes_running(&["sleep", &marker]).is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent never started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SAFETY: kill(2) on the pid of our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGINT) }, 0);
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("check ends soon after SIGINT")
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("check: FAILED: interrupted by SIGINT; any agent started was killed"),
        "{stderr}"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_running(&["sleep", &marker]);
        if left.is_empty() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the agent outlived the interrupted check: pids {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn check_agent_says_why_an_agent_that_exits_at_once_did_not_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[agent]\ncommand = \"sh\"\nargs = [\"-c\", \"echo 'fatal: no API key configured' >&2; exit 3\"]\n",
    );
    let out = check(&config, &["--agent"], &[]).await;
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("agent: ok (sh found at "), "{stdout}");
    assert!(
        stderr.contains("agent: FAILED: `sh -c 'echo '\\''fatal: no API key configured'\\'' >&2; exit 3'` did not start"),
        "{stderr}"
    );
    assert!(
        stderr.contains("agent process ended: exit status 3"),
        "{stderr}"
    );
    assert!(
        stderr.contains("its last stderr lines:\n    fatal: no API key configured\n"),
        "{stderr}"
    );
}

/// Both platforms configured against the simulators, tokens by variable.
fn online_config(dir: &Path, discord: &DiscordSim, slack: &SlackSim) -> PathBuf {
    write_config(
        dir,
        &format!(
            "[discord]\ntoken = \"${{DISCORD_BOT_TOKEN}}\"\nallow_all_channels = true\nallow_all_users = true\n\
             api_url = \"{}\"\ngateway_url = \"{}\"\n\n\
             [slack]\nbot_token = \"${{SLACK_BOT_TOKEN}}\"\napp_token = \"${{SLACK_APP_TOKEN}}\"\n\
             allow_all_channels = true\nallow_all_users = true\napi_url = \"{}\"\n\n\
             [agent]\ncommand = \"sh\"\n",
            discord.http_url(),
            discord.gateway_url(),
            slack.api_url()
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_online_verifies_the_tokens_without_connecting_and_names_a_refused_one() {
    let discord = DiscordSim::start(SimConfig::default()).await.unwrap();
    let slack = SlackSim::start(SlackSimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = online_config(dir.path(), &discord, &slack);
    let good = [
        ("DISCORD_BOT_TOKEN", discord.token()),
        ("SLACK_BOT_TOKEN", slack.bot_token()),
        ("SLACK_APP_TOKEN", slack.app_token()),
    ];

    let out = check(&config, &["--online"], &good).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let bot = discord.bot_user();
    for expected in [
        format!(
            "discord: ok (GET {}/api/v10/users/@me: the token is the bot {} (id {}))",
            discord.http_url(),
            bot.name,
            bot.id
        ),
        format!(
            "slack: ok (auth.test: team sim ({}), bot user switchboard ({}))",
            slack.team_id(),
            slack.bot_user_id()
        ),
        "slack: ok (apps.connections.open: the app token is accepted and Socket Mode is on; \
         no connection opened)"
            .to_owned(),
    ] {
        assert!(
            stdout.lines().any(|l| l == expected),
            "{expected}\n{stdout}"
        );
    }
    let me = discord
        .rest_calls()
        .into_iter()
        .filter(|c| c.method == "GET" && c.path == "/api/v10/users/@me")
        .count();
    assert_eq!(me, 1, "{:?}", discord.rest_calls());
    assert_eq!(slack.opens().len(), 1);
    assert!(discord.connections().is_empty(), "a gateway was connected");
    assert!(discord.identifies().is_empty());
    assert!(
        slack.connections().is_empty(),
        "a Socket Mode link was opened"
    );

    let bad = [
        ("DISCORD_BOT_TOKEN", "wrong-discord-token-1".to_owned()),
        ("SLACK_BOT_TOKEN", "xoxb-wrong-bot-token-2".to_owned()),
        ("SLACK_APP_TOKEN", "xapp-wrong-app-token-3".to_owned()),
    ];
    let out = check(&config, &["--online"], &bad).await;
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    for key in ["discord.token", "slack.bot_token", "slack.app_token"] {
        assert!(
            stderr.contains(&format!(": FAILED: {key} was refused: ")),
            "{key}\n{stderr}"
        );
    }
    assert!(stderr.contains("answered 401 Unauthorized"), "{stderr}");
    assert!(
        stderr.contains("auth.test answered invalid_auth"),
        "{stderr}"
    );
    for (_, token) in good.iter().chain(&bad) {
        assert!(
            !stdout.contains(token.as_str()) && !stderr.contains(token.as_str()),
            "token in the output: {stdout}{stderr}"
        );
    }
    assert!(discord.connections().is_empty() && slack.connections().is_empty());
    discord.shutdown();
    slack.shutdown();
}

/// A loopback port with nothing listening (bound, then dropped).
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn check_online_names_the_url_it_could_not_reach() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let config = write_config(
        dir.path(),
        &format!(
            "[discord]\ntoken = \"${{DISCORD_BOT_TOKEN}}\"\nallow_all_channels = true\nallow_all_users = true\n\
             api_url = \"http://127.0.0.1:{port}\"\n\n[agent]\ncommand = \"sh\"\n"
        ),
    );
    let token = ("DISCORD_BOT_TOKEN", "unreachable-token-value".to_owned());
    let out = check(&config, &["--online"], &[token]).await;
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "discord: FAILED: could not reach http://127.0.0.1:{port}/api/v10/users/@me: "
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("unreachable-token-value"), "{stderr}");
}

/// A config with `store.url = url` (and an agent to resolve).
fn store_config(dir: &Path, url: &str) -> PathBuf {
    write_config_with_store(
        dir,
        "[agent]\ncommand = \"sh\"\n",
        &format!("url = \"{url}\""),
    )
}

#[tokio::test]
async fn check_online_reports_the_postgresql_store_and_its_schema_without_migrating() {
    let db = support::postgres::TestDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let config = store_config(dir.path(), &db.url);
    let shown = switchboard::store::redacted_url(&db.url);
    assert!(shown.contains(":***@"), "{shown}");

    let out = check(&config, &["--online"], &[]).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("store: "))
        .unwrap_or_else(|| panic!("no store line: {stdout}"));
    assert!(
        line.starts_with(&format!("store: ok ({shown}: PostgreSQL ")),
        "{line}"
    );
    let latest = switchboard::store::postgres_latest_migration();
    assert!(
        line.ends_with(&format!(
            "no schema yet: `switchboard run` creates it, migration {latest})"
        )),
        "{line}"
    );
    // Nothing was applied: the check only reads.
    let mut conn = db.connect().await;
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(tables, 0, "check created tables");

    // Migrated as `run` does: the check says it is this build's schema.
    let store = switchboard::store::Store::connect_postgres(&db.url, &Default::default())
        .await
        .unwrap();
    store.close().await;
    let out = check(&config, &["--online"], &[]).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "; schema at migration {latest}, this build's latest)"
        )),
        "{stdout}"
    );
    for text in [&stdout, &stderr] {
        assert!(!text.contains(support::postgres::PASSWORD), "{text}");
    }
    drop(conn);
    db.drop_it().await;
}

#[tokio::test]
async fn check_online_names_a_postgresql_server_it_cannot_reach_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let url = format!("postgres://sb:closed-port-secret@127.0.0.1:{port}/switchboard");
    let config = store_config(dir.path(), &url);
    let out = check(&config, &["--online"], &[]).await;
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!(
            "store: FAILED: cannot connect to the PostgreSQL store at \
             postgres://sb:***@127.0.0.1:{port}/switchboard: "
        )),
        "{stderr}"
    );
    assert!(stderr.contains("pg_isready"), "{stderr}");
    assert!(
        !stdout.contains("closed-port-secret") && !stderr.contains("closed-port-secret"),
        "{stdout}{stderr}"
    );
}

/// Discord alone against the sim, with `shards = <shards>`.
fn sharded_config(dir: &Path, discord: &DiscordSim, shards: &str) -> PathBuf {
    write_config(
        dir,
        &format!(
            "[discord]\ntoken = \"${{DISCORD_BOT_TOKEN}}\"\nallow_all_channels = true\nallow_all_users = true\n\
             api_url = \"{}\"\nshards = {shards}\n\n[agent]\ncommand = \"sh\"\n",
            discord.http_url(),
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_validates_discord_shards_and_online_says_what_run_would_start() {
    let discord = DiscordSim::start(SimConfig {
        recommended_shards: 3,
        max_concurrency: 2,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = [("DISCORD_BOT_TOKEN", discord.token())];

    let config = sharded_config(dir.path(), &discord, "0");
    let out = check(&config, &[], &token).await;
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("discord.shards: is 0; use a whole number from 1 to 256")
            && stderr.contains("or the string \"auto\""),
        "{stderr}"
    );

    let config = sharded_config(dir.path(), &discord, "\"auto\"");
    let out = check(&config, &["--online"], &token).await;
    let (stdout, stderr) = texts(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("discord, shards \"auto\" (all channels)"),
        "{stdout}"
    );
    let expected = "discord shards: ok (\"auto\": 3 shards, Discord's recommendation; \
                    max_concurrency 2, 1000 of 1000 identifies left)";
    assert!(
        stdout.lines().any(|l| l == expected),
        "{expected}\n{stdout}"
    );
    assert!(discord.identifies().is_empty(), "check never identifies");

    // One shard (the default) needs no /gateway/bot, online or not.
    let config = sharded_config(dir.path(), &discord, "1");
    let before = discord.rest_calls().len();
    let out = check(&config, &["--online"], &token).await;
    assert!(out.status.success(), "{:?}", texts(&out));
    let asked: Vec<String> = discord.rest_calls()[before..]
        .iter()
        .map(|c| c.path.clone())
        .collect();
    assert_eq!(asked, ["/api/v10/users/@me"], "{asked:?}");
    discord.shutdown();
}
