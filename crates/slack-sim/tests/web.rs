//! The Web API over real HTTP (reqwest): auth and token types, messages,
//! edits, reactions, history/replies pagination, faults and rate limits.

mod common;

use std::time::Duration;

use common::{Answer, Client, call, call_as, sim};
use serde_json::{Value, json};
use slack_sim::{Fault, RateLimit, SlackSim, TokenKind};

async fn error_of(sim: &SlackSim, token: Option<&str>, method: &str, body: Value) -> String {
    let a: Answer = call_as(sim, token, method, body).await;
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["ok"], false, "{a:?}");
    a.body["error"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn auth_test_and_token_rules() {
    let sim = sim().await;
    let me = call(&sim, "auth.test", json!({})).await;
    assert_eq!(me["user_id"], "U0BOT");
    assert_eq!(me["bot_id"], "B0BOT");
    assert_eq!(me["team_id"], "T0SIM");
    assert!(me["url"].is_string() && me["user"].is_string() && me["team"].is_string());

    let (bot, app) = (sim.bot_token(), sim.app_token());
    assert_eq!(
        error_of(&sim, None, "auth.test", json!({})).await,
        "not_authed"
    );
    assert_eq!(
        error_of(&sim, Some("xoxb-nope"), "auth.test", json!({})).await,
        "invalid_auth"
    );
    assert_eq!(
        error_of(&sim, Some(&app), "auth.test", json!({})).await,
        "not_allowed_token_type"
    );
    assert_eq!(
        error_of(&sim, Some(&bot), "apps.connections.open", json!({})).await,
        "not_allowed_token_type"
    );
    assert_eq!(
        error_of(&sim, Some(&bot), "chat.nothing", json!({})).await,
        "unknown_method"
    );

    sim.set_token_valid(TokenKind::Bot, false);
    assert_eq!(
        error_of(&sim, Some(&bot), "auth.test", json!({})).await,
        "invalid_auth"
    );
    sim.set_token_valid(TokenKind::Bot, true);
    sim.set_token_valid(TokenKind::App, false);
    assert_eq!(
        error_of(&sim, Some(&app), "apps.connections.open", json!({})).await,
        "invalid_auth"
    );
    let opens = sim.opens();
    assert_eq!(opens[0].error.as_deref(), Some("not_allowed_token_type"));
    let open = &opens[1];
    assert!(!open.ok);
    assert_eq!(open.error.as_deref(), Some("invalid_auth"));
    sim.set_token_valid(TokenKind::App, true);
    call_as(&sim, Some(&app), "apps.connections.open", json!({})).await;
    assert!(sim.opens()[2].ok);

    let calls = sim.web_calls();
    assert_eq!(calls[0].method, "auth.test");
    assert!(calls[0].ok);
    assert_eq!(calls[1].error.as_deref(), Some("not_authed"));
}

#[tokio::test]
async fn form_encoded_post_with_token_param() {
    let sim = sim().await;
    let r: Value = reqwest::Client::new()
        .post(format!("{}/chat.postMessage", sim.api_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "token={}&channel=C0GENERAL&text=hi+there%21",
            sim.bot_token()
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["channel"], "C0GENERAL");
    assert_eq!(r["message"]["text"], "hi there!");
    let stored = sim.messages("C0GENERAL");
    assert_eq!(stored[0].text, "hi there!");
    assert_eq!(stored[0].bot_id.as_deref(), Some("B0BOT"));
    assert_eq!(stored[0].ts, r["ts"].as_str().unwrap());
}

#[tokio::test]
async fn post_in_thread_update_and_react() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let ch = sim.channel_ids()[0].clone();
    let parent = sim.post_user_message(&ch, "U1", "<@U0BOT> help", None);
    c.envelope_acked().await;
    c.envelope_acked().await;

    let posted = call(
        &sim,
        "chat.postMessage",
        json!({ "channel": ch, "text": "v1", "thread_ts": parent }),
    )
    .await;
    let ts = posted["ts"].as_str().unwrap().to_owned();
    assert!(ts > parent);
    assert_eq!(posted["message"]["thread_ts"], parent);
    assert_eq!(
        c.envelope_acked().await["payload"]["event"]["thread_ts"],
        parent
    );

    let up = call(
        &sim,
        "chat.update",
        json!({ "channel": ch, "ts": ts, "text": "v2" }),
    )
    .await;
    assert_eq!((&up["ts"], &up["text"]), (&json!(ts), &json!("v2")));
    let ev = c.envelope_acked().await["payload"]["event"].clone();
    assert_eq!(ev["type"], "message");
    assert_eq!(ev["subtype"], "message_changed");
    assert_eq!(ev["message"]["ts"], ts);
    assert_eq!(ev["message"]["text"], "v2");
    assert_eq!(ev["previous_message"]["text"], "v1");
    assert!(ev["ts"].as_str().unwrap() > ts.as_str());
    let stored = sim.thread(&ch, &parent);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[1].edits, vec!["v2".to_owned()]);
    assert_eq!(stored[1].edited_at.len(), 1);

    assert_eq!(
        call_as(
            &sim,
            Some(&sim.bot_token()),
            "chat.update",
            json!({ "channel": ch, "ts": parent, "text": "x" })
        )
        .await
        .body["error"],
        "cant_update_message"
    );
    assert_eq!(
        call_as(
            &sim,
            Some(&sim.bot_token()),
            "chat.update",
            json!({ "channel": ch, "ts": "1.000001", "text": "x" })
        )
        .await
        .body["error"],
        "message_not_found"
    );

    let react = json!({ "channel": ch, "timestamp": parent, "name": "eyes" });
    call(&sim, "reactions.add", react.clone()).await;
    let again = call_as(&sim, Some(&sim.bot_token()), "reactions.add", react.clone()).await;
    assert_eq!(again.body["error"], "already_reacted");
    assert_eq!(sim.reactions(&ch, &parent), vec!["eyes".to_owned()]);
    call(&sim, "reactions.remove", react.clone()).await;
    let gone = call_as(&sim, Some(&sim.bot_token()), "reactions.remove", react).await;
    assert_eq!(gone.body["error"], "no_reaction");
    assert!(sim.reactions(&ch, &parent).is_empty());

    let no_channel = call_as(
        &sim,
        Some(&sim.bot_token()),
        "chat.postMessage",
        json!({ "channel": "C404", "text": "x" }),
    )
    .await;
    assert_eq!(no_channel.body["error"], "channel_not_found");
    let no_text = call_as(
        &sim,
        Some(&sim.bot_token()),
        "chat.postMessage",
        json!({ "channel": ch }),
    )
    .await;
    assert_eq!(no_text.body["error"], "no_text");
}

