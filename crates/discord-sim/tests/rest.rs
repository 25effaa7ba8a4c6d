//! REST behaviour over real HTTP (reqwest), with payloads checked against
//! twilight-model and the gateway dispatches REST causes.

mod common;

use std::time::Duration;

use common::{ALL, Client, api, http};
use discord_sim::{DiscordSim, RateLimits, RestFault, SimChannel, SimConfig};
use reqwest::Response;
use serde_json::{Value, json};
use twilight_model::channel::{Channel, ChannelType, Message};
use twilight_model::gateway::connection_info::{BotConnectionInfo, ConnectionInfo};
use twilight_model::user::CurrentUser;

async fn sim() -> DiscordSim {
    DiscordSim::start(SimConfig::default()).await.unwrap()
}

fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).map(|v| v.to_str().unwrap())
}

async fn post_message(sim: &DiscordSim, channel: u64, body: Value) -> Response {
    http(sim)
        .post(api(sim, &format!("/channels/{channel}/messages")))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn auth_headers_and_basic_reads() {
    let sim = sim().await;
    let anon = reqwest::Client::new()
        .get(api(&sim, "/users/@me"))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let body: Value = anon.json().await.unwrap();
    assert_eq!(body, json!({ "message": "401: Unauthorized", "code": 0 }));

    let c = http(&sim);
    let me = c.get(api(&sim, "/users/@me")).send().await.unwrap();
    assert_eq!(me.status(), 200);
    for h in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
    ] {
        assert!(header(&me, h).is_some(), "missing {h}");
    }
    let me: CurrentUser = me.json().await.unwrap();
    assert_eq!(me.id.get(), sim.bot_user().id);
    assert!(me.bot);

    let gw: ConnectionInfo = c
        .get(api(&sim, "/gateway"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(gw.url, sim.gateway_url());
    let bot: BotConnectionInfo = c
        .get(api(&sim, "/gateway/bot"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bot.shards, 1);
    assert_eq!(bot.session_start_limit.total, 1000);
    assert_eq!(bot.session_start_limit.max_concurrency, 1);

    let ch = sim.channel_ids()[0];
    let channel: Channel = c
        .get(api(&sim, &format!("/channels/{ch}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(channel.kind, ChannelType::GuildText);
    let missing = c.get(api(&sim, "/channels/1")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["code"], 10003);
    assert_eq!(sim.rest_calls().len(), 6);
    assert_eq!(sim.rest_calls()[0].status, 401);
}

#[tokio::test]
async fn create_edit_and_dispatch() {
    let sim = sim().await;
    let ch = sim.channel_ids()[0];
    let mut gw = Client::connect(&sim).await;
    gw.ready(&sim, ALL).await;

    let r = post_message(&sim, ch, json!({ "content": "hello" })).await;
    assert_eq!(r.status(), 200);
    let msg: Message = r.json().await.unwrap();
    assert_eq!(msg.author.id.get(), sim.bot_user().id);
    let created = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(created["d"]["id"], msg.id.to_string());

    let reply: Message = post_message(
        &sim,
        ch,
        json!({ "content": "re", "message_reference": { "message_id": msg.id.to_string() } }),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(reply.reference.and_then(|r| r.message_id), Some(msg.id));
    gw.dispatch("MESSAGE_CREATE").await;

    let too_long = post_message(&sim, ch, json!({ "content": "x".repeat(2001) })).await;
    assert_eq!(too_long.status(), 400);
    let err: Value = too_long.json().await.unwrap();
    assert_eq!(err["code"], 50035);
    assert_eq!(
        err["errors"]["content"]["_errors"][0]["code"],
        "BASE_TYPE_MAX_LENGTH"
    );
    let empty = post_message(&sim, ch, json!({ "content": "" })).await;
    assert_eq!(empty.json::<Value>().await.unwrap()["code"], 50006);

    let edited: Message = http(&sim)
        .patch(api(&sim, &format!("/channels/{ch}/messages/{}", msg.id)))
        .json(&json!({ "content": "hello, edited" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(edited.edited_timestamp.is_some());
    let update = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(update["d"]["content"], "hello, edited");

    let stored = sim.messages(ch);
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0].content, "hello, edited");
    assert_eq!(stored[0].edits, vec!["hello, edited".to_owned()]);
    assert_eq!(stored[0].edited_at.len(), 1);
    assert_eq!(stored[1].reply_to, Some(msg.id.get()));
}

#[tokio::test]
async fn threads_and_reactions() {
    let sim = sim().await;
    let ch = sim.channel_ids()[0];
    let alice = sim.user(7, "alice");
    let mut gw = Client::connect(&sim).await;
    gw.ready(&sim, ALL).await;
    let mid = sim.inject_message(ch, &alice, "start");
    gw.dispatch("MESSAGE_CREATE").await;
    let threads = api(&sim, &format!("/channels/{ch}/messages/{mid}/threads"));

    for bad in ["", &"n".repeat(101)] {
        let r = http(&sim)
            .post(&threads)
            .json(&json!({ "name": bad }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
    }
    let r = http(&sim)
        .post(&threads)
        .json(&json!({ "name": "talk", "auto_archive_duration": 60 }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    let thread: Channel = r.json().await.unwrap();
    assert_eq!(thread.id.get(), mid);
    assert_eq!(thread.kind, ChannelType::PublicThread);
    assert_eq!(thread.parent_id.map(|p| p.get()), Some(ch));
    let created = gw.dispatch("THREAD_CREATE").await;
    assert_eq!(created["d"]["id"], mid.to_string());
    let again = http(&sim)
        .post(&threads)
        .json(&json!({ "name": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.json::<Value>().await.unwrap()["code"], 160004);
    assert_eq!(sim.threads()[0].name, "talk");

    // The thread is a channel: read it, post in it.
    let got: Channel = http(&sim)
        .get(api(&sim, &format!("/channels/{mid}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got.kind, ChannelType::PublicThread);
    post_message(&sim, mid, json!({ "content": "in thread" })).await;
    assert_eq!(
        gw.dispatch("MESSAGE_CREATE").await["d"]["channel_id"],
        mid.to_string()
    );
    sim.inject_message(mid, &alice, "follow-up");
    assert_eq!(sim.messages(mid).len(), 2);

    let thumbs = api(
        &sim,
        &format!("/channels/{ch}/messages/{mid}/reactions/%F0%9F%91%8D/@me"),
    );
    let custom = api(
        &sim,
        &format!("/channels/{ch}/messages/{mid}/reactions/done:123/@me"),
    );
    assert_eq!(http(&sim).put(&thumbs).send().await.unwrap().status(), 204);
    assert_eq!(http(&sim).put(&custom).send().await.unwrap().status(), 204);
    assert_eq!(
        sim.reactions(ch, mid),
        vec!["👍".to_owned(), "done:123".to_owned()]
    );
    assert_eq!(
        http(&sim).delete(&thumbs).send().await.unwrap().status(),
        204
    );
    assert_eq!(sim.reactions(ch, mid), vec!["done:123".to_owned()]);
}

#[tokio::test]
async fn list_messages_paginates_newest_first() {
    let sim = sim().await;
    let ch = sim.channel_ids()[0];
    let alice = sim.user(7, "alice");
    let ids: Vec<u64> = (0..5)
        .map(|i| sim.inject_message(ch, &alice, &i.to_string()))
        .collect();
    let list = |q: &str| {
        let url = api(&sim, &format!("/channels/{ch}/messages{q}"));
        let c = http(&sim);
        async move {
            let msgs: Vec<Message> = c.get(url).send().await.unwrap().json().await.unwrap();
            msgs.iter().map(|m| m.id.get()).collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("").await,
        ids.iter().rev().copied().collect::<Vec<_>>()
    );
    assert_eq!(list("?limit=2").await, vec![ids[4], ids[3]]);
    assert_eq!(
        list(&format!("?before={}&limit=2", ids[3])).await,
        vec![ids[2], ids[1]]
    );
    assert_eq!(
        list(&format!("?after={}&limit=2", ids[1])).await,
        vec![ids[3], ids[2]]
    );
    assert_eq!(
        list(&format!("?around={}&limit=3", ids[2])).await,
        vec![ids[3], ids[2], ids[1]]
    );
    let bad = http(&sim)
        .get(api(&sim, &format!("/channels/{ch}/messages?limit=101")))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn injected_faults_take_precedence() {
    let sim = sim().await;
    let ch = sim.channel_ids()[0];
    sim.fail_rest(
        RestFault::TooManyRequests {
            retry_after: 1.5,
            global: false,
        },
        1,
        Some("/messages"),
    );
    // Not matching the path filter: unaffected.
    assert_eq!(
        http(&sim)
            .get(api(&sim, "/users/@me"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let r = post_message(&sim, ch, json!({ "content": "x" })).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), Some("2"));
    assert_eq!(header(&r, "x-ratelimit-scope"), Some("user"));
    assert_eq!(header(&r, "x-ratelimit-remaining"), Some("0"));
    assert_eq!(header(&r, "x-ratelimit-reset-after"), Some("1.500"));
    assert!(header(&r, "x-ratelimit-bucket").is_some());
    assert!(header(&r, "x-ratelimit-limit").is_some());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["retry_after"], 1.5);
    assert_eq!(body["global"], false);
    // Used up: the next one goes through.
    assert_eq!(
        post_message(&sim, ch, json!({ "content": "x" }))
            .await
            .status(),
        200
    );

    sim.fail_rest(
        RestFault::TooManyRequests {
            retry_after: 0.25,
            global: true,
        },
        1,
        None,
    );
    let r = post_message(&sim, ch, json!({ "content": "x" })).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-ratelimit-global"), Some("true"));
    assert_eq!(header(&r, "x-ratelimit-scope"), Some("global"));
    assert_eq!(header(&r, "retry-after"), Some("1"));

    // A route 429 names the route's own bucket (the one its successes
    // announce).
    let ok = post_message(&sim, ch, json!({ "content": "x" })).await;
    let bucket = header(&ok, "x-ratelimit-bucket").unwrap().to_owned();
    sim.fail_rest(
        RestFault::TooManyRequests {
            retry_after: 0.5,
            global: false,
        },
        1,
        None,
    );
    let r = post_message(&sim, ch, json!({ "content": "x" })).await;
    assert_eq!(header(&r, "x-ratelimit-bucket"), Some(bucket.as_str()));

    // Header-less: Retry-After and the JSON body, no X-RateLimit-* at all.
    sim.fail_rest(
        RestFault::HeaderlessTooManyRequests {
            retry_after: 1.25,
            global: true,
        },
        1,
        None,
    );
    let r = post_message(&sim, ch, json!({ "content": "x" })).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), Some("2"));
    let rate_headers: Vec<_> = r
        .headers()
        .keys()
        .filter(|k| k.as_str().starts_with("x-ratelimit"))
        .collect();
    assert!(rate_headers.is_empty(), "{rate_headers:?}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["retry_after"], 1.25);
    assert_eq!(body["global"], true);

    sim.fail_rest(RestFault::ServerError(502), 2, None);
    sim.fail_rest(RestFault::Unauthorized, 1, None);
    for expected in [502, 502, 401, 200] {
        let r = http(&sim)
            .get(api(&sim, "/users/@me"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), expected);
    }
    // Faults beat auth too.
    sim.fail_rest(RestFault::ServerError(500), 1, None);
    let r = reqwest::get(api(&sim, "/users/@me")).await.unwrap();
    assert_eq!(r.status(), 500);
    // Faulted requests have no side effects: only the two posts that
    // went through made messages.
    assert_eq!(sim.messages(ch).len(), 2);
}

#[tokio::test]
async fn rate_limits_are_enforced_per_route_and_globally() {
    let config = SimConfig {
        channels: vec![
            SimChannel {
                id: 11,
                name: "a".into(),
            },
            SimChannel {
                id: 12,
                name: "b".into(),
            },
        ],
        rate_limits: RateLimits {
            per_route: Some((2, Duration::from_secs(30))),
            global_per_second: None,
        },
        ..SimConfig::default()
    };
    let sim = DiscordSim::start(config).await.unwrap();
    let first = post_message(&sim, 11, json!({ "content": "1" })).await;
    assert_eq!(header(&first, "x-ratelimit-limit"), Some("2"));
    assert_eq!(header(&first, "x-ratelimit-remaining"), Some("1"));
    assert_eq!(header(&first, "x-ratelimit-scope"), None);
    assert_eq!(
        post_message(&sim, 11, json!({ "content": "2" }))
            .await
            .status(),
        200
    );
    let limited = post_message(&sim, 11, json!({ "content": "3" })).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "x-ratelimit-scope"), Some("user"));
    assert_eq!(
        header(&limited, "x-ratelimit-bucket"),
        header(&first, "x-ratelimit-bucket")
    );
    let body: Value = limited.json().await.unwrap();
    assert!(body["retry_after"].as_f64().unwrap() > 29.0);
    // Another channel is another bucket.
    assert_eq!(
        post_message(&sim, 12, json!({ "content": "1" }))
            .await
            .status(),
        200
    );
    assert_eq!(sim.messages(11).len(), 2);

    // Global: one request per second; two back-to-back local requests
    // land in the same second.
    sim.set_rate_limits(RateLimits {
        per_route: None,
        global_per_second: Some(1),
    });
    let ok = http(&sim)
        .get(api(&sim, "/users/@me"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let r = http(&sim).get(api(&sim, "/gateway")).send().await.unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-ratelimit-global"), Some("true"));
    assert_eq!(header(&r, "x-ratelimit-scope"), Some("global"));
    assert!(header(&r, "retry-after").is_some());
    assert_eq!(r.json::<Value>().await.unwrap()["global"], true);
}
