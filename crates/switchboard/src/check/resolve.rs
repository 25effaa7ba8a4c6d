//! Does `[agent]` name something that can start? `agent.command` must be an
//! executable file, given as a path or found on the PATH the agent will get
//! (`agent.env.PATH` when set, else switchboard's own: the agent's
//! environment is cleared to HOME, PATH, USER, LANG plus `agent.env`), and
//! `agent.cwd` must be a directory.
//!
//! Owns: the same lookup `execvp` does (each PATH entry in order, an empty
//! entry meaning the working directory, the first executable regular file
//! wins) and the messages that say what to fix.
//!
//! Must never: run anything.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::CheckLine;
use crate::config::AgentConfig;

/// What the C library searches when PATH is not set at all.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// The PATH the agent gets, and where it comes from (for messages).
fn agent_path(agent: &AgentConfig, own: Option<OsString>) -> (OsString, &'static str) {
    match (agent.env.get("PATH"), own) {
        (Some(path), _) => (path.expose().into(), "agent.env.PATH"),
        (None, Some(path)) => (path, "switchboard's PATH"),
        (None, None) => (DEFAULT_PATH.into(), "no PATH set; the default"),
    }
}

/// The `agent` line: where the command was found and the working directory,
/// or what is wrong with them. `own_path` is switchboard's PATH.
pub(super) fn agent_command(agent: &AgentConfig, own_path: Option<OsString>) -> CheckLine {
    let command = agent.command.as_str();
    let found = if command.contains('/') {
        usable(Path::new(command))
            .map(|()| format!("{command} is executable"))
            .map_err(|problem| {
                format!(
                    "agent.command = {command:?}: {problem}; fix the path (a relative path is \
                     taken from the config file's folder) or give an absolute path"
                )
            })
    } else {
        let (path, source) = agent_path(agent, own_path);
        search(command, &path, &agent.cwd)
            .map(|at| format!("{command} found at {}", at.display()))
            .map_err(|()| {
                format!(
                    "agent.command = {command:?}: not found on PATH ({}, from {source}); \
                     install it or give an absolute path",
                    path.to_string_lossy()
                )
            })
    };
    let cwd = if agent.cwd.is_dir() {
        Ok(())
    } else {
        let problem = if agent.cwd.exists() {
            "is not a directory"
        } else {
            "does not exist"
        };
        Err(format!(
            "agent.cwd = {:?}: {problem}; create it or point agent.cwd at the folder the agent \
             should work in",
            agent.cwd.display().to_string()
        ))
    };
    match (found, cwd) {
        (Ok(found), Ok(())) => CheckLine::ok(
            "agent",
            format!("ok ({found}, working directory {})", agent.cwd.display()),
        ),
        (Err(problem), Ok(())) | (Ok(_), Err(problem)) => CheckLine::failed("agent", problem),
        (Err(command), Err(cwd)) => CheckLine::failed("agent", format!("{command}; and {cwd}")),
    }
}

/// The first executable regular file named `name` in a PATH entry, as
/// `execvp` finds it (an empty entry is the agent's working directory).
fn search(name: &str, path: &OsStr, cwd: &Path) -> Result<PathBuf, ()> {
    path.as_bytes()
        .split(|byte| *byte == b':')
        .map(|dir| match dir {
            b"" => cwd.to_path_buf(),
            dir => PathBuf::from(OsStr::from_bytes(dir)),
        })
        .map(|dir| dir.join(name))
        .find(|candidate| usable(candidate).is_ok())
        .ok_or(())
}

/// Whether `path` is a regular file this user may execute; else why not.
fn usable(path: &Path) -> Result<(), &'static str> {
    let meta = std::fs::metadata(path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => "does not exist",
        std::io::ErrorKind::PermissionDenied => "cannot be read (permission denied)",
        _ => "cannot be inspected",
    })?;
    if meta.is_dir() {
        return Err("is a directory, not a program");
    }
    if !meta.is_file() {
        return Err("is not a regular file");
    }
    let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return Err("contains a NUL byte");
    };
    // SAFETY: access(2) reads the NUL-terminated string only.
    if unsafe { libc::access(c_path.as_ptr(), libc::X_OK) } == 0 {
        Ok(())
    } else {
        Err("is not executable (chmod +x it)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use std::os::unix::fs::PermissionsExt;

    fn agent(command: &str, cwd: &Path) -> AgentConfig {
        let mut config = crate::config::Config::from_toml_str(
            "[agent]\ncommand = \"x\"\n\n[store]\nallow_inside_agent_cwd = true\n",
            crate::config::EMBEDDED,
            &|_| None,
        )
        .unwrap()
        .agent
        .unwrap();
        config.command = command.to_owned();
        config.cwd = cwd.to_path_buf();
        config
    }

    fn program(dir: &Path, name: &str, mode: u32) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn the_first_executable_on_path_wins_and_empty_entries_are_the_cwd() {
        let (a, b, cwd) = (
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
            tempfile::tempdir().unwrap(),
        );
        program(a.path(), "tool", 0o644);
        let wanted = program(b.path(), "tool", 0o755);
        let path = OsString::from(format!("{}:{}", a.path().display(), b.path().display()));
        assert_eq!(search("tool", &path, cwd.path()), Ok(wanted));
        let here = program(cwd.path(), "local", 0o755);
        assert_eq!(
            search("local", OsStr::new("/nonexistent:"), cwd.path()),
            Ok(here)
        );
        assert_eq!(search("absent", &path, cwd.path()), Err(()));
    }

    #[test]
    fn the_agents_own_path_is_searched_first() {
        let dir = tempfile::tempdir().unwrap();
        let found = program(dir.path(), "only-here", 0o755);
        let mut config = agent("only-here", dir.path());
        let line = agent_command(&config, Some("/nonexistent".into()));
        assert!(!line.passed(), "{line:?}");
        config
            .env
            .insert("PATH".into(), Secret::new(dir.path().display().to_string()));
        let line = agent_command(&config, Some("/nonexistent".into()));
        assert_eq!(
            line.text,
            format!(
                "ok (only-here found at {}, working directory {})",
                found.display(),
                dir.path().display()
            )
        );
    }

    #[test]
    fn messages_name_the_key_the_value_and_the_fix() {
        let dir = tempfile::tempdir().unwrap();
        let line = agent_command(&agent("no-such-agent", dir.path()), Some("/a:/b".into()));
        assert_eq!(
            line.text,
            "agent.command = \"no-such-agent\": not found on PATH (/a:/b, from switchboard's PATH); \
             install it or give an absolute path"
        );
        let script = program(dir.path(), "agent.sh", 0o644);
        let line = agent_command(&agent(script.to_str().unwrap(), dir.path()), None);
        assert!(
            line.text.contains("is not executable (chmod +x it)"),
            "{line:?}"
        );
        let line = agent_command(&agent("/bin/sh", &dir.path().join("gone")), None);
        assert!(!line.passed());
        assert!(line.text.starts_with("agent.cwd = "), "{line:?}");
        assert!(line.text.contains("does not exist; create it"), "{line:?}");
        let line = agent_command(&agent("./missing/agent", &script), None);
        assert!(
            line.text
                .contains("agent.command = \"./missing/agent\": does not exist"),
            "{line:?}"
        );
        assert!(line.text.contains("; and agent.cwd = "), "{line:?}");
        assert!(line.text.contains("is not a directory"), "{line:?}");
    }
}
