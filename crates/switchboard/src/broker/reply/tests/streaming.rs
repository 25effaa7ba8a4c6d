//! The write loop end to end: placeholder, pacing, splitting, slowness,
//! failures. All on paused tokio time.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedSender;
use tokio::time::{Instant, sleep};

use super::super::fence::state_after;
use super::super::split::split;
use super::super::{EMPTY_REPLY, ReplyConfig, ReplyEvent, ReplyOutcome, spawn_reply};
use super::fake::{Failure, FakeChat};
use crate::chat::OutboundError;

pub const LIMIT: usize = 2000;
const INTERVAL: Duration = Duration::from_millis(1500);

pub fn start(
    fake: &Arc<FakeChat>,
    config: ReplyConfig,
) -> (
    UnboundedSender<ReplyEvent>,
    tokio::task::JoinHandle<ReplyOutcome>,
) {
    spawn_reply(fake.clone(), FakeChat::conversation(), config)
}

/// A reply of more than 9000 chars: prose with multi-byte text and emoji
/// sequences, and a ```rust block every fourth paragraph.
pub fn long_reply(min_chars: usize) -> String {
    let mut text = String::new();
    let mut n = 0;
    while text.chars().count() < min_chars {
        n += 1;
        writeln!(text, "Paragraph {n}: café naïve 漢字テキスト 👍🏽 and 👨\u{200D}👩\u{200D}👧 walk into a bar; the résumé wraps.")
            .unwrap();
        if n % 4 == 0 {
            text.push_str("```rust\n");
            for i in 0..25 {
                writeln!(
                    text,
                    "    let value_{i} = \"é漢👍🏽\".len() + {i}; // line {i}"
                )
                .unwrap();
            }
            text.push_str("```\n");
        }
    }
    text
}

/// Send `text` in chunks of `chunk` chars, pausing after every `every` chunks.
pub async fn send_chunks(
    events: &UnboundedSender<ReplyEvent>,
    text: &str,
    chunk: usize,
    every: usize,
    pause: Duration,
) {
    let chars: Vec<char> = text.chars().collect();
    for (i, piece) in chars.chunks(chunk).enumerate() {
        events
            .send(ReplyEvent::Text(piece.iter().collect()))
            .unwrap();
        if (i + 1) % every == 0 {
            sleep(pause).await;
        }
    }
}

/// What the messages of a finished reply showing `document` must be.
pub fn expected(document: &str, limit: usize) -> Vec<String> {
    let pieces = split(document, None, limit, true);
    let bodies: String = pieces
        .iter()
        .map(|piece| &document[piece.body.clone()])
        .collect();
    assert_eq!(
        bodies, document,
        "the messages minus the added fence lines are the document"
    );
    pieces.into_iter().map(|piece| piece.text).collect()
}

/// Every message fits and has balanced fences.
pub fn assert_well_formed(messages: &[String], limit: usize) {
    for (i, message) in messages.iter().enumerate() {
        assert!(
            message.chars().count() <= limit,
            "message {i} has {} chars",
            message.chars().count()
        );
        assert_eq!(
            state_after(None, message),
            None,
            "message {i} leaves a fence open: {message:?}"
        );
    }
}

