//! Markdown code fences as a reply sees them: which lines open and close a
//! ``` block, and the lines that close and reopen one around an inserted
//! line or a message boundary.
//!
//! Owns the single definition of "a fence line" that the document renderer,
//! the splitter and the tests all use, so their views cannot drift apart.
//! Must never look beyond a line: a fence opens or closes only on a line of
//! its own, and a line's effect is known once the line is complete.
//!
//! A fence line is optional spaces or tabs, then three or more backticks.
//! An opener's info string (the rest of the line) may not contain a backtick
//! (as in CommonMark, so "```x```" is not a fence); a closer has at least as
//! many backticks as its opener and nothing after them but whitespace.
//! `~~~` is not a fence: Discord does not render it as one.

/// An open code fence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    ticks: usize,
    info: String,
}

/// Info strings longer than this are not repeated when a fence is reopened
/// (a language tag is short; a long one would eat the message budget).
const MAX_REOPEN_INFO_CHARS: usize = 40;

impl Fence {
    /// The line that closes this fence (without its newline).
    pub fn close_line(&self) -> String {
        "`".repeat(self.ticks)
    }

    /// The line that reopens this fence with the same info string (without
    /// its newline), e.g. "```rust".
    pub fn reopen_line(&self) -> String {
        let mut line = self.close_line();
        if self.info.chars().count() <= MAX_REOPEN_INFO_CHARS {
            line.push_str(&self.info);
        }
        line
    }
}

/// The backtick run a line starts with (after indentation), if it is at
/// least three long, and what follows it.
fn backtick_run(line: &str) -> Option<(usize, &str)> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let text = line.trim_start_matches([' ', '\t']);
    let ticks = text.len() - text.trim_start_matches('`').len();
    if ticks >= 3 {
        Some((ticks, &text[ticks..]))
    } else {
        None
    }
}

/// Advance `state` over one complete line (given without its newline).
pub fn feed_line(state: &mut Option<Fence>, line: &str) {
    let Some((ticks, rest)) = backtick_run(line) else {
        return;
    };
    match state {
        None if !rest.contains('`') => {
            *state = Some(Fence {
                ticks,
                info: rest.trim().to_owned(),
            });
        }
        Some(open) if ticks >= open.ticks && rest.trim().is_empty() => *state = None,
        _ => {}
    }
}

/// The fence state after `text`, starting from `state`. Every line counts
/// as complete, the last one too even without its newline: that is how a
/// message ending there is read.
pub fn state_after(mut state: Option<Fence>, text: &str) -> Option<Fence> {
    for line in text.split('\n') {
        feed_line(&mut state, line);
    }
    state
}

/// Follows the fence state of a growing text, one complete line at a time.
#[derive(Debug, Default)]
pub struct FenceTracker {
    state: Option<Fence>,
    scanned: usize,
}

impl FenceTracker {
    /// Read the complete lines of `text` not read yet. `text` may only have
    /// grown since the previous call.
    pub fn catch_up(&mut self, text: &str) {
        let Some(last_newline) = text[self.scanned..].rfind('\n') else {
            return;
        };
        let end = self.scanned + last_newline;
        for line in text[self.scanned..end].split('\n') {
            feed_line(&mut self.state, line);
        }
        self.scanned = end + 1;
    }

    /// The fence open after the lines read so far.
    pub fn state(&self) -> Option<&Fence> {
        self.state.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fence(ticks: usize, info: &str) -> Option<Fence> {
        Some(Fence {
            ticks,
            info: info.to_owned(),
        })
    }

    #[test]
    fn openers_closers_and_lookalikes() {
        assert_eq!(state_after(None, "```rust"), fence(3, "rust"));
        assert_eq!(state_after(None, "  ```  py  \n"), fence(3, "py"));
        assert_eq!(state_after(None, "````\nx"), fence(4, ""));
        assert_eq!(
            state_after(None, "```x```"),
            None,
            "inline triple backticks are not a fence"
        );
        assert_eq!(state_after(None, "``not\n~~~\ntext ```"), None);
        assert_eq!(state_after(None, "```rust\nfn f() {}\n```"), None);
        assert_eq!(
            state_after(None, "```\r\ncode\r\n```\r\n"),
            None,
            "CRLF lines"
        );
    }

    #[test]
    fn a_closer_needs_enough_backticks_and_no_info() {
        assert_eq!(
            state_after(None, "````md\n```\n"),
            fence(4, "md"),
            "three cannot close four"
        );
        assert_eq!(
            state_after(None, "```\n```rust\n"),
            fence(3, ""),
            "an info string does not close"
        );
        assert_eq!(state_after(None, "```\n`````\n"), None);
    }

    #[test]
    fn reopen_repeats_the_info_string_unless_it_is_long() {
        assert_eq!(fence(3, "rust").unwrap().reopen_line(), "```rust");
        assert_eq!(fence(4, "").unwrap().close_line(), "````");
        let long = "x".repeat(MAX_REOPEN_INFO_CHARS + 1);
        assert_eq!(fence(3, &long).unwrap().reopen_line(), "```");
    }

    #[test]
    fn the_tracker_reads_only_complete_lines() {
        let mut tracker = FenceTracker::default();
        let mut text = String::from("intro\n```ru");
        tracker.catch_up(&text);
        assert_eq!(tracker.state(), None, "the opener line is not complete yet");
        text.push_str("st\nlet x = 1;\n");
        tracker.catch_up(&text);
        assert_eq!(tracker.state(), fence(3, "rust").as_ref());
        text.push_str("```\n");
        tracker.catch_up(&text);
        assert_eq!(tracker.state(), None);
    }
}
