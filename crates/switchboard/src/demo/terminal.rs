//! The demo's terminal: one writer for the chat, so a whole line (a notice,
//! a connection event, the echo of what was posted) always starts on a line
//! of its own, even right after streamed text that ended mid-line; and how
//! a bot message's new text is shown (its growth continues its block, an
//! edit in the middle or after another message starts a new one).
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

/// Show `shown`, the new text of a bot message that was printed as `seen`
/// (empty: not yet); `continues` when it is the block printed last.
pub fn bot_message(seen: &str, shown: &str, continues: bool) {
    match update(seen, shown, continues) {
        Update::More(text) => more(text),
        Update::Block(text) => start(&text),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Update<'a> {
    /// Continue the current block.
    More(&'a str),
    /// A new block.
    Block(String),
}

/// Growth of the last block continues it; anything else starts a block:
/// the whole message when its first line changed, else `…` and the
/// message from its first changed line (what is printed cannot be taken
/// back, so only the changed part is printed again).
fn update<'a>(seen: &str, shown: &'a str, continues: bool) -> Update<'a> {
    let common = seen
        .bytes()
        .zip(shown.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    if continues && !seen.is_empty() && common == seen.len() {
        return Update::More(&shown[common..]);
    }
    let line_start = shown.as_bytes()[..common]
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    if line_start == 0 {
        Update::Block(format!("[bot] {shown}"))
    } else {
        Update::Block(format!("[bot] …{}", &shown[line_start..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn growth_continues_and_edits_start_at_the_changed_line() {
        assert_eq!(update("", "hi", false), Update::Block("[bot] hi".into()));
        assert_eq!(update("hi", "hi there", true), Update::More(" there"));
        // Another message was printed in between: the line is shown again.
        assert_eq!(
            update("one\ntw", "one\ntwo\nthree", false),
            Update::Block("[bot] …two\nthree".into())
        );
        // A tool line's status changed.
        assert_eq!(
            update(
                "a\n`🔧 Edit` — in_progress",
                "a\n`🔧 Edit` — completed\nok",
                true
            ),
            Update::Block("[bot] …`🔧 Edit` — completed\nok".into())
        );
        // The first line changed (a prompt replaced by its decision).
        assert_eq!(
            update(
                "🔐 Permission needed\n[1] Allow",
                "🔐 **Edit**: Allowed",
                true
            ),
            Update::Block("[bot] 🔐 **Edit**: Allowed".into())
        );
    }
}
