//! Slack mrkdwn read back as Markdown: for text switchboard posted earlier
//! and must now change through the Markdown path again (a reply cut short
//! by a crash gets an "interrupted" line appended), so that converting the
//! result once more gives the same message, not a doubly escaped one.
//!
//! Owns only the inverse of what `to_mrkdwn` generates: entities, bold,
//! italics, strike, links, bullets, task boxes, quotes and rules. Must never
//! touch the content of code blocks beyond unescaping it.

use super::inline::{Dialect, inline};
use super::{closes, opens};
use crate::chat::slack::events::unescape;

/// Markdown whose `to_mrkdwn` is (close to) `mrkdwn`.
pub fn to_markdown(mrkdwn: &str) -> String {
    let mut out = String::with_capacity(mrkdwn.len());
    let mut open_fence: Option<usize> = None;
    for (n, line) in mrkdwn.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        match open_fence {
            Some(ticks) if closes(line, ticks) => {
                out.push_str(line);
                open_fence = None;
            }
            // Zero-width spaces in backtick runs stay: they keep the block whole.
            Some(_) => out.push_str(&unescape(line)),
            None => match opens(line) {
                Some(ticks) => {
                    out.push_str(line);
                    open_fence = Some(ticks);
                }
                None => block_line(line, &mut out),
            },
        }
    }
    out
}

fn block_line(line: &str, out: &mut String) {
    let trimmed = line.trim_start_matches([' ', '\t']);
    let indent = &line[..line.len() - trimmed.len()];
    if trimmed.chars().count() >= 3 && trimmed.chars().all(|c| c == '─') {
        out.push_str("---");
    } else if let Some(quoted) = trimmed.strip_prefix('>') {
        out.push_str("> ");
        block_line(quoted.strip_prefix(' ').unwrap_or(quoted), out);
    } else if let Some(item) = trimmed.strip_prefix("• ") {
        out.push_str(indent);
        out.push_str("- ");
        let item = match (item.strip_prefix("☐ "), item.strip_prefix("☑ ")) {
            (Some(rest), _) => {
                out.push_str("[ ] ");
                rest
            }
            (_, Some(rest)) => {
                out.push_str("[x] ");
                rest
            }
            _ => item,
        };
        inline(item, Dialect::Mrkdwn, out);
    } else {
        inline(line, Dialect::Mrkdwn, out);
    }
}
