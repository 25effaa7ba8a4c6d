//! Tests of `Store::open`: first run, restart, and data dirs it cannot use.

use std::path::Path;

use super::sqlite::PAGE_CACHE_KIB;
use super::test_support::{TestBackend, TestDb};
use super::*;

both_backends!(reopen_keeps_the_data);

fn sample_thread() -> ThreadRecord {
    ThreadRecord {
        platform: "discord".into(),
        thread_id: "t1".into(),
        channel_id: "c1".into(),
        created_at_ms: 1,
        last_active_at_ms: 2,
        session_id: Some("s1".into()),
        cwd: Some("/work".into()),
        supports_load: true,
        context_lost_notified: false,
    }
}

#[tokio::test]
async fn first_open_creates_the_directory_and_a_wal_database() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("nested").join(DEFAULT_DATA_DIR);
    let store = Store::open(&data_dir).await.unwrap();
    let file = data_dir.join(DB_FILE_NAME);
    assert_eq!(store.sqlite_path(), Some(file.as_path()));
    assert_eq!(store.location(), file.display().to_string());
    assert!(file.is_file());
    let sqlite = store.sqlite();
    assert_eq!(sqlite.journal_mode().await.unwrap(), "wal");
    let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&sqlite.pool)
        .await
        .unwrap();
    assert_eq!(sync, 1, "synchronous = NORMAL");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&sqlite.pool)
        .await
        .unwrap();
    assert_eq!(fk, 1);
    for pool in [&sqlite.pool, &sqlite.writer] {
        let cache: i64 = sqlx::query_scalar("PRAGMA cache_size")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(cache, -i64::from(PAGE_CACHE_KIB), "page cache in KiB");
    }
}

async fn reopen_keeps_the_data(backend: TestBackend) {
    let db = TestDb::new(backend).await;
    let store = db.open().await;
    store.upsert_thread(&sample_thread()).await.unwrap();
    store.first_sighting("discord", "m1", 5).await.unwrap();
    store
        .advance_cursor("discord", "c1", "m1", 5)
        .await
        .unwrap();
    let copy = store.clone();
    drop(store);
    drop(copy); // the last handle closes the pool: a restart

    for _ in 0..2 {
        let store = db.open().await;
        assert_eq!(store.threads("discord").await.unwrap(), [sample_thread()]);
        assert!(!store.first_sighting("discord", "m1", 6).await.unwrap());
        assert_eq!(store.cursors("discord").await.unwrap().len(), 1);
        store.close().await;
    }
}

fn assert_names_path_and_fix(err: &StoreError, path: &Path) {
    let text = err.to_string();
    eprintln!("{text}");
    assert!(
        text.contains(&path.display().to_string()),
        "error should name {}: {text}",
        path.display()
    );
    assert!(
        text.contains("writable"),
        "error should say how to fix: {text}"
    );
    assert!(
        text.contains("data_dir"),
        "error should name the setting: {text}"
    );
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_created_is_named_in_the_error() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let data_dir = file.join("data");
    let err = Store::open(&data_dir).await.unwrap_err();
    assert!(matches!(err, StoreError::CreateDir { .. }), "{err}");
    assert_names_path_and_fix(&err, &data_dir);
}

#[tokio::test]
async fn a_database_path_that_cannot_be_opened_is_named_in_the_error() {
    let root = tempfile::tempdir().unwrap();
    // A directory where the database file should be: no user can open it.
    std::fs::create_dir(root.path().join(DB_FILE_NAME)).unwrap();
    let err = Store::open(root.path()).await.unwrap_err();
    assert!(matches!(err, StoreError::Open { .. }), "{err}");
    assert_names_path_and_fix(&err, &root.path().join(DB_FILE_NAME));
}

#[tokio::test]
async fn a_read_only_data_dir_is_named_in_the_error() {
    use std::os::unix::fs::PermissionsExt;

    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("ro");
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(data_dir.join("probe"), b"").is_ok() {
        // root ignores permissions; the other error tests cover root.
        eprintln!("skipped: running as a user who can write a 0555 directory");
        return;
    }
    let err = Store::open(&data_dir).await.unwrap_err();
    assert!(
        matches!(err, StoreError::Open { .. } | StoreError::Migrate { .. }),
        "{err}"
    );
    assert_names_path_and_fix(&err, &data_dir.join(DB_FILE_NAME));
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
}
