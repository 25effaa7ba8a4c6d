//! The reply document: the agent's text with tool status lines and notices
//! at the points in the stream where they happened, rendered as one
//! Markdown string.
//!
//! Owns how tool lines and notices look and where they go. Must never alter
//! the agent's text: the rendered document is the agent's text with whole
//! lines added between its pieces, and with `ToolDisplay::None` and no
//! notices it is the agent's text exactly.
//!
//! An added line always sits on a line of its own (a newline is added
//! before it if the agent was mid-line) and never inside a code block: if
//! the agent's text is inside an open ``` fence at that point, the fence is
//! closed just before the line and reopened (same info string) just after
//! it. Tool titles and statuses are cleaned to one line without backticks,
//! so a tool line can never open, close or break a fence.
//!
//! A tool line is updated in place while it is in the part of the document
//! not yet sealed (see [`Document::seal`]); once the message holding it is
//! final, an update adds a fresh line for that tool at the end instead.
//!
//! Bounded: at most [`MAX_ANSWER_BYTES`] of the agent's text and
//! [`MAX_SEGMENTS`] pieces (tool lines, notices) are kept; past either the
//! document says so once ([`TRUNCATED`]) and ignores the rest of the turn
//! (the agent keeps running; the thread is told, nothing is silent).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Range;

use super::fence::FenceTracker;
use super::{ReplyEvent, ToolDisplay};

/// Compact tool lines show at most this much of a title.
const COMPACT_TITLE_CHARS: usize = 80;
/// Full tool lines show more, still on one line.
const FULL_TITLE_CHARS: usize = 400;
const FIELD_CHARS: usize = 40;
/// The most of the agent's text one reply shows (100 Discord messages).
pub const MAX_ANSWER_BYTES: usize = 200_000;
/// The most pieces (text stretches, tool lines, notices) one reply holds.
pub const MAX_SEGMENTS: usize = 2_000;
/// The notice added once the reply is full.
pub const TRUNCATED: &str =
    "The answer is too long to show here; the rest of this turn is not posted.";

#[derive(Debug)]
enum Segment {
    /// A stretch of the agent's text (a range of `Document::agent`).
    Agent(Range<usize>),
    Tool(Tool),
    Notice(String),
}

#[derive(Clone, Debug, Default)]
struct Tool {
    title: String,
    kind: String,
    status: String,
}

#[derive(Debug)]
pub struct Document {
    display: ToolDisplay,
    /// Exactly the concatenated `Text` events.
    agent: String,
    segments: Vec<Segment>,
    /// Tool call id -> index of the segment showing its current line.
    tools: HashMap<String, usize>,
    /// Per segment, where its own content began in the last render.
    starts: Vec<usize>,
    /// The rendered document before this offset is final.
    sealed_upto: usize,
    /// Full: the rest of the turn is ignored.
    truncated: bool,
}

impl Document {
    pub fn new(display: ToolDisplay) -> Self {
        Self {
            display,
            agent: String::new(),
            segments: Vec::new(),
            tools: HashMap::new(),
            starts: Vec::new(),
            sealed_upto: 0,
            truncated: false,
        }
    }

    /// Mark the document full, with its one notice.
    fn truncate(&mut self) {
        if !self.truncated {
            self.truncated = true;
            self.segments.push(Segment::Notice(TRUNCATED.to_owned()));
        }
    }

    pub fn into_agent_text(self) -> String {
        self.agent
    }

    pub fn apply(&mut self, event: ReplyEvent) {
        if self.truncated {
            return;
        }
        if self.segments.len() >= MAX_SEGMENTS {
            self.truncate();
            return;
        }
        match event {
            ReplyEvent::Text(text) => self.push_text(&text),
            ReplyEvent::ToolStarted {
                id,
                title,
                kind,
                status,
            } => {
                self.upsert_tool(id, move |tool| {
                    Tool {
                        title,
                        kind,
                        status,
                    }
                    .or(tool)
                });
            }
            ReplyEvent::ToolUpdated { id, title, status } => self.upsert_tool(id, |tool| {
                let mut tool = tool.cloned().unwrap_or_default();
                tool.title = title.unwrap_or(tool.title);
                tool.status = status.unwrap_or(tool.status);
                tool
            }),
            ReplyEvent::Notice(notice) => {
                if !clean(&notice, usize::MAX).is_empty() {
                    self.segments.push(Segment::Notice(notice));
                }
            }
        }
    }

    /// Declare the rendered document before `offset` final (it has gone
    /// out in messages that will not be edited again).
    pub fn seal(&mut self, offset: usize) {
        self.sealed_upto = offset;
    }

