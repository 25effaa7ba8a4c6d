//! The rule that keeps the store out of the agent's reach: `store.data_dir`
//! (whose journal holds every user's prompts) must not lie inside
//! `agent.cwd` unless `store.allow_inside_agent_cwd = true` says the
//! operator accepts it. Part of `validate`. A PostgreSQL store
//! (`store.url`) has no directory here, so the rule does not apply to it.
//!
//! Owns comparing the two directories as the file system sees them
//! (symlinks and `..` resolved, for the parts that exist yet). It must
//! never create, change or require either directory.

use std::path::{Component, Path, PathBuf};

use super::ConfigError;
use super::bridge::{AgentConfig, StoreConfig};

/// Refuse a `data_dir` inside the agent's working directory unless allowed.
pub(super) fn store_outside_agent(
    store: &StoreConfig,
    agent: &AgentConfig,
    file: &str,
) -> Result<(), ConfigError> {
    if store.allow_inside_agent_cwd || store.postgres.is_some() {
        return Ok(());
    }
    let (data_dir, cwd) = (resolve(&store.data_dir), resolve(&agent.cwd));
    if !data_dir.starts_with(&cwd) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        file,
        "store.data_dir",
        format!(
            "{} is inside the agent's working directory {} (agent.cwd; when not set, the \
             config file's folder): the journal there holds every user's prompts, and an \
             agent that reads files could read them and show them in any thread. Set \
             store.data_dir to a directory outside {} (e.g. \"/var/lib/switchboard\"), or \
             agent.cwd to the project the agent works on; or, to accept the risk, set \
             store.allow_inside_agent_cwd = true",
            data_dir.display(),
            cwd.display(),
            cwd.display(),
        ),
    ))
}

/// `path` made absolute and resolved component by component: while the
/// path exists, each step is canonicalized (symlinks followed, `..` taken
/// from the real parent); from the first missing part on, `.` and `..`
/// apply lexically.
fn resolve(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut resolved = PathBuf::new();
    let mut exists = true;
    for component in absolute.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                resolved.pop();
            }
            other => {
                resolved.push(other);
                if exists {
                    match resolved.canonicalize() {
                        Ok(real) => resolved = real,
                        Err(_) => exists = false,
                    }
                }
            }
        }
    }
    resolved
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_follows_symlinks_of_existing_parts_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let real = real.canonicalize().unwrap();
        assert_eq!(
            resolve(&link.join("not-yet/data")),
            real.join("not-yet/data")
        );
        assert_eq!(resolve(&link.join("a/../b")), real.join("b"));
        assert_eq!(resolve(&link), real);
    }

    #[test]
    fn a_symlinked_data_dir_inside_the_cwd_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let outside_name = dir.path().join("looks-outside");
        std::os::unix::fs::symlink(&work, &outside_name).unwrap();
        let cwd = resolve(&work);
        assert!(resolve(&outside_name.join("switchboard-data")).starts_with(&cwd));
        assert!(!resolve(&dir.path().join("data")).starts_with(&cwd));
        // A sibling whose name only starts the same is outside.
        assert!(!resolve(&dir.path().join("work-data")).starts_with(&cwd));
    }
}
