//! The demo's terminal: one writer for the chat, so a whole line (a notice,
//! a connection event, the echo of what was posted) always starts on a line
//! of its own, even right after streamed text that ended mid-line.
//!
//! Owns stdout for the demo; never writes log lines (those go to the file).

use std::io::Write as _;
use std::sync::Mutex;

/// Whether the cursor is at the start of a line.
static AT_LINE_START: Mutex<bool> = Mutex::new(true);

fn write(text: &str, new_line_first: bool) {
    let mut at_start = AT_LINE_START.lock().unwrap_or_else(|p| p.into_inner());
    let mut out = std::io::stdout().lock();
    if new_line_first && !*at_start {
        let _ = out.write_all(b"\n");
        *at_start = true;
    }
    if text.is_empty() {
        return;
    }
    let _ = out.write_all(text.as_bytes());
    // Streamed text shows as it arrives, without waiting for a newline.
    let _ = out.flush();
    *at_start = text.ends_with('\n');
}

/// Print `text` as whole lines, starting on a fresh line.
pub fn line(text: &str) {
    write(&format!("{text}\n"), true);
}

/// Start a new block (a bot message) on a fresh line, without ending it:
/// what streams in next continues it.
pub fn start(text: &str) {
    write(text, true);
}

/// Continue the current block with streamed text.
pub fn more(text: &str) {
    write(text, false);
}