fn texts(v: &Value) -> Vec<String> {
    v["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn replies_paginate_and_honour_oldest() {
    let sim = sim().await;
    let ch = sim.channel_ids()[0].clone();
    let root = sim.post_user_message(&ch, "U1", "root", None);
    let mut replies = Vec::new();
    for i in 1..=5 {
        replies.push(sim.post_user_message(&ch, "U2", &format!("r{i}"), Some(&root)));
    }
    let p1 = call(
        &sim,
        "conversations.replies",
        json!({ "channel": ch, "ts": root, "limit": 3 }),
    )
    .await;
    assert_eq!(texts(&p1), ["root", "r1", "r2"]);
    assert_eq!(p1["has_more"], true);
    assert_eq!(p1["messages"][0]["reply_count"], 5);
    let cursor = p1["response_metadata"]["next_cursor"].as_str().unwrap();
    assert!(!cursor.is_empty());
    let p2 = call(
        &sim,
        "conversations.replies",
        json!({ "channel": ch, "ts": root, "limit": 3, "cursor": cursor }),
    )
    .await;
    assert_eq!(texts(&p2), ["r3", "r4", "r5"]);
    assert_eq!(p2["has_more"], false);
    assert_eq!(p2["response_metadata"]["next_cursor"], "");

    // oldest is exclusive; the parent still comes first.
    let newer = call(
        &sim,
        "conversations.replies",
        json!({ "channel": ch, "ts": root, "oldest": replies[2] }),
    )
    .await;
    assert_eq!(texts(&newer), ["root", "r4", "r5"]);
    let incl = call(
        &sim,
        "conversations.replies",
        json!({ "channel": ch, "ts": replies[0], "oldest": replies[3], "inclusive": true }),
    )
    .await;
    assert_eq!(texts(&incl), ["root", "r4", "r5"]);

    let missing = call_as(
        &sim,
        Some(&sim.bot_token()),
        "conversations.replies",
        json!({ "channel": ch, "ts": "1.000001" }),
    )
    .await;
    assert_eq!(missing.body["error"], "thread_not_found");
    let bad = call_as(
        &sim,
        Some(&sim.bot_token()),
        "conversations.replies",
        json!({ "channel": ch, "ts": root, "cursor": "zz" }),
    )
    .await;
    assert_eq!(bad.body["error"], "invalid_cursor");
}

#[tokio::test]
async fn history_is_newest_first_and_paginated() {
    let sim = sim().await;
    let ch = sim.channel_ids()[0].clone();
    let first = sim.post_user_message(&ch, "U1", "m1", None);
    sim.post_user_message(&ch, "U1", "in thread", Some(&first));
    let second = sim.post_user_message(&ch, "U1", "m2", None);
    sim.post_user_message(&ch, "U1", "m3", None);
    sim.post_user_message(&ch, "U1", "m4", None);
    let p1 = call(
        &sim,
        "conversations.history",
        json!({ "channel": ch, "limit": 2 }),
    )
    .await;
    assert_eq!(texts(&p1), ["m4", "m3"]);
    let cursor = p1["response_metadata"]["next_cursor"].as_str().unwrap();
    let p2 = call(
        &sim,
        "conversations.history",
        json!({ "channel": ch, "limit": 2, "cursor": cursor }),
    )
    .await;
    assert_eq!(texts(&p2), ["m2", "m1"]);
    assert_eq!(p2["messages"][1]["reply_count"], 1);
    assert_eq!(p2["has_more"], false);
    let since = call(
        &sim,
        "conversations.history",
        json!({ "channel": ch, "oldest": second }),
    )
    .await;
    assert_eq!(texts(&since), ["m4", "m3"]);
    // GET with query parameters works too.
    let r: Value = reqwest::Client::new()
        .get(format!(
            "{}/conversations.history?channel={ch}&limit=1",
            sim.api_url()
        ))
        .bearer_auth(sim.bot_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(texts(&r), ["m4"]);
}

#[tokio::test]
async fn injected_faults_come_first_and_run_out() {
    let sim = sim().await;
    let bot = sim.bot_token();
    sim.fail_web(
        "chat.post",
        Fault::RateLimited {
            retry_after_secs: 7,
        },
        1,
    );
    let limited = call_as(
        &sim,
        Some(&bot),
        "chat.postMessage",
        json!({ "channel": "C0GENERAL", "text": "x" }),
    )
    .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.retry_after.as_deref(), Some("7"));
    assert_eq!(limited.body, json!({ "ok": false, "error": "ratelimited" }));
    call(
        &sim,
        "chat.postMessage",
        json!({ "channel": "C0GENERAL", "text": "x" }),
    )
    .await;

    sim.fail_web("", Fault::error("fatal_error"), 1);
    assert_eq!(
        error_of(&sim, None, "auth.test", json!({})).await,
        "fatal_error"
    );
    sim.fail_web("auth", Fault::ServerError(502), 2);
    for _ in 0..2 {
        let a = call_as(&sim, Some(&bot), "auth.test", json!({})).await;
        assert_eq!(a.status, 502);
        assert_eq!(a.body["ok"], false);
    }
    call(&sim, "auth.test", json!({})).await;
    let statuses: Vec<u16> = sim.web_calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [429, 200, 200, 502, 502, 200]);
}

