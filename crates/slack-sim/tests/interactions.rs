//! Interactions over real sockets: Block Kit buttons on messages, clicks
//! as `interactive` envelopes, slash commands as `slash_commands`
//! envelopes (ack payloads as responses), response_url limits,
//! chat.postEphemeral, and the control API for both.

mod common;

use std::time::Duration;

use common::{Client, Frame, WAIT, call, call_as, fast_config, sim};
use serde_json::{Value, json};
use slack_sim::{
    EphemeralSource, InteractionError, InteractionKind, InteractionOutcome, SlackSim,
    SlackSimConfig,
};

fn button(action_id: &str, label: &str, value: &str) -> Value {
    json!({ "type": "button", "action_id": action_id, "value": value,
            "text": { "type": "plain_text", "text": label } })
}

fn prompt_blocks() -> Value {
    let mut allow = button("allow_once", "Allow once", "req-1:allow");
    allow["style"] = json!("primary");
    json!([
        { "type": "section", "text": { "type": "mrkdwn", "text": "Run `ls -la`?" } },
        { "type": "actions", "block_id": "perm-1", "elements": [
            allow,
            button("reject_once", "Reject", "req-1:reject"),
        ] },
    ])
}

/// The bot posts the prompt (optionally in a thread); returns its ts.
async fn post_prompt(sim: &SlackSim, c: &mut Client, thread_ts: Option<&str>) -> String {
    let mut body = json!({ "channel": sim.channel_ids()[0], "text": "permission?",
                           "blocks": prompt_blocks() });
    if let Some(t) = thread_ts {
        body["thread_ts"] = json!(t);
    }
    let r = call(sim, "chat.postMessage", body).await;
    let e = c.envelope_acked().await; // the bot's own message event
    assert_eq!(e["payload"]["event"]["blocks"][1]["block_id"], "perm-1");
    r["ts"].as_str().unwrap().to_owned()
}

/// The next frame, which must be an envelope of `kind`.
async fn envelope_of(c: &mut Client, kind: &str) -> Value {
    let v = c.json().await;
    assert_eq!(v["type"], kind, "expected a {kind} envelope, got {v}");
    v
}

async fn error_of(sim: &SlackSim, method: &str, body: Value) -> String {
    let a = call_as(sim, Some(&sim.bot_token()), method, body).await;
    assert_eq!(a.body["ok"], false, "{method}: {a:?}");
    a.body["error"].as_str().unwrap().to_owned()
}

