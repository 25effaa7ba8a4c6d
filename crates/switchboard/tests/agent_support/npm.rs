//! Provisioning of the npm ACP agents the tests drive (tests/acp-agents):
//! the first test that needs them runs `npm ci` once, under a file lock so
//! test binaries running in parallel neither race nor install twice.
//!
//! Never skips: without node and npm the test fails with a message that
//! says what to install.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The folder holding package.json and package-lock.json.
pub fn acp_agents_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/acp-agents")
}

/// Make sure `installed` (a file inside tests/acp-agents/node_modules)
/// exists, running `npm ci` once if it does not; panics with the fix when
/// npm is missing or the install fails.
pub fn ensure_npm_agents(installed: &Path) {
    if installed.is_file() {
        return;
    }
    let dir = acp_agents_dir();
    let lock = File::create(dir.join(".install.lock"))
        .unwrap_or_else(|err| panic!("cannot create {}/.install.lock: {err}", dir.display()));
    let _held = FileLock::exclusive(&lock);
    // Another test binary may have installed it while we waited.
    if installed.is_file() {
        return;
    }
    eprintln!(
        "installing the npm ACP test agents: npm ci --prefix {}",
        dir.display()
    );
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--prefix"])
        .arg(&dir)
        .status()
        .unwrap_or_else(|err| {
            panic!(
                "cannot run npm ({err}): these tests drive a real third-party ACP agent \
                 installed with npm; install Node.js 20+ with npm and run the tests again"
            )
        });
    assert!(
        status.success(),
        "`npm ci --prefix {}` failed ({status}); its output is above. The npm registry must be \
         reachable for the first run",
        dir.display()
    );
    assert!(
        installed.is_file(),
        "npm ci finished but {} is missing: is package-lock.json up to date?",
        installed.display()
    );
}

/// An exclusive flock(2), released when dropped (or when the process ends).
struct FileLock<'a>(&'a File);

impl<'a> FileLock<'a> {
    fn exclusive(file: &'a File) -> Self {
        // SAFETY: flock on a file descriptor we own for the guard's life.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
        Self(file)
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        // SAFETY: as above; unlocking a lock we hold.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}
