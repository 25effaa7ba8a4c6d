//! `SlackOutbound` against a real in-process slack-sim on 127.0.0.1.

use slack_sim::{Fault, ResponseFault, SlackSim, SlackSimConfig, TokenKind as SimToken};

use super::*;
use crate::config::Secret;

const CHANNEL: &str = "C0GENERAL";

async fn sim() -> (SlackSim, SlackOutbound) {
    let sim = SlackSim::start(SlackSimConfig::default()).await.unwrap();
    let web = SlackWeb::new(
        &sim.api_url(),
        Secret::new(sim.bot_token()),
        Secret::new(sim.app_token()),
    );
    (sim, SlackOutbound::new(web))
}

#[tokio::test]
async fn a_conversation_lives_in_the_thread_of_its_root_message() {
    let (sim, outbound) = sim().await;
    let root_ts = sim.post_user_message(CHANNEL, "U1", "<@U0BOT> hi", None);
    let root = ids::message_id(CHANNEL, &root_ts);

    let conversation = outbound.start_thread(CHANNEL, &root, "hi").await.unwrap();
    assert_eq!(
        conversation,
        Conversation {
            platform: Platform::Slack,
            channel_id: CHANNEL.to_owned(),
            thread_id: root.clone(),
        }
    );
    assert!(sim.web_calls().is_empty(), "Slack threads need no call");

    let id = outbound
        .post(
            &conversation,
            "**Done** with `a<b>` & [docs](https://x.dev)",
            &test_key(),
        )
        .await
        .unwrap();
    let (channel, ts) = ids::split(&id).unwrap();
    assert_eq!(channel, CHANNEL);
    let thread = sim.thread(CHANNEL, &root_ts);
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].ts, ts);
    assert_eq!(thread[1].thread_ts.as_deref(), Some(root_ts.as_str()));
    assert_eq!(
        thread[1].text,
        "*Done* with `a&lt;b&gt;` &amp; <https://x.dev|docs>"
    );

    outbound.edit(&conversation, &id, "# Final").await.unwrap();
    assert_eq!(sim.thread(CHANNEL, &root_ts)[1].text, "*Final*");

    outbound.react(CHANNEL, &root, ":eyes:").await.unwrap();
    outbound
        .react(CHANNEL, &root, "white_check_mark")
        .await
        .unwrap();
    assert_eq!(
        sim.reactions(CHANNEL, &root_ts),
        ["eyes", "white_check_mark"]
    );
    outbound.unreact(CHANNEL, &root, ":eyes:").await.unwrap();
    outbound.unreact(CHANNEL, &root, ":eyes:").await.unwrap();
    assert_eq!(sim.reactions(CHANNEL, &root_ts), ["white_check_mark"]);
}

#[tokio::test]
async fn lengths_are_measured_after_conversion() {
    let (_sim, outbound) = sim().await;
    assert_eq!(outbound.rendered_len("a < b"), "a &lt; b".chars().count());
    assert_eq!(outbound.rendered_len("**漢字**"), 4);
    assert_eq!(outbound.rendered_len("```rust\nx"), "```\nx\n```".len());
    assert_eq!(outbound.max_message_chars(), MAX_MESSAGE_CHARS);
    const { assert!(MAX_MESSAGE_CHARS <= 4_000) };
}

#[tokio::test]
async fn markup_that_converts_to_nothing_is_still_sent() {
    let (sim, outbound) = sim().await;
    let root = ids::message_id(CHANNEL, &sim.post_user_message(CHANNEL, "U1", "q", None));
    let conversation = outbound.start_thread(CHANNEL, &root, "q").await.unwrap();
    let id = outbound
        .post(&conversation, "#", &test_key())
        .await
        .unwrap();
    let ts = ids::split(&id).unwrap().1.to_owned();
    let message = sim
        .messages(CHANNEL)
        .into_iter()
        .find(|m| m.ts == ts)
        .unwrap();
    assert_eq!(message.text, "#");
}

