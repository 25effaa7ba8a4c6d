//! Markdown (what agents write) -> Slack mrkdwn (what Slack renders), and
//! back for text read from Slack.
//!
//! Owns the line-level rules: code fences (kept whole, language tag
//! dropped, content only escaped), headings (a bold line), bullets (`•`),
//! task boxes, block quotes and rules; inline spans are in `inline`.
//! Must never break a code block: every ``` opened is closed, and a fence
//! the input leaves open is closed at the end. `&`, `<` and `>` are escaped
//! everywhere (code included) except in the markup generated here.
//!
//! A fence line is as the reply splitter reads it: optional spaces or tabs,
//! then three or more backticks; an opener's info string has no backtick; a
//! closer has at least as many backticks and nothing else. Inside a code
//! block a run of three or more backticks gets zero-width spaces between
//! them (Slack would end the block there); that is the one change to code.
//! Outside code blocks, a run of three or more that is neither a fence line
//! nor a code span's delimiter gets the same, since Slack reads ``` anywhere
//! in a line and would open a block there.

mod inline;
mod reverse;

pub use reverse::to_markdown;

use inline::{Dialect, escape_into, inline};

/// `text` with `&`, `<` and `>` as Slack's entities, and nothing else
/// changed.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(text, &mut out);
    out
}

/// The Slack mrkdwn rendering of `markdown`.
pub fn to_mrkdwn(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len() + markdown.len() / 8 + 8);
    let mut open_fence: Option<usize> = None;
    for (n, raw) in markdown.split('\n').enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let (line, cr) = match raw.strip_suffix('\r') {
            Some(line) => (line, "\r"),
            None => (raw, ""),
        };
        match open_fence {
            Some(ticks) if closes(line, ticks) => {
                out.push_str("```");
                open_fence = None;
            }
            Some(_) => code_line(line, &mut out),
            None => match opens(line) {
                Some(ticks) => {
                    out.push_str("```");
                    open_fence = Some(ticks);
                }
                None => block_line(line, &mut out),
            },
        }
        out.push_str(cr);
    }
    if open_fence.is_some() {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str("```");
    }
    out
}

/// A line inside a code block: escaped, and any run of three or more
/// backticks interleaved with zero-width spaces, since Slack would end the
/// block at it.
fn code_line(line: &str, out: &mut String) {
    let mut rest = line;
    while let Some(at) = rest.find('`') {
        escape_into(&rest[..at], out);
        let run = rest[at..].len() - rest[at..].trim_start_matches('`').len();
        if run >= 3 {
            push_broken_run(run, out);
        } else {
            out.push_str(&rest[at..at + run]);
        }
        rest = &rest[at + run..];
    }
    escape_into(rest, out);
}

/// What splits a backtick run so that Slack reads no fence in it.
const ZERO_WIDTH_SPACE: &str = "\u{200B}";

/// `run` backticks interleaved with zero-width spaces: shown as backticks,
/// but never a code block delimiter to Slack (which reads ``` anywhere).
pub(super) fn push_broken_run(run: usize, out: &mut String) {
    out.push('`');
    for _ in 1..run {
        out.push_str(ZERO_WIDTH_SPACE);
        out.push('`');
    }
}

/// The backticks a fence line starts with (after spaces or tabs), if at
/// least three, and what follows them.
pub(super) fn backtick_fence(line: &str) -> Option<(usize, &str)> {
    let text = line.trim_start_matches([' ', '\t']);
    let ticks = text.len() - text.trim_start_matches('`').len();
    (ticks >= 3).then(|| (ticks, &text[ticks..]))
}

/// The opener's backtick count when `line` opens a fence.
fn opens(line: &str) -> Option<usize> {
    backtick_fence(line)
        .filter(|(_, info)| !info.contains('`'))
        .map(|(ticks, _)| ticks)
}

fn closes(line: &str, ticks: usize) -> bool {
    backtick_fence(line).is_some_and(|(n, rest)| n >= ticks && rest.trim().is_empty())
}

/// One line outside code blocks.
fn block_line(line: &str, out: &mut String) {
    let trimmed = line.trim_start_matches([' ', '\t']);
    let indent = &line[..line.len() - trimmed.len()];
    if let Some(title) = heading(line) {
        if !title.is_empty() {
            out.push('*');
            inline(title, Dialect::Markdown { in_bold: true }, out);
            out.push('*');
        }
    } else if is_rule(trimmed) {
        out.push_str("──────────");
    } else if let Some(quoted) = trimmed.strip_prefix('>') {
        out.push_str("> ");
        block_line(quoted.strip_prefix(' ').unwrap_or(quoted), out);
    } else if let Some(item) = bullet(trimmed) {
        out.push_str(indent);
        out.push_str("• ");
        let (boxed, item) = task_box(item);
        out.push_str(boxed);
        inline(item, Dialect::Markdown { in_bold: false }, out);
    } else {
        inline(line, Dialect::Markdown { in_bold: false }, out);
    }
}

/// A heading's text (`# Title #` -> `Title`), for up to 3 spaces of indent.
fn heading(line: &str) -> Option<&str> {
    let text = line.strip_prefix("   ").or_else(|| line.strip_prefix("  "));
    let text = text.or_else(|| line.strip_prefix(' ')).unwrap_or(line);
    let hashes = text.len() - text.trim_start_matches('#').len();
    if !(1..=6).contains(&hashes) {
        return None;
    }
    let rest = &text[hashes..];
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    let rest = rest.trim();
    // A closing run of '#' goes when a space precedes it.
    let without = rest.trim_end_matches('#');
    let title = if without.is_empty() || without.ends_with([' ', '\t']) {
        without.trim_end()
    } else {
        rest
    };
    Some(title)
}

/// `---`, `***`, `___` (three or more of one, spaces allowed).
fn is_rule(trimmed: &str) -> bool {
    let marks: Vec<char> = trimmed
        .chars()
        .filter(|c| !matches!(c, ' ' | '\t'))
        .collect();
    marks.len() >= 3 && matches!(marks[0], '-' | '*' | '_') && marks.iter().all(|&c| c == marks[0])
}

/// The text of a `-`, `*` or `+` list item.
fn bullet(trimmed: &str) -> Option<&str> {
    let rest = trimmed.strip_prefix(['-', '*', '+'])?;
    if rest.is_empty() {
        return Some(rest);
    }
    rest.strip_prefix([' ', '\t']).map(|item| item.trim_start())
}

/// `[ ] x` / `[x] x` as a ballot box, and the rest of the item.
fn task_box(item: &str) -> (&'static str, &str) {
    for (prefix, shown) in [("[ ] ", "☐ "), ("[x] ", "☑ "), ("[X] ", "☑ ")] {
        if let Some(rest) = item.strip_prefix(prefix) {
            return (shown, rest);
        }
    }
    ("", item)
}

#[cfg(test)]
mod tests;