async fn post_url(url: &str, body: Value) -> (u16, Value) {
    let r = tokio::time::timeout(WAIT, reqwest::Client::new().post(url).json(&body).send())
        .await
        .expect("response_url post timed out")
        .expect("response_url post failed");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn history_texts(sim: &SlackSim) -> Vec<String> {
    sim.messages(&sim.channel_ids()[0])
        .into_iter()
        .map(|m| m.text)
        .collect()
}

#[tokio::test]
async fn a_click_arrives_as_an_interactive_envelope_and_its_ack_is_recorded() {
    let sim = sim().await;
    sim.user("U1", "ada");
    let mut c = Client::connect(&sim).await;
    let channel = sim.channel_ids()[0].clone();
    let root = sim.post_user_message(&channel, "U1", "run ls", None);
    c.envelope_acked().await;
    let ts = post_prompt(&sim, &mut c, Some(&root)).await;

    let h = sim.click_button(&channel, &ts, "allow_once", "U1").unwrap();
    assert_eq!(h.outcome, InteractionOutcome::Awaiting);
    let e = envelope_of(&mut c, "interactive").await;
    assert_eq!(e["envelope_id"], h.envelope_id.as_str());
    assert_eq!(e["accepts_response_payload"], true);
    assert!(e.get("retry_attempt").is_none(), "{e}");
    let p = &e["payload"];
    assert_eq!(p["type"], "block_actions");
    assert_eq!(p["user"]["id"], "U1");
    assert_eq!(p["user"]["name"], "ada");
    assert_eq!(p["channel"]["id"], channel.as_str());
    assert_eq!(p["message"]["ts"], ts.as_str());
    assert_eq!(p["message"]["thread_ts"], root.as_str());
    assert_eq!(
        p["message"]["blocks"][1]["elements"][0]["action_id"],
        "allow_once"
    );
    assert_eq!(p["container"]["type"], "message");
    assert_eq!(p["container"]["message_ts"], ts.as_str());
    assert_eq!(p["container"]["thread_ts"], root.as_str());
    let a = &p["actions"][0];
    assert_eq!(a["action_id"], "allow_once");
    assert_eq!(a["block_id"], "perm-1");
    assert_eq!(a["value"], "req-1:allow");
    assert_eq!(a["type"], "button");
    assert_eq!(a["style"], "primary");
    assert!(a["action_ts"].as_str().unwrap().contains('.'));
    assert_eq!(p["response_url"], h.response_url.as_str());
    assert_eq!(p["trigger_id"], h.trigger_id.as_str());

    c.ack(&e).await;
    let r = h.settled(WAIT).await.expect("ack not recorded");
    assert_eq!(r.outcome, InteractionOutcome::Acked);
    assert_eq!(r.kind, InteractionKind::BlockActions);
    assert_eq!(r.action_id.as_deref(), Some("allow_once"));
    assert!(r.ack_latency.is_some());
    assert!(sim.acks().iter().any(|a| a.envelope_id == h.envelope_id));
    assert!(sim.unacked().is_empty());

    // Only buttons that exist can be clicked.
    let missing = sim.click_button(&channel, &ts, "nope", "U1").unwrap_err();
    assert_eq!(missing, InteractionError::ButtonNotFound);
    let gone = sim.click_button(&channel, "1.000001", "allow_once", "U1");
    assert_eq!(gone.unwrap_err(), InteractionError::MessageNotFound);
}

#[tokio::test]
async fn an_unacked_click_times_out_and_is_not_redelivered() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    let ts = post_prompt(&sim, &mut c, None).await;
    let h = sim
        .click_button(&channel, &ts, "reject_once", "U2")
        .unwrap();
    let e = envelope_of(&mut c, "interactive").await;
    let r = h.settled(WAIT).await.expect("no timeout recorded");
    assert_eq!(r.outcome, InteractionOutcome::TimedOut);
    // ack_timeout is 200 ms: twice that brings no retry.
    assert!(c.next_within(Duration::from_millis(400)).await.is_none());
    assert_eq!(
        sim.deliveries()
            .iter()
            .filter(|d| d.envelope_id == h.envelope_id)
            .count(),
        1
    );
    // A late ack is noted but changes nothing.
    c.ack(&e).await;
    sim.wait_until(WAIT, |_| h.record().acked_at.map(|_| ()))
        .await
        .expect("late ack not noted");
    assert_eq!(h.record().outcome, InteractionOutcome::TimedOut);
    assert_eq!(h.record().ack_latency, None);

    // With no connection open, nothing is sent (and nothing waits).
    c.close().await;
    sim.wait_until(WAIT, |s| s.live_connections().is_empty().then_some(()))
        .await
        .unwrap();
    let lost = sim.click_button(&channel, &ts, "allow_once", "U2").unwrap();
    assert_eq!(lost.outcome, InteractionOutcome::NoConnection);
    let mut again = Client::connect(&sim).await;
    assert!(
        again
            .next_within(Duration::from_millis(300))
            .await
            .is_none()
    );
}

