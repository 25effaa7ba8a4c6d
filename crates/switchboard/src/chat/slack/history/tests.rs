//! `SlackHistory` against a real in-process slack-sim on 127.0.0.1.

use std::sync::Arc;

use slack_sim::{SlackSim, SlackSimConfig};

use super::*;
use crate::chat::slack::outbound::SlackOutbound;
use crate::chat::{ChatOutbound, Conversation, HistoryBudget, Platform};
use crate::config::Secret;

const CHANNEL: &str = "C0GENERAL";

async fn sim() -> (SlackSim, SlackWeb) {
    let sim = SlackSim::start(SlackSimConfig::default()).await.unwrap();
    let web = SlackWeb::new(
        &sim.api_url(),
        Secret::new(sim.bot_token()),
        Secret::new(sim.app_token()),
    );
    (sim, web)
}

fn auth_tests(sim: &SlackSim) -> usize {
    sim.web_calls()
        .iter()
        .filter(|c| c.method == "auth.test")
        .count()
}

#[tokio::test]
async fn channel_messages_after_a_cursor_map_like_live_events() {
    let (sim, web) = sim().await;
    let identity = SharedIdentity::default();
    let history = SlackHistory::new(web.clone(), identity.clone());
    let seen = sim.post_user_message(CHANNEL, "U1", "old", None);
    let mention = sim.post_user_message(CHANNEL, "U1", "<@U0BOT> a &amp; b", None);
    let own = web.post_message(CHANNEL, None, "bot says").await.unwrap();
    sim.post_user_message(CHANNEL, "U2", "in a thread", Some(&mention));

    let after = history
        .messages_after(
            CHANNEL,
            &ids::message_id(CHANNEL, &seen),
            HistoryBudget::ample(),
        )
        .await
        .unwrap()
        .messages;
    assert_eq!(after.len(), 2, "thread replies are not channel history");
    assert_eq!(after[0].id, ids::message_id(CHANNEL, &mention));
    assert_eq!(after[0].platform, Platform::Slack);
    assert_eq!(after[0].channel_id, CHANNEL);
    assert!(after[0].mentions_bot && after[0].caught_up && !after[0].from_self);
    assert_eq!(after[0].content, "<@U0BOT> a & b");
    assert_eq!(after[1].id, ids::message_id(CHANNEL, &own));
    assert!(after[1].from_self && after[1].author.is_bot);

    assert_eq!(identity.get().unwrap().user_id, sim.bot_user_id(), "learnt");
    history
        .messages_after(
            CHANNEL,
            &ids::message_id(CHANNEL, &seen),
            HistoryBudget::ample(),
        )
        .await
        .unwrap();
    assert_eq!(auth_tests(&sim), 1, "auth.test once, then the shared cell");
}

#[tokio::test]
async fn thread_replies_after_a_cursor_every_page() {
    let (sim, web) = sim().await;
    let identity = SharedIdentity::new(std::sync::OnceLock::from(web.auth_test().await.unwrap()));
    let history = SlackHistory::new(web, identity);
    let root = sim.post_user_message(CHANNEL, "U1", "<@U0BOT> start", None);
    let replies: Vec<String> = (0..230)
        .map(|n| sim.post_user_message(CHANNEL, "U1", &format!("r{n}"), Some(&root)))
        .collect();
    let thread = ids::message_id(CHANNEL, &root);

    let after = history
        .messages_after(
            &thread,
            &ids::message_id(CHANNEL, &replies[4]),
            HistoryBudget::ample(),
        )
        .await
        .unwrap()
        .messages;
    assert_eq!(after.len(), 225);
    assert_eq!(after[0].content, "r5");
    assert_eq!(after[224].content, "r229");
    assert!(after.iter().all(|m| m.channel_id == thread
        && m.parent_channel_id.as_deref() == Some(CHANNEL)
        && m.caught_up));

    let from_root = history
        .messages_after(&thread, &thread, HistoryBudget::ample())
        .await
        .unwrap()
        .messages;
    assert_eq!(from_root.len(), 230, "the root is not its own reply");
    assert_eq!(auth_tests(&sim), 1, "the identity was already known");
}

#[tokio::test]
async fn bad_ids_are_refused_clearly() {
    let (_sim, web) = sim().await;
    let history = SlackHistory::new(web, SharedIdentity::default());
    let err = history
        .messages_after(CHANNEL, "12345", HistoryBudget::ample())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OutboundError::Rejected(why) if why.contains("channel:ts")),
        "{err:?}"
    );
    let err = history
        .messages_after("C404", "C404:1.000000", HistoryBudget::ample())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OutboundError::Rejected(why) if why.contains("channel_not_found")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_reply_reads_back_as_markdown_that_posts_the_same() {
    let (sim, web) = sim().await;
    let history = SlackHistory::new(web.clone(), SharedIdentity::default());
    let outbound: Arc<dyn ChatOutbound> = Arc::new(SlackOutbound::new(web));
    let root = ids::message_id(CHANNEL, &sim.post_user_message(CHANNEL, "U1", "q", None));
    let conversation: Conversation = outbound.start_thread(CHANNEL, &root, "q").await.unwrap();
    let markdown = "**Plan** for a < b & c:\n```rust\nlet v: Vec<u8> = x && y;\n```\n- [docs](https://x.dev/?a=1&b=2)";
    let reply = outbound
        .post(&conversation, markdown, &test_key())
        .await
        .unwrap();
    let shown = sim.thread(CHANNEL, ids::split(&root).unwrap().1)[1]
        .text
        .clone();

    let text = history
        .message_text(&conversation.thread_id, &reply)
        .await
        .unwrap();
    outbound.edit(&conversation, &reply, &text).await.unwrap();
    let again = sim.thread(CHANNEL, ids::split(&root).unwrap().1)[1]
        .text
        .clone();
    assert_eq!(again, shown, "read back and written again: unchanged");

    let root_text = history.message_text(CHANNEL, &root).await.unwrap();
    assert_eq!(root_text, "q");
    let err = history
        .message_text(&conversation.thread_id, "C0GENERAL:1.000001")
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::Rejected(_)), "{err:?}");
}

/// A fresh idempotency key for one post.
fn test_key() -> crate::chat::PostKey {
    crate::chat::PostScope::unique("test").part(0)
}
