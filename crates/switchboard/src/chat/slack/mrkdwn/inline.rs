//! Inline spans of one line: code spans, links, emphasis, and escaping.
//!
//! Owns the pairing rules for emphasis markers, in both directions
//! (Markdown -> mrkdwn, and mrkdwn -> Markdown for text read back). A marker
//! pairs only at word edges (never inside `snake_case` or `a*b`), its inner
//! text neither starts nor ends with a space, and a code span is never
//! searched for markers. Unpaired markers stay as they were. Must never
//! look past the line it is given.

/// Which way a line is converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dialect {
    /// Markdown in, mrkdwn out; `in_bold` drops bold markers inside an
    /// already bold span (a heading).
    Markdown { in_bold: bool },
    /// mrkdwn in, Markdown out.
    Mrkdwn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Bold,
    Italic,
    Strike,
}

/// `&`, `<`, `>` as Slack's entities.
pub(super) fn escape_into(text: &str, out: &mut String) {
    for c in text.chars() {
        escape_char(c, out);
    }
}

fn escape_char(c: char, out: &mut String) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        c => out.push(c),
    }
}

/// Plain text for the output dialect: escaped for mrkdwn, unescaped for
/// Markdown.
fn text_into(text: &str, dialect: Dialect, out: &mut String) {
    match dialect {
        Dialect::Markdown { .. } => escape_into(text, out),
        Dialect::Mrkdwn => out.push_str(&crate::chat::slack::events::unescape(text)),
    }
}

/// Convert one line (or part of one) into `out`.
pub(super) fn inline(text: &str, dialect: Dialect, out: &mut String) {
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        let consumed = match (c, dialect) {
            ('`', _) => code_span(&text[i..], dialect, out),
            ('[' | '!', Dialect::Markdown { .. }) => link(&text[i..], out),
            ('<', _) => angle_link(&text[i..], dialect, out),
            ('*' | '_' | '~', _) => emphasis(text, i, dialect, out),
            ('&', Dialect::Mrkdwn) => entity(&text[i..], out),
            _ => None,
        };
        match consumed {
            Some(len) => i += len,
            None => {
                match dialect {
                    Dialect::Markdown { .. } => escape_char(c, out),
                    Dialect::Mrkdwn => out.push(c),
                }
                i += c.len_utf8();
            }
        }
    }
}

/// `&lt;` `&gt;` `&amp;` read back as the characters.
fn entity(rest: &str, out: &mut String) -> Option<usize> {
    for (entity, c) in [("&lt;", '<'), ("&gt;", '>'), ("&amp;", '&')] {
        if rest.starts_with(entity) {
            out.push(c);
            return Some(entity.len());
        }
    }
    None
}

fn run_of(text: &str, c: char) -> usize {
    text.len() - text.trim_start_matches(c).len()
}

/// Where the code span opening `rest` ends (its closing run's end), and
/// the content, when a run of exactly as many backticks closes it.
fn code_span_end(rest: &str) -> Option<(usize, &str)> {
    let ticks = run_of(rest, '`');
    let mut at = ticks;
    while let Some(found) = rest[at..].find('`') {
        let start = at + found;
        let run = run_of(&rest[start..], '`');
        if run == ticks {
            return Some((start + run, &rest[ticks..start]));
        }
        at = start + run;
    }
    None
}

/// A code span: its content only escaped (or unescaped). A span whose
/// content has no backtick becomes Slack's single-backtick code.
fn code_span(rest: &str, dialect: Dialect, out: &mut String) -> Option<usize> {
    let ticks = run_of(rest, '`');
    let Some((end, content)) = code_span_end(rest) else {
        match dialect {
            // A lone ``` mid-line is text in Markdown, but Slack would open
            // a code block at it.
            Dialect::Markdown { .. } if ticks >= 3 => super::push_broken_run(ticks, out),
            _ => out.push_str(&rest[..ticks]),
        }
        return Some(ticks);
    };
    let fence = if content.contains('`') || ticks >= 3 {
        &rest[..ticks]
    } else {
        "`"
    };
    out.push_str(fence);
    text_into(content, dialect, out);
    out.push_str(fence);
    Some(end)
}

/// `[label](url "title")` or `![alt](url)`: `<url|label>` when the target
/// is a URL, else `label (target)`.
fn link(rest: &str, out: &mut String) -> Option<usize> {
    let start = usize::from(rest.starts_with('!'));
    let body = rest[start..].strip_prefix('[')?;
    let mut depth = 0usize;
    let label_end = body.char_indices().find_map(|(i, c)| match c {
        '[' => {
            depth += 1;
            None
        }
        ']' if depth == 0 => Some(i),
        ']' => {
            depth -= 1;
            None
        }
        _ => None,
    })?;
    let label = &body[..label_end];
    let target = body[label_end + 1..].strip_prefix('(')?;
    let close = target.find(')')?;
    let inside = target[..close].trim();
    let url = inside.split_whitespace().next().unwrap_or("");
    if url.is_empty() {
        return None;
    }
    let len = start + 1 + label_end + 2 + close + 1;
    let is_url = url.contains("://") || url.starts_with("mailto:");
    if is_url && !url.contains(['<', '>']) {
        out.push('<');
        escape_into(&url.replace('|', "%7C"), out);
        if !label.trim().is_empty() {
            out.push('|');
            escape_into(label, out);
        }
        out.push('>');
    } else {
        escape_into(label, out);
        out.push_str(" (");
        escape_into(url, out);
        out.push(')');
    }
    Some(len)
}

