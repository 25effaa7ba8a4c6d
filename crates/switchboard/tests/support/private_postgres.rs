//! A PostgreSQL server of the test's own, to stop and start at will: a
//! real restart of the store (its clients' connections terminated, new
//! ones refused, the same data back on the same port), which the shared
//! server (`support::postgres`) must never suffer because other tests run
//! on it at the same time.
//!
//! `initdb` (trust auth, user `postgres`, `--no-sync`) into a temp dir,
//! then `postgres` on a free 127.0.0.1 port with its socket in that dir
//! and `fsync=off`. [`PrivatePostgres::stop`] is a fast shutdown (SIGINT:
//! the server terminates every client's backend, as a restart does);
//! [`PrivatePostgres::start`] brings it back on the same port and data
//! dir, waiting (with a deadline) until it accepts connections. Dropping
//! it kills the server and removes the dir. As root the files belong to
//! the `postgres` OS user and the server runs as it (initdb and postgres
//! refuse root). Missing binaries fail the test with the fix; it never
//! skips.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sqlx::{Connection, PgConnection};
use tokio::time::Instant;

use super::postgres::PASSWORD;

/// How long initdb, a start or a stop may take on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(60);
/// How often readiness and exits are checked.
const POLL: Duration = Duration::from_millis(50);

/// A private PostgreSQL server (running, or stopped by the test).
pub struct PrivatePostgres {
    bin: PathBuf,
    /// Holds `data/` and the server's socket; removed on drop.
    dir: tempfile::TempDir,
    port: u16,
    /// The `postgres` OS user's (uid, gid) when the test runs as root.
    run_as: Option<(u32, u32)>,
    server: Option<Child>,
    /// The URL the binary's `store.url` gets (database `postgres`, with
    /// [`PASSWORD`], which trust auth ignores).
    pub url: String,
}

impl PrivatePostgres {
    /// initdb and start a new server; returns once it accepts connections.
    pub async fn create() -> PrivatePostgres {
        let bin = server_binaries();
        let dir = tempfile::tempdir().expect("a temp dir");
        let run_as = (unsafe { libc::geteuid() } == 0).then(postgres_user);
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the temp dir");
        }
        let port = free_port();
        let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres");
        let mut server = PrivatePostgres {
            bin,
            dir,
            port,
            run_as,
            server: None,
            url,
        };
        let initdb = server
            .command("initdb")
            .args(["-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"])
            .args(["--locale=C", "-D"])
            .arg(server.data_dir())
            .stdout(Stdio::null())
            .output()
            .expect("initdb runs");
        assert!(
            initdb.status.success(),
            "initdb failed ({}): {}",
            initdb.status,
            String::from_utf8_lossy(&initdb.stderr)
        );
        server.start().await;
        server
    }

    /// Start the server (again) on the same port and data dir; returns
    /// once it accepts connections.
    pub async fn start(&mut self) {
        assert!(self.server.is_none(), "the server is already running");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("the server's log file");
        let child = self
            .command("postgres")
            .arg("-D")
            .arg(self.data_dir())
            .args(["-p", &self.port.to_string(), "-k"])
            .arg(self.dir.path())
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("postgres starts");
        self.server = Some(child);
        let deadline = Instant::now() + DEADLINE;
        loop {
            if PgConnection::connect(&self.url).await.is_ok() {
                return;
            }
            if let Some(status) = self
                .server
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("postgres exited ({status}) while starting:\n{}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "postgres accepted no connection within {DEADLINE:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// Fast shutdown (SIGINT): every client's connection is terminated
    /// and the server exits; returns once it has.
    pub async fn stop(&mut self) {
        let mut child = self.server.take().expect("the server is running");
        signal(&child, libc::SIGINT);
        let deadline = Instant::now() + DEADLINE;
        while child.try_wait().expect("wait for postgres").is_none() {
            assert!(
                Instant::now() < deadline,
                "postgres did not stop within {DEADLINE:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// A connection of the test's own.
    pub async fn connect(&self) -> PgConnection {
        PgConnection::connect(&self.url)
            .await
            .expect("the private server accepts a connection")
    }

    /// The server's log so far (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// One of the server's programs, as the `postgres` user under root.
    fn command(&self, program: &str) -> Command {
        let mut command = Command::new(self.bin.join(program));
        command
            .current_dir(self.dir.path())
            .env_clear()
            .env("LC_ALL", "C")
            .stdin(Stdio::null());
        if let Some((uid, gid)) = self.run_as {
            command.uid(uid).gid(gid);
        }
        command
    }
}

impl Drop for PrivatePostgres {
    /// Immediate shutdown (SIGQUIT takes the backends down too), SIGKILL
    /// if that hangs; the temp dir goes with `dir`.
    fn drop(&mut self) {
        let Some(mut child) = self.server.take() else {
            return;
        };
        signal(&child, libc::SIGQUIT);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while matches!(child.try_wait(), Ok(None)) {
            if std::time::Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            std::thread::sleep(POLL);
        }
    }
}

fn signal(child: &Child, signal: i32) {
    // SAFETY: kill(2) on our own child's pid, which we have not reaped.
    unsafe { libc::kill(child.id() as i32, signal) };
}

/// The directory holding `initdb` and `postgres`: the newest
/// /usr/lib/postgresql/*/bin, else `pg_config --bindir`.
fn server_binaries() -> PathBuf {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_both(bin))
        .collect();
    versioned.sort();
    if let Some((_, bin)) = versioned.pop() {
        return bin;
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
    match from_pg_config {
        Some(bin) if has_both(&bin) => bin,
        _ => panic!(
            "this test restarts a PostgreSQL server of its own and needs the server programs \
             `initdb` and `postgres`: none in /usr/lib/postgresql/*/bin nor in `pg_config \
             --bindir`; install them (Debian/Ubuntu: `apt-get install postgresql-15`)"
        ),
    }
}

/// The `postgres` OS user's (uid, gid), to run the server as under root.
fn postgres_user() -> (u32, u32) {
    // SAFETY: getpwnam with a NUL-terminated name; the fields are copied
    // out at once, before any other call could reuse its static buffer.
    let entry = unsafe { libc::getpwnam(c"postgres".as_ptr()) };
    assert!(
        !entry.is_null(),
        "running as root, this test runs PostgreSQL as the `postgres` OS user (initdb and \
         postgres refuse root), and there is none: create it (`useradd postgres`) or run the \
         test as another user"
    );
    unsafe { ((*entry).pw_uid, (*entry).pw_gid) }
}

/// A port nothing listens on now (the server takes it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
