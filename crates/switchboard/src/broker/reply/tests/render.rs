//! The reply document: tool lines, notices, fences around them.

use super::super::fence::state_after;
use super::super::render::Document;
use super::super::{ReplyEvent, ToolDisplay};

const COMPACT_TITLE_CHARS: usize = 80;

fn text(s: &str) -> ReplyEvent {
    ReplyEvent::Text(s.to_owned())
}

fn started(id: &str, title: &str) -> ReplyEvent {
    ReplyEvent::ToolStarted {
        id: id.to_owned(),
        title: title.to_owned(),
        kind: "read".to_owned(),
        status: "pending".to_owned(),
    }
}

fn status(id: &str, status: &str) -> ReplyEvent {
    ReplyEvent::ToolUpdated {
        id: id.to_owned(),
        title: None,
        status: Some(status.to_owned()),
    }
}

fn render(display: ToolDisplay, events: Vec<ReplyEvent>) -> String {
    let mut doc = Document::new(display);
    for event in events {
        doc.apply(event);
    }
    doc.render()
}

fn look_then_done() -> Vec<ReplyEvent> {
    vec![
        text("Let me look.\n"),
        started("t1", "Read src/main.rs"),
        status("t1", "completed"),
        text("Done."),
    ]
}

#[test]
fn compact_tool_lines_are_updated_in_place() {
    let doc = render(ToolDisplay::Compact, look_then_done());
    assert_eq!(
        doc,
        "Let me look.\n`🔧 Read src/main.rs` — completed\nDone."
    );
}

#[test]
fn full_tool_lines_show_the_kind() {
    let doc = render(ToolDisplay::Full, look_then_done());
    assert_eq!(
        doc,
        "Let me look.\n`🔧 Read src/main.rs` · read — completed\nDone."
    );
}

#[test]
fn no_tool_lines_leaves_the_agent_text_exactly() {
    assert_eq!(
        render(ToolDisplay::None, look_then_done()),
        "Let me look.\nDone."
    );
}

#[test]
fn a_tool_line_mid_sentence_goes_on_its_own_line() {
    let doc = render(
        ToolDisplay::Compact,
        vec![text("Checking"), started("t", "ls"), text(" now")],
    );
    assert_eq!(doc, "Checking\n`🔧 ls` — pending\n now");
}

#[test]
fn titles_are_one_line_without_backticks_and_truncated() {
    let long = format!("run `cargo test`\n{}", "x".repeat(200));
    let doc = render(ToolDisplay::Compact, vec![started("t", &long)]);
    assert_eq!(doc.lines().count(), 1, "{doc:?}");
    assert_eq!(
        doc.matches('`').count(),
        2,
        "only the line's own backticks: {doc:?}"
    );
    assert!(doc.starts_with("`🔧 run ˋcargo testˋ xxx"));
    let title = doc
        .trim_end()
        .trim_start_matches("`🔧 ")
        .split('`')
        .next()
        .unwrap();
    assert_eq!(title.chars().count(), COMPACT_TITLE_CHARS);
    assert!(title.ends_with('…'));
}

#[test]
fn a_tool_event_inside_a_fence_closes_and_reopens_it() {
    let doc = render(
        ToolDisplay::Compact,
        vec![
            text("```rust\nfn main() {"),
            started("t", "cargo check"),
            text("}\n```\n"),
            status("t", "done"),
        ],
    );
    assert_eq!(
        doc,
        "```rust\nfn main() {\n```\n`🔧 cargo check` — done\n```rust\n}\n```\n"
    );
    assert_eq!(state_after(None, &doc), None);
}

#[test]
fn notices_are_italic_lines_of_their_own() {
    let doc = render(
        ToolDisplay::None,
        vec![
            text("partial"),
            ReplyEvent::Notice("⚠️ the agent *stopped* (exit status 3)".into()),
        ],
    );
    assert_eq!(
        doc,
        "partial\n*⚠️ the agent \\*stopped\\* (exit status 3)*\n"
    );
    let doc = render(
        ToolDisplay::None,
        vec![text("```\ncode"), ReplyEvent::Notice("cut off".into())],
    );
    assert_eq!(doc, "```\ncode\n```\n*cut off*\n```\n");
}

#[test]
fn an_update_to_a_sealed_line_adds_a_fresh_one() {
    let mut doc = Document::new(ToolDisplay::Compact);
    doc.apply(text("one\n"));
    doc.apply(started("t", "build"));
    doc.apply(text("two\n"));
    let first = doc.render();
    doc.seal(first.len());
    doc.apply(status("t", "completed"));
    assert_eq!(doc.render(), format!("{first}`🔧 build` — completed\n"));
    doc.apply(status("t", "failed"));
    assert_eq!(
        doc.render(),
        format!("{first}`🔧 build` — failed\n"),
        "the fresh line is live"
    );
}

#[test]
fn an_unknown_tool_update_still_shows_and_agent_text_is_verbatim() {
    let mut doc = Document::new(ToolDisplay::Compact);
    doc.apply(text("a"));
    doc.apply(ReplyEvent::ToolUpdated {
        id: "x".into(),
        title: Some("grep".into()),
        status: None,
    });
    doc.apply(text("b"));
    assert_eq!(doc.render(), "a\n`🔧 grep`\nb");
    assert_eq!(doc.into_agent_text(), "ab");
}

#[test]
fn an_answer_past_the_cap_is_cut_at_a_char_boundary_and_says_so_once() {
    use super::super::render::{MAX_ANSWER_BYTES, TRUNCATED};
    let mut doc = Document::new(ToolDisplay::Compact);
    // "é" is two bytes: the cap falls inside one.
    let chunk = "é".repeat(1_000);
    for _ in 0..(MAX_ANSWER_BYTES / chunk.len() + 5) {
        doc.apply(text(&chunk));
    }
    doc.apply(started("t1", "late tool"));
    doc.apply(ReplyEvent::Notice("late notice".into()));
    let out = doc.render();
    assert_eq!(out.matches(TRUNCATED).count(), 1, "said once");
    assert!(!out.contains("late tool") && !out.contains("late notice"));
    let agent = doc.into_agent_text();
    assert!(agent.len() <= MAX_ANSWER_BYTES && agent.len() > MAX_ANSWER_BYTES - 2);
    assert!(agent.chars().all(|c| c == 'é'));
}

#[test]
fn too_many_tool_lines_fill_the_document_too() {
    use super::super::render::{MAX_SEGMENTS, TRUNCATED};
    let mut doc = Document::new(ToolDisplay::Compact);
    for i in 0..MAX_SEGMENTS + 50 {
        doc.apply(started(&format!("t{i}"), "a tool"));
    }
    let out = doc.render();
    assert_eq!(out.matches(TRUNCATED).count(), 1);
    assert_eq!(out.matches("a tool").count(), MAX_SEGMENTS);
}