#[tokio::test]
async fn chat_update_with_empty_blocks_removes_the_buttons() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    let ts = post_prompt(&sim, &mut c, None).await;
    let history = call(&sim, "conversations.history", json!({ "channel": channel })).await;
    assert_eq!(history["messages"][0]["blocks"][1]["block_id"], "perm-1");
    assert_eq!(
        history["messages"][0]["blocks"][0]["block_id"], "sim-b0",
        "Slack names unnamed blocks"
    );

    // Text only: the buttons stay.
    call(
        &sim,
        "chat.update",
        json!({ "channel": channel, "ts": ts, "text": "still?" }),
    )
    .await;
    assert_eq!(sim.messages(&channel)[0].blocks.len(), 2);
    let changed = c.envelope_acked().await;
    assert_eq!(changed["payload"]["event"]["subtype"], "message_changed");

    // blocks: [] removes them; the text is the decision.
    let r = call(
        &sim,
        "chat.update",
        json!({ "channel": channel, "ts": ts, "text": "Allowed once by <@U1>", "blocks": [] }),
    )
    .await;
    assert!(r["message"].get("blocks").is_none(), "{r}");
    let changed = c.envelope_acked().await;
    assert!(
        changed["payload"]["event"]["message"]
            .get("blocks")
            .is_none()
    );
    let m = &sim.messages(&channel)[0];
    assert!(m.blocks.is_empty());
    assert_eq!(m.text, "Allowed once by <@U1>");
    let history = call(&sim, "conversations.history", json!({ "channel": channel })).await;
    assert!(history["messages"][0].get("blocks").is_none());
    let err = sim
        .click_button(&channel, &ts, "allow_once", "U1")
        .unwrap_err();
    assert_eq!(err, InteractionError::ButtonNotFound);

    // Blocks as a JSON string in a form work too, and replies show them.
    let form = reqwest::Client::new()
        .post(format!("{}/chat.update", sim.api_url()))
        .bearer_auth(sim.bot_token())
        .form(&[
            ("channel", channel.as_str()),
            ("ts", ts.as_str()),
            ("blocks", &prompt_blocks().to_string()),
        ])
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(form["ok"], true, "{form}");
    let replies = call(
        &sim,
        "conversations.replies",
        json!({ "channel": channel, "ts": ts }),
    )
    .await;
    assert_eq!(
        replies["messages"][0]["blocks"][1]["elements"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(replies["messages"][0]["text"], "Allowed once by <@U1>");
}

#[tokio::test]
async fn invalid_blocks_are_refused() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let post = |blocks: Value| json!({ "channel": channel, "text": "t", "blocks": blocks });
    let actions = |elements: Vec<Value>| json!([{ "type": "actions", "elements": elements }]);
    let long = |n: usize| "x".repeat(n);

    let many_buttons: Vec<Value> = (0..26)
        .map(|i| button(&format!("a{i}"), "b", "v"))
        .collect();
    let many_blocks: Vec<Value> = (0..51).map(|_| json!({ "type": "divider" })).collect();
    let mut bad_style = button("a", "b", "v");
    bad_style["style"] = json!("loud");
    for (why, blocks) in [
        ("26 buttons", actions(many_buttons)),
        ("51 blocks", json!(many_blocks)),
        (
            "long action_id",
            actions(vec![button(&long(256), "b", "v")]),
        ),
        ("long label", actions(vec![button("a", &long(76), "v")])),
        ("long value", actions(vec![button("a", "b", &long(2_001))])),
        ("bad style", actions(vec![bad_style])),
        ("empty section", json!([{ "type": "section" }])),
    ] {
        assert_eq!(
            error_of(&sim, "chat.postMessage", post(blocks)).await,
            "invalid_blocks",
            "{why}"
        );
    }
    assert_eq!(
        error_of(&sim, "chat.postMessage", post(json!({ "type": "divider" }))).await,
        "invalid_blocks_format"
    );
    assert!(sim.messages(&channel).is_empty(), "nothing stored");

    // At the limits it is fine.
    let edge = actions(vec![button(&long(255), &long(75), &long(2_000))]);
    let ok = call(&sim, "chat.postMessage", post(edge)).await;
    let ts = ok["ts"].as_str().unwrap();
    let update = json!({ "channel": channel, "ts": ts, "blocks": actions(vec![button("a", &long(76), "v")]) });
    assert_eq!(
        error_of(&sim, "chat.update", update).await,
        "invalid_blocks"
    );
    assert_eq!(
        sim.messages(&channel)[0].blocks[0]["elements"][0]["text"]["text"],
        long(75)
    );
    let ephemeral =
        json!({ "channel": channel, "user": "U1", "blocks": json!([{ "type": "video" }]) });
    assert_eq!(
        error_of(&sim, "chat.postEphemeral", ephemeral).await,
        "invalid_blocks"
    );
}