/// An `<https://...>` autolink (Markdown), or Slack's `<url|label>` and
/// `<url>` link markup (mrkdwn). Other `<` are text.
fn angle_link(rest: &str, dialect: Dialect, out: &mut String) -> Option<usize> {
    let end = rest.find('>')?;
    let inner = &rest[1..end];
    if inner.is_empty() || inner.contains(['<', ' ', '\t']) {
        return None;
    }
    let (url, label) = inner.split_once('|').unwrap_or((inner, ""));
    if !(url.contains("://") || url.starts_with("mailto:")) {
        return None;
    }
    match dialect {
        Dialect::Markdown { .. } if label.is_empty() => {
            out.push('<');
            escape_into(url, out);
            out.push('>');
        }
        Dialect::Markdown { .. } => return None,
        Dialect::Mrkdwn if label.is_empty() => {
            out.push('<');
            text_into(url, dialect, out);
            out.push('>');
        }
        Dialect::Mrkdwn => {
            out.push('[');
            text_into(label, dialect, out);
            out.push_str("](");
            text_into(url, dialect, out);
            out.push(')');
        }
    }
    Some(end + 1)
}

/// The style a run of `c` opens, and how many markers it takes.
fn style_of(c: char, run: usize, dialect: Dialect) -> Option<(Style, usize)> {
    match (dialect, c, run) {
        (Dialect::Markdown { .. }, '~', 2..) => Some((Style::Strike, 2)),
        (Dialect::Markdown { .. }, '~', _) => None,
        (Dialect::Markdown { .. }, _, 2..) => Some((Style::Bold, 2)),
        (Dialect::Markdown { .. }, _, _) => Some((Style::Italic, 1)),
        (Dialect::Mrkdwn, _, 1) => Some((
            match c {
                '*' => Style::Bold,
                '_' => Style::Italic,
                _ => Style::Strike,
            },
            1,
        )),
        (Dialect::Mrkdwn, _, _) => None,
    }
}

/// The markers a style is written with in the output dialect.
fn marker(style: Style, dialect: Dialect) -> &'static str {
    match (dialect, style) {
        (Dialect::Markdown { in_bold: true }, Style::Bold) => "",
        (Dialect::Markdown { .. }, Style::Bold) => "*",
        (Dialect::Markdown { .. }, Style::Italic) => "_",
        (Dialect::Markdown { .. }, Style::Strike) => "~",
        (Dialect::Mrkdwn, Style::Bold) => "**",
        (Dialect::Mrkdwn, Style::Italic) => "_",
        (Dialect::Mrkdwn, Style::Strike) => "~~",
    }
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(char::is_alphanumeric)
}

fn is_space(c: Option<char>) -> bool {
    c.is_none_or(char::is_whitespace)
}

/// An emphasis span opening at `text[i..]`: converted into `out`, its
/// length returned. An opener that pairs with nothing is copied as it is.
fn emphasis(text: &str, i: usize, dialect: Dialect, out: &mut String) -> Option<usize> {
    let c = text[i..].chars().next()?;
    let run = run_of(&text[i..], c);
    let paired = style_of(c, run, dialect).and_then(|(style, len)| {
        let before = text[..i].chars().next_back();
        let after = text[i + len..].chars().next();
        if is_word(before) || is_space(after) {
            return None;
        }
        let close = closer(text, i + len, c, len)?;
        Some((style, len, close))
    });
    let Some((style, len, close)) = paired else {
        // Copied whole, so its other markers are not tried one by one.
        out.push_str(&text[i..i + run]);
        return Some(run);
    };
    let inner_dialect = match (dialect, style) {
        (Dialect::Markdown { .. }, Style::Bold) => Dialect::Markdown { in_bold: true },
        _ => dialect,
    };
    let mark = marker(style, dialect);
    out.push_str(mark);
    inline(&text[i + len..close], inner_dialect, out);
    out.push_str(mark);
    Some(close + len - i)
}

/// Where the closing markers (`len` of `c`) of a span whose inner text
/// starts at `from` begin. A closer follows a non-space, is not followed by
/// a letter or digit, and leaves the inner text non-empty; a single marker
/// never closes on a double run (that is another span's pair).
fn closer(text: &str, from: usize, c: char, len: usize) -> Option<usize> {
    let mut at = from;
    while at < text.len() {
        let rest = &text[at..];
        let next = rest.chars().next()?;
        if next == '`' {
            at += code_span_end(rest).map_or_else(|| run_of(rest, '`'), |(end, _)| end);
            continue;
        }
        if next != c {
            at += next.len_utf8();
            continue;
        }
        let run = run_of(rest, c);
        let usable = if len == 1 { run != 2 } else { run >= len };
        let close = at + run - len;
        if usable
            && close > from
            && !is_space(text[..close].chars().next_back())
            && !is_word(text[close + len..].chars().next())
        {
            return Some(close);
        }
        at += run;
    }
    None
}