    /// The whole document as Markdown.
    pub fn render(&mut self) -> String {
        let mut out = String::with_capacity(self.agent.len() + 64 * self.tools.len());
        let mut fences = FenceTracker::default();
        self.starts.clear();
        for segment in &self.segments {
            let start = match segment {
                Segment::Agent(range) => {
                    let start = out.len();
                    out.push_str(&self.agent[range.clone()]);
                    start
                }
                Segment::Tool(tool) => put_line(&mut out, &mut fences, &tool.line(self.display)),
                Segment::Notice(notice) => put_line(&mut out, &mut fences, &notice_line(notice)),
            };
            self.starts.push(start);
        }
        out
    }

    fn push_text(&mut self, text: &str) {
        let room = MAX_ANSWER_BYTES.saturating_sub(self.agent.len());
        let text = if text.len() > room {
            let mut cut = room;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            &text[..cut]
        } else {
            text
        };
        let full = self.agent.len() + text.len() >= MAX_ANSWER_BYTES;
        self.push_agent(text);
        if full {
            self.truncate();
        }
    }

    fn push_agent(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let start = self.agent.len();
        self.agent.push_str(text);
        match self.segments.last_mut() {
            Some(Segment::Agent(range)) => range.end = self.agent.len(),
            _ => self.segments.push(Segment::Agent(start..self.agent.len())),
        }
    }

    /// Set a tool's line to `update(current)`: in place if its line is not
    /// sealed, else as a new line at the end.
    fn upsert_tool(&mut self, id: String, update: impl FnOnce(Option<&Tool>) -> Tool) {
        if self.display == ToolDisplay::None {
            return;
        }
        let current = self.tools.get(&id).copied();
        let current_tool = current.and_then(|index| match &self.segments[index] {
            Segment::Tool(tool) => Some(tool),
            _ => None,
        });
        let tool = update(current_tool);
        match current {
            Some(index) if !self.is_sealed(index) => self.segments[index] = Segment::Tool(tool),
            _ => {
                self.tools.insert(id, self.segments.len());
                self.segments.push(Segment::Tool(tool));
            }
        }
    }

    /// Whether segment `index` began in the sealed part of the last render
    /// (segments added since then are never sealed).
    fn is_sealed(&self, index: usize) -> bool {
        self.starts
            .get(index)
            .is_some_and(|&start| start < self.sealed_upto)
    }
}

impl Tool {
    /// A started event for a tool already shown keeps what it does not set.
    fn or(mut self, known: Option<&Tool>) -> Tool {
        if let Some(known) = known {
            for (field, old) in [
                (&mut self.title, &known.title),
                (&mut self.kind, &known.kind),
                (&mut self.status, &known.status),
            ] {
                if field.is_empty() {
                    field.clone_from(old);
                }
            }
        }
        self
    }

    fn line(&self, display: ToolDisplay) -> String {
        let title_chars = if display == ToolDisplay::Full {
            FULL_TITLE_CHARS
        } else {
            COMPACT_TITLE_CHARS
        };
        let title = clean(&self.title, title_chars);
        let mut line = format!("`🔧 {}`", if title.is_empty() { "tool" } else { &title });
        let kind = clean(&self.kind, FIELD_CHARS);
        if display == ToolDisplay::Full && !kind.is_empty() {
            let _ = write!(line, " · {kind}");
        }
        let status = clean(&self.status, FIELD_CHARS);
        if !status.is_empty() {
            let _ = write!(line, " — {status}");
        }
        line
    }
}

/// A notice in italics; `*` inside is escaped so it cannot end them early.
fn notice_line(notice: &str) -> String {
    format!("*{}*", clean(notice, usize::MAX).replace('*', "\\*"))
}

/// One line of at most `max_chars` chars, without backticks (they become
/// `ˋ`, which looks alike and means nothing to Markdown).
fn clean(text: &str, max_chars: usize) -> String {
    let one_line: String = text
        .chars()
        .map(|c| {
            if c == '`' {
                'ˋ'
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    let trimmed = one_line.trim();
    if trimmed.chars().count() <= max_chars {
        return trimmed.to_owned();
    }
    let mut short: String = trimmed.chars().take(max_chars.saturating_sub(1)).collect();
    short.push('…');
    short
}

/// Append `line` on a line of its own and outside any open code fence;
/// returns where the line itself begins.
fn put_line(out: &mut String, fences: &mut FenceTracker, line: &str) -> usize {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    fences.catch_up(out);
    let open = fences.state().cloned();
    if let Some(fence) = &open {
        out.push_str(&fence.close_line());
        out.push('\n');
    }
    let start = out.len();
    out.push_str(line);
    out.push('\n');
    if let Some(fence) = &open {
        out.push_str(&fence.reopen_line());
        out.push('\n');
    }
    start
}