#[tokio::test]
async fn slash_command_envelope_and_ack_payload_response() {
    let sim = sim().await;
    sim.user("U1", "ada");
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    let h = sim
        .run_slash_command(&channel, "U1", "/switchboard", "status")
        .unwrap();
    let e = envelope_of(&mut c, "slash_commands").await;
    assert_eq!(e["envelope_id"], h.envelope_id.as_str());
    assert_eq!(e["accepts_response_payload"], true);
    let p = &e["payload"];
    assert_eq!(p["command"], "/switchboard");
    assert_eq!(p["text"], "status");
    assert_eq!(p["user_id"], "U1");
    assert_eq!(p["user_name"], "ada");
    assert_eq!(p["channel_id"], channel.as_str());
    assert_eq!(p["channel_name"], "general");
    assert_eq!(p["team_id"], sim.team_id());
    assert_eq!(p["api_app_id"], sim.app_id());
    assert_eq!(p["response_url"], h.response_url.as_str());
    assert_eq!(p["trigger_id"], h.trigger_id.as_str());

    c.send(json!({ "envelope_id": h.envelope_id, "payload": { "text": "2 sessions, queue 0" } }))
        .await;
    let r = h.settled(WAIT).await.expect("ack not recorded");
    assert_eq!(r.outcome, InteractionOutcome::Acked);
    assert_eq!(r.kind, InteractionKind::SlashCommand);
    assert_eq!(r.ack_payload.unwrap()["text"], "2 sessions, queue 0");
    let ephemerals = sim.ephemerals();
    assert_eq!(ephemerals.len(), 1);
    assert_eq!(ephemerals[0].user, "U1");
    assert_eq!(ephemerals[0].text, "2 sessions, queue 0");
    assert_eq!(ephemerals[0].source, EphemeralSource::CommandAck);
    assert!(
        history_texts(&sim).is_empty(),
        "ephemeral is not in history"
    );
    assert!(
        c.next_within(Duration::from_millis(300)).await.is_none(),
        "no event"
    );

    // in_channel: the app's message, in history, with its event.
    let h2 = sim
        .run_slash_command(&channel, "U1", "/switchboard", "help")
        .unwrap();
    let e2 = envelope_of(&mut c, "slash_commands").await;
    let payload = json!({ "response_type": "in_channel", "text": "commands: status, cancel" });
    c.send(json!({ "envelope_id": e2["envelope_id"], "payload": payload }))
        .await;
    h2.settled(WAIT).await.unwrap();
    let posted = c.envelope_acked().await;
    assert_eq!(posted["payload"]["event"]["bot_id"], "B0BOT");
    assert_eq!(history_texts(&sim), ["commands: status, cancel"]);

    // A plain ack shows nothing; bad commands are refused.
    let h3 = sim
        .run_slash_command(&channel, "U1", "/switchboard", "")
        .unwrap();
    let e = envelope_of(&mut c, "slash_commands").await;
    c.ack(&e).await;
    assert_eq!(
        h3.settled(WAIT).await.unwrap().outcome,
        InteractionOutcome::Acked
    );
    assert_eq!(sim.ephemerals().len(), 1);
    let bad = sim.run_slash_command(&channel, "U1", "switchboard", "");
    assert_eq!(bad.unwrap_err(), InteractionError::BadCommand);
}