/// For each message, consecutive edits are at least `interval` apart.
pub fn assert_paced(fake: &FakeChat, interval: Duration) {
    for (message, times) in fake.edit_times().iter().enumerate() {
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] >= interval,
                "message {message} edited twice within {:?}",
                pair[1] - pair[0]
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_quick_first_text_is_the_first_post() {
    let fake = FakeChat::new(LIMIT);
    let config = ReplyConfig::default();
    let (events, handle) = start(&fake, config.clone());
    sleep(config.placeholder_after / 2).await;
    assert!(fake.messages().is_empty(), "no placeholder yet");
    let sent = Instant::now();
    events
        .send(ReplyEvent::Text("Hello **world**".into()))
        .unwrap();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(fake.messages(), ["Hello **world**"]);
    let first = fake.with(|recorded| recorded.writes[0].at);
    assert!(
        first - sent < Duration::from_millis(10),
        "the first text is not held back"
    );
    drop(events);
    let outcome = handle.await.unwrap();
    assert_eq!(outcome.message_ids, ["0"]);
    assert_eq!(outcome.agent_text, "Hello **world**");
    assert_eq!((outcome.posts, outcome.edits), (1, 0), "one call in all");
    assert!(outcome.error.is_none());
}

#[tokio::test(start_paused = true)]
async fn a_slow_first_text_replaces_the_placeholder_at_once() {
    let fake = FakeChat::new(LIMIT);
    let config = ReplyConfig::default();
    let (events, handle) = start(&fake, config.clone());
    sleep(config.placeholder_after - Duration::from_millis(1)).await;
    assert!(fake.messages().is_empty(), "still waiting for text");
    sleep(Duration::from_millis(2)).await;
    assert_eq!(
        fake.messages(),
        ["…"],
        "the placeholder shows the bot works"
    );
    let sent = Instant::now();
    events
        .send(ReplyEvent::Text("Hello **world**".into()))
        .unwrap();
    sleep(Duration::from_millis(1)).await;
    assert_eq!(fake.messages(), ["Hello **world**"]);
    assert!(
        fake.edit_times()[0][0] - sent < Duration::from_millis(10),
        "the first text is not held back"
    );
    drop(events);
    let outcome = handle.await.unwrap();
    assert_eq!(outcome.message_ids, ["0"]);
    assert_eq!((outcome.posts, outcome.edits), (1, 1));
    assert!(outcome.error.is_none());
}

#[tokio::test(start_paused = true)]
async fn an_empty_reply_says_so() {
    let fake = FakeChat::new(LIMIT);
    let (events, handle) = start(&fake, ReplyConfig::default());
    drop(events);
    let outcome = handle.await.unwrap();
    assert_eq!(fake.messages(), [EMPTY_REPLY]);
    assert_eq!(outcome.agent_text, "");
}

#[tokio::test(start_paused = true)]
async fn a_burst_of_9000_chars_becomes_a_few_posts() {
    let text = long_reply(9000);
    let fake = FakeChat::new(LIMIT);
    let (events, handle) = start(&fake, ReplyConfig::default());
    events.send(ReplyEvent::Text(text.clone())).unwrap();
    drop(events);
    let outcome = handle.await.unwrap();
    let messages = fake.messages();
    assert_eq!(messages, expected(&text, LIMIT));
    assert!(messages.len() >= 5, "{} messages", messages.len());
    assert_well_formed(&messages, LIMIT);
    assert_eq!(outcome.agent_text, text);
    assert_eq!(outcome.posts as usize, messages.len());
    assert!(outcome.edits <= 3, "{} edits", outcome.edits);
}

#[tokio::test(start_paused = true)]
async fn any_chunking_ends_in_the_same_messages() {
    let text = long_reply(9000);
    let want = expected(&text, LIMIT);
    assert!(
        want.iter()
            .skip(1)
            .any(|message| message.starts_with("```rust\n")),
        "a fence is cut"
    );
    for (chunk, every) in [(usize::MAX, 1), (97, 3), (1, 150), (1, 7)] {
        let fake = FakeChat::new(LIMIT);
        let (events, handle) = start(&fake, ReplyConfig::default());
        send_chunks(&events, &text, chunk, every, Duration::from_millis(100)).await;
        drop(events);
        let outcome = handle.await.unwrap();
        assert_eq!(fake.messages(), want, "chunks of {chunk}");
        assert_eq!(outcome.agent_text, text);
        assert_paced(&fake, INTERVAL);
    }
}

#[tokio::test(start_paused = true)]
async fn edits_of_each_message_are_an_interval_apart() {
    let text = long_reply(12_000);
    let fake = FakeChat::new(LIMIT);
    let (events, handle) = start(&fake, ReplyConfig::default());
    let began = Instant::now();
    send_chunks(&events, &text, 40, 1, Duration::from_millis(50)).await;
    let streamed = Instant::now() - began;
    drop(events);
    let outcome = handle.await.unwrap();
    assert_eq!(fake.messages(), expected(&text, LIMIT));
    assert_paced(&fake, INTERVAL);
    let bound =
        (streamed.as_secs_f64() / INTERVAL.as_secs_f64()) as u32 + 2 * fake.messages().len() as u32;
    assert!(
        outcome.edits <= bound,
        "{} edits for {streamed:?} of streaming (bound {bound})",
        outcome.edits
    );
}

#[tokio::test(start_paused = true)]
async fn a_slow_platform_delays_edits_but_loses_nothing() {
    let text = long_reply(9000);
    let fake = FakeChat::slow(LIMIT, Duration::from_secs(2));
    let (events, handle) = start(&fake, ReplyConfig::default());
    send_chunks(&events, &text, 200, 1, Duration::from_millis(100)).await;
    drop(events);
    let outcome = handle.await.unwrap();
    assert_eq!(fake.messages(), expected(&text, LIMIT));
    assert_paced(&fake, INTERVAL);
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
}

#[tokio::test(start_paused = true)]
async fn failures_are_retried_and_no_text_is_lost() {
    let text = long_reply(5000);
    let fake = FakeChat::new(LIMIT);
    fake.with(|recorded| recorded.fail_next = 2);
    let (head, tail) = text.split_at(text.char_indices().nth(1000).unwrap().0);
    let (events, handle) = start(&fake, ReplyConfig::default());
    send_chunks(&events, head, 100, 1, Duration::from_millis(100)).await;
    // Let the first run of failures end (in the placeholder's post) before
    // the second; together they would outlast one call's retries.
    sleep(Duration::from_secs(5)).await;
    assert_eq!(
        fake.with(|recorded| (recorded.fail_next, recorded.messages.len())),
        (0, 1)
    );
    fake.with(|recorded| recorded.fail_next = 3);
    send_chunks(&events, tail, 100, 1, Duration::from_millis(100)).await;
    drop(events);
    let outcome = handle.await.unwrap();
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(fake.messages(), expected(&text, LIMIT));
    assert_eq!(
        fake.with(|recorded| recorded.fail_next),
        0,
        "both failure runs happened"
    );
    assert_paced(&fake, INTERVAL);
}

#[tokio::test(start_paused = true)]
async fn each_message_has_its_own_key_and_a_retried_post_keeps_its_key() {
    let text = long_reply(5000);
    let fake = FakeChat::new(LIMIT);
    // The first post (the first text) fails twice before it is made.
    fake.with(|recorded| recorded.fail_next = 2);
    let (events, handle) = start(&fake, ReplyConfig::default());
    events.send(ReplyEvent::Text(text.clone())).unwrap();
    drop(events);
    let outcome = handle.await.unwrap();
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    let messages = fake.messages();
    assert!(messages.len() >= 3, "{} messages", messages.len());
    let keys = fake.with(|recorded| recorded.post_keys.clone());
    assert_eq!(keys.len(), messages.len() + 2, "two failed tries");
    assert_eq!(keys[0], keys[1], "a retry keeps the key");
    assert_eq!(keys[1], keys[2], "a retry keeps the key");
    let made = &keys[2..];
    for (i, key) in made.iter().enumerate() {
        for other in &made[i + 1..] {
            assert_ne!(key.digest(), other.digest(), "two messages, one key");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_platform_that_stays_down_is_left_alone_and_events_still_drain() {
    let fake = FakeChat::new(LIMIT);
    let config = ReplyConfig::default();
    let (events, handle) = start(&fake, config.clone());
    sleep(config.placeholder_after + Duration::from_millis(1)).await;
    fake.with(|recorded| recorded.fail_always = Some(Failure::Unavailable));
    events.send(ReplyEvent::Text("first ".into())).unwrap();
    sleep(Duration::from_secs(10)).await;
    assert_eq!(
        fake.with(|recorded| recorded.calls),
        1 + 4,
        "the placeholder, then one edit tried four times"
    );
    for _ in 0..1000 {
        events.send(ReplyEvent::Text("more ".into())).unwrap();
    }
    sleep(Duration::from_secs(60)).await;
    assert_eq!(
        fake.with(|recorded| recorded.calls),
        5,
        "no calls after giving up"
    );
    drop(events);
    let outcome = handle.await.unwrap();
    assert!(
        matches!(outcome.error, Some(OutboundError::Unavailable(_))),
        "{:?}",
        outcome.error
    );
    assert_eq!(
        outcome.agent_text,
        format!("first {}", "more ".repeat(1000))
    );
    assert_eq!(outcome.message_ids, ["0"]);
}

#[tokio::test(start_paused = true)]
async fn rejected_credentials_are_not_retried() {
    let fake = FakeChat::new(LIMIT);
    fake.with(|recorded| recorded.fail_always = Some(Failure::Unauthorized));
    let (events, handle) = start(&fake, ReplyConfig::default());
    events.send(ReplyEvent::Text("hello".into())).unwrap();
    drop(events);
    let outcome = handle.await.unwrap();
    assert!(matches!(outcome.error, Some(OutboundError::Unauthorized)));
    assert_eq!(fake.with(|recorded| recorded.calls), 1);
    assert!(outcome.message_ids.is_empty());
    assert_eq!(outcome.agent_text, "hello");
}
