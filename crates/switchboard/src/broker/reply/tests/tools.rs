//! Tool lines and notices through the whole write loop.

use std::time::Duration;

use tokio::time::sleep;

use super::super::{ReplyConfig, ReplyEvent, ToolDisplay};
use super::fake::FakeChat;
use super::streaming::{
    LIMIT, assert_paced, assert_well_formed, expected, long_reply, send_chunks, start,
};

fn config(tool_display: ToolDisplay) -> ReplyConfig {
    ReplyConfig {
        tool_display,
        ..ReplyConfig::default()
    }
}

fn started(id: &str, title: &str) -> ReplyEvent {
    ReplyEvent::ToolStarted {
        id: id.into(),
        title: title.into(),
        kind: "execute".into(),
        status: "in_progress".into(),
    }
}

fn finished(id: &str) -> ReplyEvent {
    ReplyEvent::ToolUpdated {
        id: id.into(),
        title: None,
        status: Some("completed".into()),
    }
}

fn session() -> Vec<ReplyEvent> {
    vec![
        ReplyEvent::Text("Let me run the tests.\n".into()),
        started("t1", "cargo test"),
        ReplyEvent::Text("They pass.".into()),
        finished("t1"),
        ReplyEvent::Notice("⚠️ the agent stopped (exit status 3)".into()),
    ]
}

async fn final_messages(display: ToolDisplay, events: Vec<ReplyEvent>) -> Vec<String> {
    let fake = FakeChat::new(LIMIT);
    let (sender, handle) = start(&fake, config(display));
    for event in events {
        sender.send(event).unwrap();
        sleep(Duration::from_millis(700)).await;
    }
    drop(sender);
    let outcome = handle.await.unwrap();
    assert_eq!(outcome.agent_text, "Let me run the tests.\nThey pass.");
    assert_paced(&fake, ReplyConfig::default().edit_interval);
    fake.messages()
}

#[tokio::test(start_paused = true)]
async fn each_tool_display_mode() {
    let notice = "*⚠️ the agent stopped (exit status 3)*\n";
    assert_eq!(
        final_messages(ToolDisplay::Compact, session()).await,
        [format!(
            "Let me run the tests.\n`🔧 cargo test` — completed\nThey pass.\n{notice}"
        )]
    );
    assert_eq!(
        final_messages(ToolDisplay::Full, session()).await,
        [format!(
            "Let me run the tests.\n`🔧 cargo test` · execute — completed\nThey pass.\n{notice}"
        )]
    );
    assert_eq!(
        final_messages(ToolDisplay::None, session()).await,
        [format!("Let me run the tests.\nThey pass.\n{notice}")]
    );
}

#[tokio::test(start_paused = true)]
async fn no_tool_lines_and_no_notices_show_the_agent_text_exactly() {
    let text = long_reply(6000);
    let fake = FakeChat::new(LIMIT);
    let (events, handle) = start(&fake, config(ToolDisplay::None));
    let chars: Vec<char> = text.chars().collect();
    for (i, chunk) in chars.chunks(300).enumerate() {
        events
            .send(ReplyEvent::Text(chunk.iter().collect()))
            .unwrap();
        events.send(started(&format!("t{i}"), "grep")).unwrap();
        events.send(finished(&format!("t{i}"))).unwrap();
        sleep(Duration::from_millis(200)).await;
    }
    drop(events);
    handle.await.unwrap();
    assert_eq!(fake.messages(), expected(&text, LIMIT));
}

#[tokio::test(start_paused = true)]
async fn tool_lines_inside_code_blocks_stay_outside_them() {
    // A small platform limit, so cuts fall near the tool lines too.
    let limit = 300;
    let text = long_reply(4000);
    let fake = FakeChat::new(limit);
    let (events, handle) = start(&fake, config(ToolDisplay::Compact));
    let chars: Vec<char> = text.chars().collect();
    for (i, chunk) in chars.chunks(111).enumerate() {
        events
            .send(ReplyEvent::Text(chunk.iter().collect()))
            .unwrap();
        events
            .send(started(&format!("t{i}"), "cargo `check` --all"))
            .unwrap();
        sleep(Duration::from_millis(400)).await;
        events.send(finished(&format!("t{i}"))).unwrap();
    }
    drop(events);
    let outcome = handle.await.unwrap();
    assert_eq!(outcome.agent_text, text);
    let messages = fake.messages();
    assert_well_formed(&messages, limit);
    assert_paced(&fake, ReplyConfig::default().edit_interval);
    // Every tool line is a line of its own, outside any code block.
    for message in &messages {
        let mut fence = None;
        for line in message.lines() {
            if line.starts_with("`🔧") {
                assert_eq!(
                    fence, None,
                    "a tool line inside a code block in {message:?}"
                );
                assert!(
                    line.ends_with("— completed") || line.ends_with("— in_progress"),
                    "{line:?}"
                );
            }
            super::super::fence::feed_line(&mut fence, line);
        }
    }
    let shown: usize = messages
        .iter()
        .map(|message| message.matches("`🔧 cargo ˋcheckˋ --all`").count())
        .sum();
    assert!(
        shown >= chars.chunks(111).count(),
        "every tool shows at least once ({shown})"
    );
}

#[tokio::test(start_paused = true)]
async fn a_text_in_chunks_with_a_pause_and_a_tool_still_splits_cleanly() {
    let text = long_reply(3000);
    let fake = FakeChat::new(LIMIT);
    let (events, handle) = start(&fake, config(ToolDisplay::Compact));
    send_chunks(&events, &text, 50, 4, Duration::from_millis(300)).await;
    events.send(started("last", "write report.md")).unwrap();
    drop(events);
    handle.await.unwrap();
    let messages = fake.messages();
    assert_well_formed(&messages, LIMIT);
    assert!(
        messages
            .last()
            .unwrap()
            .ends_with("`🔧 write report.md` — in_progress\n")
    );
}