#[tokio::test]
async fn response_url_works_then_refuses_a_sixth_use() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    let h = sim
        .run_slash_command(&channel, "U1", "/switchboard", "status")
        .unwrap();
    let e = envelope_of(&mut c, "slash_commands").await;
    c.ack(&e).await;
    h.settled(WAIT).await.unwrap();

    for n in 0..4 {
        let (status, body) =
            post_url(&h.response_url, json!({ "text": format!("step {n}") })).await;
        assert_eq!((status, &body["ok"]), (200, &json!(true)), "{body}");
    }
    let (status, _) = post_url(
        &h.response_url,
        json!({ "text": "done", "response_type": "in_channel" }),
    )
    .await;
    assert_eq!(status, 200);
    c.envelope_acked().await; // the in_channel message's event
    let (status, body) = post_url(&h.response_url, json!({ "text": "sixth" })).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "used_url");

    let ephemerals = sim.ephemerals();
    assert_eq!(ephemerals.len(), 4);
    assert!(
        ephemerals
            .iter()
            .all(|e| e.user == "U1" && e.source == EphemeralSource::ResponseUrl)
    );
    assert_eq!(history_texts(&sim), ["done"]);
    let uses = sim.response_url_uses();
    assert_eq!(uses.len(), 6);
    assert_eq!(uses[5].error.as_deref(), Some("used_url"));
    assert!(uses.iter().all(|u| u.envelope_id == h.envelope_id));

    let forged = h.response_url.replace("/response/", "/response/x");
    assert_eq!(post_url(&forged, json!({ "text": "hi" })).await.0, 404);
}

#[tokio::test]
async fn response_url_expires_and_acts_on_the_original_message() {
    let life = Duration::from_millis(600);
    let sim = SlackSim::start(SlackSimConfig {
        response_url_life: life,
        ..fast_config()
    })
    .await
    .unwrap();
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    let ts = post_prompt(&sim, &mut c, None).await;
    let h = sim.click_button(&channel, &ts, "allow_once", "U1").unwrap();
    let e = envelope_of(&mut c, "interactive").await;
    c.ack(&e).await;

    // replace_original: the prompt becomes the decision, buttons gone.
    let (status, _) = post_url(
        &h.response_url,
        json!({ "replace_original": true, "text": "Allowed once by <@U1>" }),
    )
    .await;
    assert_eq!(status, 200);
    let changed = c.envelope_acked().await;
    assert_eq!(changed["payload"]["event"]["subtype"], "message_changed");
    let m = &sim.messages(&channel)[0];
    assert_eq!(
        (m.text.as_str(), m.blocks.len()),
        ("Allowed once by <@U1>", 0)
    );

    // Past its life the URL is refused.
    tokio::time::sleep_until(h.record().created_at + life).await;
    let (status, body) = post_url(&h.response_url, json!({ "text": "late" })).await;
    assert_eq!((status, body["error"].as_str()), (404, Some("expired_url")));
    assert!(sim.ephemerals().is_empty());

    // delete_original on a fresh click removes the message.
    let ts2 = post_prompt(&sim, &mut c, None).await;
    let h2 = sim
        .click_button(&channel, &ts2, "reject_once", "U1")
        .unwrap();
    let e = envelope_of(&mut c, "interactive").await;
    c.ack(&e).await;
    let (status, _) = post_url(&h2.response_url, json!({ "delete_original": true })).await;
    assert_eq!(status, 200);
    let deleted = c.envelope_acked().await;
    assert_eq!(deleted["payload"]["event"]["subtype"], "message_deleted");
    assert_eq!(deleted["payload"]["event"]["deleted_ts"], ts2.as_str());
    assert_eq!(sim.messages(&channel).len(), 1);
}

