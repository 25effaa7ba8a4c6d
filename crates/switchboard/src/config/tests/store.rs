//! `[store]`: the SQLite default, `store.url` selecting PostgreSQL with
//! `max_connections` and `statement_timeout`, and the URL's password kept
//! out of Debug and of every message.

use std::time::Duration;

use super::*;

const PASSWORD: &str = "hunter2-db-pass";
const URL: &str = "postgres://sb:hunter2-db-pass@db.internal:5433/switchboard";

fn store_section(keys: &str) -> String {
    format!("[store]\n{keys}\n")
}

/// The error for `text`, which must not show the password.
fn store_error(text: &str) -> String {
    let message = error(text);
    assert!(!message.contains(PASSWORD), "password leaked: {message}");
    message
}

#[test]
fn without_a_url_the_store_is_sqlite_in_data_dir() {
    let config = parse("").unwrap();
    assert_eq!(config.store.postgres, None);
    assert!(config.store.data_dir.ends_with("switchboard-data"));
}

#[test]
fn a_postgres_url_selects_postgresql_with_the_defaults() {
    let config = parse(&store_section(&format!("url = \"{URL}\""))).unwrap();
    let pg = config.store.postgres.as_ref().expect("PostgreSQL");
    assert_eq!(pg.url.expose(), URL);
    assert_eq!(pg.max_connections, 10);
    assert_eq!(pg.statement_timeout, Duration::from_secs(30));
    let printed = format!("{config:?}");
    assert!(!printed.contains(PASSWORD), "{printed}");
    assert!(
        !printed.contains("db.internal"),
        "the whole URL is a secret"
    );

    let config = parse(&store_section(
        "url = \"postgresql://sb@127.0.0.1/sb\"\nmax_connections = 25\n\
         statement_timeout = \"5s\"",
    ))
    .unwrap();
    let pg = config.store.postgres.unwrap();
    assert_eq!(pg.max_connections, 25);
    assert_eq!(pg.statement_timeout, Duration::from_secs(5));
}

#[test]
fn another_scheme_is_refused_saying_what_is_accepted() {
    let message = store_error(&store_section(
        "url = \"mysql://root:hunter2-db-pass@db/switchboard\"",
    ));
    assert!(
        message.starts_with("switchboard.toml: store.url: uses the scheme \"mysql\""),
        "{message}"
    );
    for needle in ["postgres://", "postgresql://", "store.data_dir"] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
    let message = store_error(&store_section("url = \"hunter2-db-pass\""));
    assert!(message.contains("store.url: is not a URL"), "{message}");
    let message = store_error(&store_section("url = \" \""));
    assert!(message.contains("store.url: is empty"), "{message}");
}

#[test]
fn max_connections_must_be_between_1_and_100() {
    for n in [0, 101, -3] {
        let message = store_error(&store_section(&format!(
            "url = \"{URL}\"\nmax_connections = {n}"
        )));
        assert!(
            message.contains(&format!(
                "store.max_connections: is {n}; use between 1 and 100"
            )),
            "{message}"
        );
        assert!(message.contains("sb:***@db.internal:5433"), "{message}");
    }
    for n in [1, 100] {
        let text = store_section(&format!("url = \"{URL}\"\nmax_connections = {n}"));
        assert_eq!(
            parse(&text)
                .unwrap()
                .store
                .postgres
                .unwrap()
                .max_connections,
            n
        );
    }
}

#[test]
fn postgres_keys_without_a_url_and_data_dir_with_one_are_refused() {
    let message = store_error(&store_section("max_connections = 5"));
    assert!(
        message.contains("store.max_connections: applies to a PostgreSQL store only"),
        "{message}"
    );
    let message = store_error(&store_section("statement_timeout = \"5s\""));
    assert!(
        message.contains("store.statement_timeout: applies"),
        "{message}"
    );
    let message = store_error(&store_section(&format!(
        "url = \"{URL}\"\ndata_dir = \"./db\""
    )));
    assert!(
        message.contains("store.data_dir: is the SQLite store's folder"),
        "{message}"
    );
    let message = store_error(&store_section(&format!(
        "url = \"{URL}\"\nstatement_timeout = \"0s\""
    )));
    assert!(message.contains("store.statement_timeout"), "{message}");
}

#[test]
fn the_url_and_its_password_are_hidden_in_every_message() {
    // A value pasted into the wrong key is echoed by that key's rule.
    let message = store_error(&store_section(&format!(
        "url = \"{URL}\"\nstatement_timeout = \"{URL}\""
    )));
    assert!(message.contains("store.statement_timeout"), "{message}");
    assert!(!message.contains("db.internal"), "{message}");
    // The password alone, too (here in the user part of another URL).
    let message = store_error(&store_section(&format!(
        "url = \"{URL}\"\nprune_after = \"{PASSWORD}\""
    )));
    assert!(message.contains("store.prune_after"), "{message}");
}

#[test]
fn a_postgresql_store_is_not_held_to_the_data_dir_rule() {
    // The default data_dir would lie in the agent's cwd (the file's
    // folder), but with store.url no file is written there.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switchboard.toml").display().to_string();
    let text = format!(
        "[discord]\ntoken = \"${{DISCORD_BOT_TOKEN}}\"\nallowed_channels = [\"1\"]\n\
         allow_all_users = true\n\n[agent]\ncommand = \"a\"\n\n[store]\nurl = \"{URL}\"\n"
    );
    let config = Config::from_toml_str(&text, &file, &env).unwrap();
    assert!(config.store.postgres.is_some());
}

#[test]
fn cluster_keys_go_with_a_postgres_store() {
    let config = parse(&store_section(&format!("url = \"{URL}\""))).unwrap();
    assert_eq!(config.cluster.instance_id, None);
    assert_eq!(config.cluster.lease_ttl, Duration::from_secs(10));

    let config = parse(&format!(
        "{}[cluster]\ninstance_id = \"web-1.eu\"\nlease_ttl = \"3s\"\n",
        store_section(&format!("url = \"{URL}\""))
    ))
    .unwrap();
    assert_eq!(config.cluster.instance_id.as_deref(), Some("web-1.eu"));
    assert_eq!(config.cluster.lease_ttl, Duration::from_secs(3));

    let message = error("[cluster]\nlease_ttl = \"3s\"\n");
    assert!(
        message.contains("cluster") && message.contains("store.url"),
        "{message}"
    );
    let with_url = |cluster: &str| {
        store_error(&format!(
            "{}[cluster]\n{cluster}\n",
            store_section(&format!("url = \"{URL}\""))
        ))
    };
    let message = with_url("instance_id = \"a b\"");
    assert!(message.contains("cluster.instance_id"), "{message}");
    let message = with_url("lease_ttl = \"100ms\"");
    assert!(
        message.contains("cluster.lease_ttl") && message.contains("500ms"),
        "{message}"
    );
    let message = with_url("ttl = \"3s\"");
    assert!(message.contains("cluster.ttl: unknown key"), "{message}");
}