#[tokio::test]
async fn rate_limits_are_enforced_per_method_when_set() {
    let sim = sim().await;
    let window = Duration::from_millis(1500);
    sim.set_rate_limit("auth.test", Some(RateLimit { limit: 2, window }));
    call(&sim, "auth.test", json!({})).await;
    call(&sim, "auth.test", json!({})).await;
    let over = call_as(&sim, Some(&sim.bot_token()), "auth.test", json!({})).await;
    assert_eq!(over.status, 429);
    assert_eq!(over.retry_after.as_deref(), Some("2"));
    // Other methods are not affected.
    call(
        &sim,
        "conversations.history",
        json!({ "channel": "C0GENERAL" }),
    )
    .await;
    sim.set_rate_limit("auth.test", None);
    call(&sim, "auth.test", json!({})).await;
}

#[tokio::test]
async fn users_info_knows_the_bot_and_injected_users() {
    let sim = sim().await;
    sim.user("U1", "alice");
    let u = call(&sim, "users.info", json!({ "user": "U1" })).await;
    assert_eq!(
        (&u["user"]["name"], &u["user"]["is_bot"]),
        (&json!("alice"), &json!(false))
    );
    let b = call(&sim, "users.info", json!({ "user": "U0BOT" })).await;
    assert_eq!(b["user"]["is_bot"], true);
    assert_eq!(
        error_of(
            &sim,
            Some(&sim.bot_token()),
            "users.info",
            json!({ "user": "U404" })
        )
        .await,
        "user_not_found"
    );
}
