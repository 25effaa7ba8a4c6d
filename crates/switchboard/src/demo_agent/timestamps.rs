//! `--timestamps-file`: the demo agent appends one line per event a
//! benchmark needs to time, on the monotonic clock shared by every process
//! of the machine (`CLOCK_MONOTONIC`, which is also what `std::time::Instant`
//! reads on Linux):
//!
//! ```text
//! prompt <ns> <prompt text>       when a session/prompt line was read
//! chunk <ns> <chunk text>         just before the turn's first
//!                                 agent_message_chunk was written
//! response <ns> <id> <result>     when the client's answer to one of the
//!                                 agent's own requests (a permission
//!                                 request) was read; result is its JSON
//! ```
//!
//! Newlines in the text are written as `\n`. Each line is one `write` on a
//! file opened for appending, so several agents can share one file.
//!
//! Owns: that file. Must never: write to stdout, or slow a turn when no
//! file is configured.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// Where the timestamps go (nowhere by default).
#[derive(Debug, Default)]
pub struct Timestamps {
    file: Option<Mutex<File>>,
}

impl Timestamps {
    /// Append to `path` if given; an unopenable file is reported on stderr
    /// and timestamps are then not written.
    pub fn open(path: Option<&Path>) -> Self {
        let file = path.and_then(|path| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|err| {
                    eprintln!(
                        "demo-agent: cannot open the timestamps file {}: {err}",
                        path.display()
                    );
                })
                .ok()
        });
        Self {
            file: file.map(Mutex::new),
        }
    }

    pub fn enabled(&self) -> bool {
        self.file.is_some()
    }

    /// Append `<kind> <at_ns> <text>`.
    pub fn record(&self, kind: &str, at_ns: u64, text: &str) {
        let Some(file) = &self.file else { return };
        let line = format!("{kind} {at_ns} {}\n", text.replace('\n', "\\n"));
        let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(err) = file.write_all(line.as_bytes()) {
            eprintln!("demo-agent: cannot write a timestamp: {err}");
        }
    }
}

/// Nanoseconds on `CLOCK_MONOTONIC`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_appended_with_escaped_newlines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ts");
        let ts = Timestamps::open(Some(&path));
        assert!(ts.enabled());
        ts.record("prompt", 12, "a\nb");
        Timestamps::open(Some(&path)).record("chunk", 13, "echo: a");
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "prompt 12 a\\nb\nchunk 13 echo: a\n");
        assert!(!Timestamps::open(None).enabled());
    }

    #[test]
    fn the_clock_is_the_one_instant_reads() {
        let before = std::time::Instant::now();
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a);
        assert!(before.elapsed().as_secs() < 5);
    }
}