#[tokio::test]
async fn a_post_whose_answer_was_lost_is_found_by_its_key_not_made_twice() {
    let (sim, outbound) = sim().await;
    let root_ts = sim.post_user_message(CHANNEL, "U1", "q", None);
    let root = ids::message_id(CHANNEL, &root_ts);
    let conversation = outbound.start_thread(CHANNEL, &root, "q").await.unwrap();
    outbound
        .post(&conversation, "earlier", &test_key())
        .await
        .unwrap();

    sim.fault_responses("chat.postMessage", ResponseFault::Lose, 1);
    let key = test_key();
    let id = outbound.post(&conversation, "hello", &key).await.unwrap();
    let thread = sim.thread(CHANNEL, &root_ts);
    let texts: Vec<&str> = thread.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, ["q", "earlier", "hello"]);
    assert_eq!(ids::split(&id).unwrap().1, thread[2].ts, "the post made");

    // A later try with the same key gets the same post back.
    let again = outbound.post(&conversation, "hello", &key).await.unwrap();
    assert_eq!(again, id);
    assert_eq!(sim.thread(CHANNEL, &root_ts).len(), 3);
}

#[tokio::test]
async fn a_post_that_failed_before_it_took_effect_is_made_by_the_retry() {
    let (sim, outbound) = sim().await;
    let root_ts = sim.post_user_message(CHANNEL, "U1", "q", None);
    let root = ids::message_id(CHANNEL, &root_ts);
    let conversation = outbound.start_thread(CHANNEL, &root, "q").await.unwrap();
    sim.fail_web("chat.postMessage", Fault::ServerError(503), 1);
    let key = test_key();
    let err = outbound
        .post(&conversation, "hello", &key)
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(sim.thread(CHANNEL, &root_ts).len(), 1, "not made");
    outbound.post(&conversation, "hello", &key).await.unwrap();
    let thread = sim.thread(CHANNEL, &root_ts);
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].text, "hello");
}

#[tokio::test]
async fn errors_map_to_what_the_broker_acts_on() {
    let (sim, outbound) = sim().await;
    let root = ids::message_id(CHANNEL, &sim.post_user_message(CHANNEL, "U1", "q", None));
    let conversation = outbound.start_thread(CHANNEL, &root, "q").await.unwrap();

    sim.fail_web("chat.postMessage", Fault::ServerError(500), 1);
    let err = outbound
        .post(&conversation, "x", &test_key())
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::Unavailable(_)), "{err:?}");

    sim.fail_web("chat.postMessage", Fault::error("internal_error"), 1);
    let err = outbound
        .post(&conversation, "x", &test_key())
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::Unavailable(_)), "{err:?}");

    let elsewhere = Conversation {
        thread_id: "C404:1.000000".to_owned(),
        ..conversation.clone()
    };
    let err = outbound
        .post(&elsewhere, "x", &test_key())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OutboundError::Rejected(why) if why.contains("channel_not_found")),
        "{err:?}"
    );

    let err = outbound
        .edit(&conversation, "not-an-id", "x")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OutboundError::Rejected(why) if why.contains("channel:ts")),
        "{err:?}"
    );
    let err = outbound
        .start_thread(CHANNEL, "1.000000", "x")
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::Rejected(_)), "{err:?}");

    sim.set_token_valid(SimToken::Bot, false);
    let err = outbound
        .post(&conversation, "x", &test_key())
        .await
        .unwrap_err();
    assert!(matches!(err, OutboundError::Unauthorized), "{err:?}");
    let err = outbound.react(CHANNEL, &root, "eyes").await.unwrap_err();
    assert!(matches!(err, OutboundError::Unauthorized), "{err:?}");
}

#[test]
fn emoji_names_lose_their_colons() {
    assert_eq!(emoji_name(":eyes:"), "eyes");
    assert_eq!(emoji_name("eyes"), "eyes");
    assert_eq!(emoji_name(" :+1: "), "+1");
}

/// A fresh idempotency key for one post.
fn test_key() -> crate::chat::PostKey {
    crate::chat::PostScope::unique("test").part(0)
}

#[test]
fn switchboards_own_mentions_survive_the_conversion_and_nothing_else_does() {
    use super::rendered_with_mentions;
    assert_eq!(
        rendered_with_mentions("Only <@U0ALICE> or an approver & <b>"),
        "Only <@U0ALICE> or an approver &amp; &lt;b&gt;"
    );
    // A mention broken by the broker (agent text) stays broken and escaped.
    assert_eq!(
        rendered_with_mentions("<\u{200b}@U0BOB> <!channel>"),
        "&lt;\u{200b}@U0BOB&gt; &lt;!channel&gt;"
    );
    assert_eq!(rendered_with_mentions("&lt;@ x"), "&amp;lt;@ x");
}
