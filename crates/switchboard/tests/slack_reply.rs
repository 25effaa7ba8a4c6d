//! Streamed replies on Slack through the broker's real reply path
//! (`spawn_reply` -> split measured after mrkdwn conversion -> Web API)
//! against an in-process slack-sim on 127.0.0.1: long fenced answers
//! arrive complete in messages within the limit, and 429s lose nothing.

use std::sync::Arc;
use std::time::Duration;

use slack_sim::{Fault, RateLimit, SlackMessage, SlackSim, SlackSimConfig};
use switchboard::broker::reply::{ReplyConfig, ReplyEvent, ReplyOutcome, spawn_reply};
use switchboard::chat::slack::ids;
use switchboard::chat::slack::mrkdwn::{to_markdown, to_mrkdwn};
use switchboard::chat::slack::outbound::{MAX_MESSAGE_CHARS, SlackOutbound};
use switchboard::chat::slack::web::SlackWeb;
use switchboard::chat::{ChatOutbound, Conversation};
use switchboard::config::Secret;

const CHANNEL: &str = "C0GENERAL";

struct Setup {
    sim: SlackSim,
    outbound: Arc<dyn ChatOutbound>,
    conversation: Conversation,
    root_ts: String,
}

async fn setup() -> Setup {
    let sim = SlackSim::start(SlackSimConfig::default()).await.unwrap();
    let web = SlackWeb::new(
        &sim.api_url(),
        Secret::new(sim.bot_token()),
        Secret::new(sim.app_token()),
    );
    let outbound: Arc<dyn ChatOutbound> = Arc::new(SlackOutbound::new(web));
    let root_ts = sim.post_user_message(CHANNEL, "U1", "<@U0BOT> write it", None);
    let conversation = outbound
        .start_thread(CHANNEL, &ids::message_id(CHANNEL, &root_ts), "write it")
        .await
        .unwrap();
    Setup {
        sim,
        outbound,
        conversation,
        root_ts,
    }
}

fn config() -> ReplyConfig {
    ReplyConfig {
        edit_interval: Duration::from_millis(50),
        ..ReplyConfig::default()
    }
}

/// Stream `text` in chunks, then finish the reply.
async fn stream(setup: &Setup, text: &str, chunk: usize) -> ReplyOutcome {
    let (events, handle) =
        spawn_reply(setup.outbound.clone(), setup.conversation.clone(), config());
    let chars: Vec<char> = text.chars().collect();
    for piece in chars.chunks(chunk) {
        events
            .send(ReplyEvent::Text(piece.iter().collect()))
            .unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(events);
    tokio::time::timeout(Duration::from_secs(60), handle)
        .await
        .expect("the reply finishes")
        .unwrap()
}

/// The bot's replies in the thread, in order.
fn replies(setup: &Setup) -> Vec<SlackMessage> {
    setup
        .sim
        .thread(CHANNEL, &setup.root_ts)
        .into_iter()
        .filter(|m| m.bot_id.is_some())
        .collect()
}

fn fence_lines(text: &str) -> usize {
    text.lines()
        .filter(|line| line.trim_start().starts_with("```"))
        .count()
}

#[tokio::test]
async fn a_long_fenced_reply_arrives_whole_in_messages_within_the_limit() {
    let setup = setup().await;
    let mut code = Vec::new();
    let mut text = String::from("Here is **the file**:\n```rust\n");
    let mut n = 0;
    while text.chars().count() < 5_000 {
        let line = format!("let v{n}: Vec<u8> = if a < b && c > d {{ x }} else {{ y }}; // é漢");
        text.push_str(&line);
        text.push('\n');
        code.push(line);
        n += 1;
    }
    text.push_str("```\nDone & dusted.");
    assert!(
        to_mrkdwn(&text).chars().count() > text.chars().count() + 500,
        "escaping makes what Slack gets longer than what the agent wrote"
    );

    let outcome = stream(&setup, &text, 700).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    assert_eq!(outcome.agent_text, text);

    let messages = replies(&setup);
    assert!(messages.len() >= 2, "{} messages", messages.len());
    assert_eq!(messages.len(), outcome.message_ids.len());
    let mut shown_code = Vec::new();
    for message in &messages {
        let len = message.text.chars().count();
        assert!(len <= MAX_MESSAGE_CHARS, "a message of {len} chars");
        assert_eq!(
            fence_lines(&message.text) % 2,
            0,
            "unbalanced code block: {:?}",
            message.text
        );
        let mut inside = false;
        for line in to_markdown(&message.text).lines() {
            if line.starts_with("```") {
                inside = !inside;
            } else if inside {
                shown_code.push(line.to_owned());
            }
        }
    }
    assert_eq!(
        shown_code, code,
        "every code line, once, in order, unchanged"
    );
    assert!(messages[0].text.starts_with("Here is *the file*:\n```\n"));
    assert!(
        messages
            .last()
            .unwrap()
            .text
            .ends_with("```\nDone &amp; dusted.")
    );
}

#[tokio::test]
async fn rate_limited_edits_wait_and_lose_no_text() {
    let setup = setup().await;
    setup.sim.fail_web(
        "chat.update",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    setup.sim.set_rate_limit(
        "chat.update",
        Some(RateLimit {
            limit: 3,
            window: Duration::from_secs(1),
        }),
    );
    let text: String = (0..40).map(|n| format!("word{n} & ")).collect();
    let outcome = stream(&setup, &text, 7).await;
    assert!(outcome.error.is_none(), "{:?}", outcome.error);

    let messages = replies(&setup);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].text.trim_end(), to_mrkdwn(&text).trim_end());
    let limited = setup
        .sim
        .web_calls()
        .iter()
        .filter(|call| call.method == "chat.update" && call.status == 429)
        .count();
    assert!(limited >= 1, "a 429 was met and waited out");
}