#[tokio::test]
async fn post_ephemeral_is_seen_by_one_user_and_never_in_history() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    let root = sim.post_user_message(&channel, "U1", "start", None);
    c.envelope_acked().await;
    let r = call(
        &sim,
        "chat.postEphemeral",
        json!({ "channel": channel, "user": "U2", "thread_ts": root,
                "text": "only <@U1> or an approver can decide this" }),
    )
    .await;
    let message_ts = r["message_ts"].as_str().unwrap();
    let e = &sim.ephemerals()[0];
    assert_eq!((e.user.as_str(), e.message_ts.as_str()), ("U2", message_ts));
    assert_eq!(e.thread_ts.as_deref(), Some(root.as_str()));
    assert_eq!(e.source, EphemeralSource::PostEphemeral);
    assert_eq!(history_texts(&sim), ["start"]);
    let replies = call(
        &sim,
        "conversations.replies",
        json!({ "channel": channel, "ts": root }),
    )
    .await;
    assert_eq!(replies["messages"].as_array().unwrap().len(), 1);
    assert!(
        c.next_within(Duration::from_millis(300)).await.is_none(),
        "no event"
    );

    let no_user = json!({ "channel": channel, "text": "x" });
    assert_eq!(
        error_of(&sim, "chat.postEphemeral", no_user).await,
        "invalid_arguments"
    );
    let no_text = json!({ "channel": channel, "user": "U2" });
    assert_eq!(
        error_of(&sim, "chat.postEphemeral", no_text).await,
        "no_text"
    );
    let nowhere = json!({ "channel": "C404", "user": "U2", "text": "x" });
    assert_eq!(
        error_of(&sim, "chat.postEphemeral", nowhere).await,
        "channel_not_found"
    );
}

#[tokio::test]
async fn control_api_clicks_runs_commands_and_reports_them() {
    let sim = sim().await;
    let mut c = Client::connect(&sim).await;
    let ts = post_prompt(&sim, &mut c, None).await;
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/_sim/{path}", sim.http_url());

    let clicked: Value = http
        .post(control("click"))
        .json(&json!({ "message_ts": ts, "action_id": "allow_once", "user": "U1" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clicked["outcome"], "awaiting");
    let e = envelope_of(&mut c, "interactive").await;
    assert_eq!(e["envelope_id"], clicked["envelope_id"]);
    c.ack(&e).await;

    let ran: Value = http
        .post(control("slash"))
        .json(&json!({ "user": "U1", "command": "/switchboard", "text": "status" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let e = envelope_of(&mut c, "slash_commands").await;
    assert_eq!(e["payload"]["response_url"], ran["response_url"]);
    c.send(json!({ "envelope_id": e["envelope_id"], "payload": { "text": "ok" } }))
        .await;
    sim.wait_until(WAIT, |s| (s.ephemerals().len() == 1).then_some(()))
        .await
        .expect("ack payload not shown");

    let bad = http
        .post(control("click"))
        .json(&json!({ "message_ts": ts, "action_id": "nope", "user": "U1" }))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 400);

    let records: Value = http
        .get(control("records"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = records["interactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["block_actions", "slash_commands"]);
    assert_eq!(records["interactions"][0]["outcome"], "acked");
    assert_eq!(records["ephemerals"][0]["source"], "command_ack");
    assert!(matches!(
        c.next_within(Duration::from_millis(10)).await,
        None | Some(Frame::Pong)
    ));
}

#[tokio::test]
async fn mute_and_delay_rules_apply_to_interactions() {
    let sim = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let mut c = Client::connect(&sim).await;
    let ts = post_prompt(&sim, &mut c, None).await;

    sim.mute_events(&["block_actions"]);
    let muted = sim.click_button(&channel, &ts, "allow_once", "U1").unwrap();
    assert_eq!(muted.outcome, InteractionOutcome::Muted);
    assert_eq!(
        sim.muted_events()[0].event_type.as_deref(),
        Some("block_actions")
    );
    assert!(c.next_within(Duration::from_millis(300)).await.is_none());
    sim.unmute_events();

    // A delayed kind goes out late; its ack time starts when it goes out.
    let delay = Duration::from_millis(300);
    sim.delay_events(&["slash_commands"], delay);
    let h = sim
        .run_slash_command(&channel, "U1", "/switchboard", "status")
        .unwrap();
    let e = envelope_of(&mut c, "slash_commands").await;
    let waited = h.record().created_at.elapsed();
    assert!(waited >= delay, "arrived after {waited:?}");
    c.ack(&e).await;
    let r = h.settled(WAIT).await.unwrap();
    assert_eq!(r.outcome, InteractionOutcome::Acked);
}
