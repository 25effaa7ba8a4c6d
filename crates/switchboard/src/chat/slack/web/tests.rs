//! The Web API client against a real in-process slack-sim on 127.0.0.1.

use std::time::{Duration, Instant};

use slack_sim::{Fault, RateLimit, SlackSim, SlackSimConfig, TokenKind as SimToken};

use super::*;
use crate::chat::history::CutShort;

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

fn calls(sim: &SlackSim, method: &str) -> usize {
    sim.web_calls()
        .iter()
        .filter(|c| c.method == method)
        .count()
}

#[tokio::test]
async fn auth_test_says_who_the_bot_is() {
    let (sim, web) = sim().await;
    let identity = web.auth_test().await.unwrap();
    assert_eq!(
        identity,
        BotIdentity {
            user_id: sim.bot_user_id(),
            bot_id: Some("B0BOT".to_owned()),
            team_id: sim.team_id(),
        }
    );
}

#[tokio::test]
async fn connections_open_gives_a_socket_url_with_the_app_token() {
    let (sim, web) = sim().await;
    let url = web.connections_open().await.unwrap();
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    assert_eq!(sim.opens().len(), 1);
    assert!(sim.opens()[0].ok);
}

#[tokio::test]
async fn socket_mode_off_and_a_refusing_slack_are_told_apart() {
    let (sim, web) = sim().await;
    sim.set_link_disabled(true);
    let err = web.connections_open().await.unwrap_err();
    assert!(
        matches!(err, WebError::SocketModeDisabled { .. }),
        "{err:?}"
    );
    sim.set_link_disabled(false);
    sim.set_refuse_open(true);
    let err = web.connections_open().await.unwrap_err();
    assert!(
        matches!(
            err,
            WebError::Unavailable {
                method: "apps.connections.open",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_token_is_named_and_never_shown() {
    let (sim, web) = sim().await;
    sim.set_token_valid(SimToken::Bot, false);
    let err = web.auth_test().await.unwrap_err();
    assert!(
        matches!(&err, WebError::InvalidAuth { token: TokenKind::Bot, code } if code == "invalid_auth"),
        "{err:?}"
    );
    let err = web.post_message(CHANNEL, None, "hi").await.unwrap_err();
    assert!(matches!(
        err,
        WebError::InvalidAuth {
            token: TokenKind::Bot,
            ..
        }
    ));
    assert!(
        web.connections_open().await.is_ok(),
        "the app token still works"
    );

    sim.set_token_valid(SimToken::Bot, true);
    sim.set_token_valid(SimToken::App, false);
    let err = web.connections_open().await.unwrap_err();
    assert!(matches!(
        err,
        WebError::InvalidAuth {
            token: TokenKind::App,
            ..
        }
    ));
    let shown = format!("{err} {err:?} {web:?}");
    assert!(shown.contains("slack.app_token"), "{shown}");
    for token in [sim.bot_token(), sim.app_token()] {
        assert!(!shown.contains(&token), "a token leaked: {shown}");
    }
}

#[tokio::test]
async fn swapped_tokens_are_refused_as_the_wrong_kind() {
    let sim = SlackSim::start(SlackSimConfig::default()).await.unwrap();
    let web = SlackWeb::new(
        &sim.api_url(),
        Secret::new(sim.app_token()),
        Secret::new(sim.bot_token()),
    );
    let err = web.auth_test().await.unwrap_err();
    assert!(
        matches!(
            err,
            WebError::InvalidAuth {
                token: TokenKind::Bot,
                ..
            }
        ),
        "{err:?}"
    );
    let err = web.connections_open().await.unwrap_err();
    assert!(
        matches!(
            err,
            WebError::InvalidAuth {
                token: TokenKind::App,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn post_update_and_reactions_round_trip() {
    let (sim, web) = sim().await;
    let root = sim.post_user_message(CHANNEL, "U1", "question", None);
    let ts = web
        .post_message(CHANNEL, Some(&root), "a <b> & c")
        .await
        .unwrap();
    let thread = sim.thread(CHANNEL, &root);
    assert_eq!(thread.len(), 2);
    assert_eq!(thread[1].ts, ts);
    assert_eq!(thread[1].text, "a <b> & c");
    assert_eq!(thread[1].bot_id.as_deref(), Some("B0BOT"));

    web.update_message(CHANNEL, &ts, "ünïcödé ✓").await.unwrap();
    assert_eq!(sim.thread(CHANNEL, &root)[1].text, "ünïcödé ✓");

    web.add_reaction(CHANNEL, &root, "eyes").await.unwrap();
    web.add_reaction(CHANNEL, &root, "eyes").await.unwrap();
    assert_eq!(sim.reactions(CHANNEL, &root), ["eyes"]);
    web.remove_reaction(CHANNEL, &root, "eyes").await.unwrap();
    web.remove_reaction(CHANNEL, &root, "eyes").await.unwrap();
    assert!(sim.reactions(CHANNEL, &root).is_empty());

    let err = web.update_message("C404", &ts, "x").await.unwrap_err();
    assert!(
        matches!(&err, WebError::Api { method: "chat.update", code } if code == "channel_not_found"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_429_on_chat_update_waits_retry_after_and_loses_nothing() {
    let (sim, web) = sim().await;
    let ts = web.post_message(CHANNEL, None, "draft").await.unwrap();
    sim.fail_web(
        "chat.update",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let started = Instant::now();
    web.update_message(CHANNEL, &ts, "final text")
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(950),
        "Retry-After obeyed"
    );
    assert_eq!(calls(&sim, "chat.update"), 2);
    let message = sim
        .messages(CHANNEL)
        .into_iter()
        .find(|m| m.ts == ts)
        .unwrap();
    assert_eq!(message.text, "final text");

    // The sim's own window limit: every update still lands, in order.
    sim.set_rate_limit(
        "chat.update",
        Some(RateLimit {
            limit: 2,
            window: Duration::from_secs(1),
        }),
    );
    for n in 0..4 {
        web.update_message(CHANNEL, &ts, &format!("edit {n}"))
            .await
            .unwrap();
    }
    let message = sim
        .messages(CHANNEL)
        .into_iter()
        .find(|m| m.ts == ts)
        .unwrap();
    assert_eq!(message.text, "edit 3");
    assert!(
        sim.web_calls()
            .iter()
            .any(|c| c.method == "chat.update" && c.status == 429),
        "the limit was hit"
    );
    assert_eq!(message.edits.len(), 5);
}

#[tokio::test]
async fn a_429_that_outlasts_the_budget_gives_up_as_unavailable() {
    let (sim, web) = sim().await;
    let web = web.with_rate_limit_budget(Duration::from_millis(1_500));
    sim.fail_web(
        "chat.postMessage",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        10,
    );
    let started = Instant::now();
    let err = web.post_message(CHANNEL, None, "x").await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&err, WebError::Unavailable { method: "chat.postMessage", detail } if detail.contains("429")),
        "{err:?}"
    );
    // One Retry-After waited out (1 s); the second would pass the budget.
    assert_eq!(calls(&sim, "chat.postMessage"), 2);
    assert!(took >= Duration::from_millis(950), "{took:?}");
    assert!(took < Duration::from_millis(1_900), "{took:?}");
    assert!(sim.messages(CHANNEL).is_empty(), "nothing posted");
}

#[tokio::test]
async fn server_errors_are_unavailable() {
    let (sim, web) = sim().await;
    sim.fail_web("chat.postMessage", Fault::ServerError(503), 1);
    let err = web.post_message(CHANNEL, None, "x").await.unwrap_err();
    assert!(
        matches!(&err, WebError::Unavailable { method: "chat.postMessage", detail } if detail.contains("503")),
        "{err:?}"
    );
    assert!(web.post_message(CHANNEL, None, "x").await.is_ok());
}

#[tokio::test]
async fn an_unreachable_slack_is_unavailable() {
    let (sim, web) = sim().await;
    sim.shutdown();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let err = web.auth_test().await.unwrap_err();
    assert!(
        matches!(
            err,
            WebError::Unavailable {
                method: "auth.test",
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn history_follows_every_page_oldest_first_after_oldest() {
    let (sim, web) = sim().await;
    let posted: Vec<String> = (0..450)
        .map(|n| sim.post_user_message(CHANNEL, "U1", &format!("m{n}"), None))
        .collect();
    // A reply is not channel history.
    sim.post_user_message(CHANNEL, "U1", "in thread", Some(&posted[20]));

    let after = web
        .history(CHANNEL, &posted[9], HistoryBudget::ample())
        .await
        .unwrap()
        .messages;
    let seen: Vec<&str> = after.iter().map(|m| m["ts"].as_str().unwrap()).collect();
    assert_eq!(
        seen,
        posted[10..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert_eq!(after[0]["text"], "m10");
    assert!(
        calls(&sim, "conversations.history") >= 3,
        "more than one page was read"
    );
    assert!(
        web.history(CHANNEL, &posted[449], HistoryBudget::ample())
            .await
            .unwrap()
            .messages
            .is_empty()
    );
}

#[tokio::test]
async fn a_history_read_stops_at_its_page_or_time_budget_and_says_which() {
    let (sim, web) = sim().await;
    let posted: Vec<String> = (0..450)
        .map(|n| sim.post_user_message(CHANNEL, "U1", &format!("m{n}"), None))
        .collect();
    let two_pages = HistoryBudget {
        max_pages: 2,
        ..HistoryBudget::ample()
    };
    let read = web.history(CHANNEL, &posted[0], two_pages).await.unwrap();
    assert_eq!(read.cut_short, Some(CutShort::Pages));
    assert_eq!(read.messages.len(), 400, "two pages of 200 were kept");
    assert_eq!(calls(&sim, "conversations.history"), 2);
    let whole = web.history(CHANNEL, &posted[49], two_pages).await.unwrap();
    assert_eq!(whole.cut_short, None, "400 messages end within two pages");
    assert_eq!(whole.messages.len(), 400);

    let out_of_time = HistoryBudget {
        deadline: tokio::time::Instant::now(),
        ..HistoryBudget::ample()
    };
    let before = calls(&sim, "conversations.replies");
    let read = web
        .replies(CHANNEL, &posted[3], &posted[3], out_of_time)
        .await
        .unwrap();
    assert_eq!(read.cut_short, Some(CutShort::Time));
    assert!(read.messages.is_empty());
    assert_eq!(
        calls(&sim, "conversations.replies"),
        before,
        "no page started"
    );
}

#[tokio::test]
async fn replies_follow_every_page_and_leave_the_root_out() {
    let (sim, web) = sim().await;
    let root = sim.post_user_message(CHANNEL, "U1", "root", None);
    let replies: Vec<String> = (0..250)
        .map(|n| sim.post_user_message(CHANNEL, "U1", &format!("r{n}"), Some(&root)))
        .collect();

    let all = web
        .replies(CHANNEL, &root, &root, HistoryBudget::ample())
        .await
        .unwrap()
        .messages;
    assert_eq!(all.len(), 250);
    assert_eq!(calls(&sim, "conversations.replies"), 2, "two pages of 200");
    let after = web
        .replies(CHANNEL, &root, &replies[99], HistoryBudget::ample())
        .await
        .unwrap()
        .messages;
    let seen: Vec<&str> = after.iter().map(|m| m["ts"].as_str().unwrap()).collect();
    assert_eq!(
        seen,
        replies[100..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn one_message_is_read_back_as_it_is_now() {
    let (sim, web) = sim().await;
    let root = sim.post_user_message(CHANNEL, "U1", "root", None);
    let reply = web
        .post_message(CHANNEL, Some(&root), "first")
        .await
        .unwrap();
    web.update_message(CHANNEL, &reply, "second").await.unwrap();
    sim.post_user_message(CHANNEL, "U1", "later", Some(&root));

    let found = web.message(CHANNEL, Some(&root), &reply).await.unwrap();
    assert_eq!(found["text"], "second");
    let found = web.message(CHANNEL, None, &root).await.unwrap();
    assert_eq!(found["text"], "root");
    let found = web.message(CHANNEL, Some(&root), &root).await.unwrap();
    assert_eq!(found["text"], "root");
    let err = web.message(CHANNEL, None, "1.000001").await.unwrap_err();
    assert!(
        matches!(&err, WebError::Api { code, .. } if code == "message_not_found"),
        "{err:?}"
    );
}
