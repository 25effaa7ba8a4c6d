//! Interactions end to end over a raw gateway client and real HTTP:
//! buttons on messages, clicks and slash commands dispatched as
//! INTERACTION_CREATE, the initial callback's 3 s deadline and single use,
//! ephemeral answers, follow-ups within the token's life, and command
//! registration validated as Discord does. Payloads are checked against
//! twilight-model.

mod common;

use std::time::Duration;

use common::{ALL, Client, WAIT, api, http};
use discord_sim::{DiscordSim, InteractionError, InteractionHandle, SimConfig, SimUser};
use reqwest::Response;
use serde_json::{Value, json};
use twilight_model::application::command::{Command, CommandType};
use twilight_model::application::interaction::{Interaction, InteractionData, InteractionType};
use twilight_model::channel::Message;

/// A deadline small enough to keep tests fast, large enough for a loaded
/// machine to answer within it.
const FAST_DEADLINE: Duration = Duration::from_millis(400);

async fn start(config: SimConfig) -> (DiscordSim, Client) {
    let sim = DiscordSim::start(config).await.unwrap();
    let mut gw = Client::connect(&sim).await;
    let ready = gw.ready(&sim, ALL).await;
    assert_eq!(
        ready["d"]["application"]["id"],
        sim.bot_user().id.to_string(),
        "the application id is the bot's user id"
    );
    (sim, gw)
}

fn alice(sim: &DiscordSim) -> SimUser {
    sim.user(7, "alice")
}

fn buttons(ids: &[&str]) -> Value {
    let row: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "type": 2, "style": 1, "label": id.to_uppercase(), "custom_id": id }))
        .collect();
    json!([{ "type": 1, "components": row }])
}

/// The bot posts a message with buttons; returns its id (MESSAGE_CREATE read).
async fn post_prompt(sim: &DiscordSim, gw: &mut Client, ids: &[&str]) -> u64 {
    let channel = sim.channel_ids()[0];
    let r = http(sim)
        .post(api(sim, &format!("/channels/{channel}/messages")))
        .json(&json!({ "content": "Run `ls`?", "components": buttons(ids) }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let message: Message = r.json().await.unwrap();
    assert_eq!(message.components.len(), 1);
    let created = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(
        created["d"]["components"][0]["components"][0]["custom_id"],
        ids[0]
    );
    message.id.get()
}

async fn callback(sim: &DiscordSim, h: &InteractionHandle, body: Value) -> Response {
    reqwest::Client::new()
        .post(api(
            sim,
            &format!("/interactions/{}/{}/callback", h.id(), h.token()),
        ))
        .json(&body)
        .send()
        .await
        .unwrap()
}

fn webhook_url(sim: &DiscordSim, h: &InteractionHandle, tail: &str) -> String {
    api(
        sim,
        &format!("/webhooks/{}/{}{tail}", sim.bot_user().id, h.token()),
    )
}

async fn error_code(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    (status, body)
}

fn interaction_of(frame: &Value) -> Interaction {
    serde_json::from_value(frame["d"].clone())
        .unwrap_or_else(|e| panic!("INTERACTION_CREATE does not parse: {e}\n{frame}"))
}

#[tokio::test]
async fn a_click_dispatches_interaction_create_to_the_session() {
    let (sim, mut gw) = start(SimConfig::default()).await;
    let message_id = post_prompt(&sim, &mut gw, &["allow", "deny"]).await;
    let channel = sim.channel_ids()[0];
    let alice = alice(&sim);
    sim.set_member_roles(alice.id, &[555]);

    let handle = sim
        .click_button(channel, message_id, "deny", &alice)
        .unwrap();
    let frame = gw.dispatch("INTERACTION_CREATE").await;
    let interaction = interaction_of(&frame);
    assert_eq!(interaction.kind, InteractionType::MessageComponent);
    assert_eq!(interaction.id.get(), handle.id());
    assert_eq!(interaction.token, handle.token());
    assert_eq!(interaction.application_id.get(), sim.bot_user().id);
    assert_eq!(interaction.guild_id.unwrap().get(), sim.guild_id());
    let member = interaction.member.as_ref().unwrap();
    assert_eq!(member.user.as_ref().unwrap().id.get(), alice.id);
    assert_eq!(member.roles[0].get(), 555);
    assert_eq!(interaction.message.as_ref().unwrap().id.get(), message_id);
    let Some(InteractionData::MessageComponent(data)) = &interaction.data else {
        panic!("no component data: {frame}");
    };
    assert_eq!(data.custom_id, "deny");
    assert_eq!(frame["d"]["channel_id"], channel.to_string());

    assert_eq!(
        sim.click_button(channel, message_id, "forged", &alice)
            .unwrap_err(),
        InteractionError::UnknownButton("forged".into())
    );
    sim.click_button_unchecked(channel, message_id, "forged", &alice)
        .unwrap();
    let forged = interaction_of(&gw.dispatch("INTERACTION_CREATE").await);
    let Some(InteractionData::MessageComponent(data)) = forged.data else {
        panic!("no component data");
    };
    assert_eq!(data.custom_id, "forged");
    assert_eq!(sim.interactions().len(), 2);
}

#[tokio::test]
async fn update_message_callback_edits_the_message_and_removes_its_buttons() {
    let (sim, mut gw) = start(SimConfig::default()).await;
    let message_id = post_prompt(&sim, &mut gw, &["allow", "deny"]).await;
    let channel = sim.channel_ids()[0];
    let handle = sim
        .click_button(channel, message_id, "allow", &alice(&sim))
        .unwrap();
    gw.dispatch("INTERACTION_CREATE").await;

    let r = callback(
        &sim,
        &handle,
        json!({ "type": 7, "data": { "content": "Allowed once by @alice", "components": [] } }),
    )
    .await;
    assert_eq!(r.status(), 204);
    let update = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(update["d"]["components"], json!([]));
    let stored = sim
        .messages(channel)
        .into_iter()
        .find(|m| m.id == message_id)
        .unwrap();
    assert_eq!(stored.content, "Allowed once by @alice");
    assert_eq!(stored.components, json!([]));

    let response = handle.wait_response(WAIT).await.unwrap();
    assert_eq!(response.kind, 7);
    assert_eq!(response.content.as_deref(), Some("Allowed once by @alice"));
    assert_eq!(response.components, Some(json!([])));
    assert!(
        response.after < Duration::from_secs(3),
        "{:?}",
        response.after
    );
    assert!(!response.ephemeral());
}

#[tokio::test]
async fn a_late_callback_is_an_unknown_interaction_and_kills_the_token() {
    let config = SimConfig {
        interaction_callback_deadline: FAST_DEADLINE,
        ..SimConfig::default()
    };
    let (sim, mut gw) = start(config).await;
    let message_id = post_prompt(&sim, &mut gw, &["allow"]).await;
    let handle = sim
        .click_button(sim.channel_ids()[0], message_id, "allow", &alice(&sim))
        .unwrap();
    gw.dispatch("INTERACTION_CREATE").await;
    tokio::time::sleep_until(handle.dispatched_at() + FAST_DEADLINE + Duration::from_millis(50))
        .await;

    let (status, body) = error_code(callback(&sim, &handle, json!({ "type": 6 })).await).await;
    assert_eq!((status, &body["code"]), (404, &json!(10062)), "{body}");
    assert_eq!(body["message"], "Unknown interaction");
    assert!(handle.response().is_none());
    assert_eq!(handle.callbacks()[0].error_code, Some(10062));
    assert!(handle.callbacks()[0].after > FAST_DEADLINE);

    let followup = reqwest::Client::new()
        .post(webhook_url(&sim, &handle, ""))
        .json(&json!({ "content": "too late" }))
        .send()
        .await
        .unwrap();
    let (status, body) = error_code(followup).await;
    assert_eq!((status, &body["code"]), (401, &json!(50027)), "{body}");
}

#[tokio::test]
async fn a_second_callback_is_already_acknowledged() {
    let (sim, mut gw) = start(SimConfig::default()).await;
    let message_id = post_prompt(&sim, &mut gw, &["allow"]).await;
    let handle = sim
        .click_button(sim.channel_ids()[0], message_id, "allow", &alice(&sim))
        .unwrap();
    assert_eq!(
        callback(&sim, &handle, json!({ "type": 6 })).await.status(),
        204
    );
    let (status, body) = error_code(callback(&sim, &handle, json!({ "type": 6 })).await).await;
    assert_eq!((status, &body["code"]), (400, &json!(40060)), "{body}");
    assert_eq!(
        body["message"],
        "Interaction has already been acknowledged."
    );
    assert_eq!(handle.callbacks().len(), 2);
    assert_eq!(handle.response().unwrap().kind, 6);

    let unknown = reqwest::Client::new()
        .post(api(
            &sim,
            &format!("/interactions/{}/wrong-token/callback", handle.id()),
        ))
        .json(&json!({ "type": 6 }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(unknown).await.1["code"], 10062);
}

#[tokio::test]
async fn an_ephemeral_reply_is_seen_by_the_clicker_only() {
    let (sim, mut gw) = start(SimConfig::default()).await;
    let message_id = post_prompt(&sim, &mut gw, &["allow"]).await;
    let channel = sim.channel_ids()[0];
    let bob = sim.user(8, "bob");
    let handle = sim
        .click_button(channel, message_id, "allow", &bob)
        .unwrap();
    let before = sim.messages(channel).len();

    let r = callback(
        &sim,
        &handle,
        json!({ "type": 4, "data": { "content": "only @alice can decide this", "flags": 64 } }),
    )
    .await;
    assert_eq!(r.status(), 204);
    assert_eq!(sim.messages(channel).len(), before);
    let ephemeral = handle.ephemeral_messages();
    assert_eq!(ephemeral.len(), 1);
    assert_eq!(ephemeral[0].visible_to, bob.id);
    assert_eq!(ephemeral[0].content, "only @alice can decide this");
    assert!(handle.response().unwrap().ephemeral());

    // @original is the ephemeral message: an edit changes it, still unseen.
    let edit = reqwest::Client::new()
        .patch(webhook_url(&sim, &handle, "/messages/@original"))
        .json(&json!({ "content": "still not yours" }))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);
    let edited: Message = edit.json().await.unwrap();
    assert_eq!(edited.content, "still not yours");
    assert_eq!(edited.flags.unwrap().bits(), 64);
    assert_eq!(sim.ephemeral_messages()[0].edits, vec!["still not yours"]);
    assert_eq!(sim.messages(channel).len(), before);
    // Nothing of it reached the gateway: the next dispatch is a later one.
    sim.inject_message(channel, &bob, "marker");
    let next = gw.dispatch("INTERACTION_CREATE").await;
    assert_eq!(next["d"]["id"], handle.id().to_string());
    assert_eq!(
        gw.dispatch("MESSAGE_CREATE").await["d"]["content"],
        "marker"
    );
}

#[tokio::test]
async fn components_are_validated_like_discord() {
    let (sim, _gw) = start(SimConfig::default()).await;
    let channel = sim.channel_ids()[0];
    let post = |components: Value| {
        let sim = sim.clone();
        async move {
            let r = http(&sim)
                .post(api(&sim, &format!("/channels/{channel}/messages")))
                .json(&json!({ "content": "x", "components": components }))
                .send()
                .await
                .unwrap();
            error_code(r).await
        }
    };
    let (status, body) = post(json!([{ "type": 1, "components": [
        { "type": 2, "style": 1, "label": "no id" }
    ] }]))
    .await;
    assert_eq!((status, &body["code"]), (400, &json!(50035)), "{body}");
    assert_eq!(
        body["errors"]["components"]["0"]["components"]["0"]["custom_id"]["_errors"][0]["code"],
        "BASE_TYPE_REQUIRED"
    );
    let six: Vec<&str> = vec!["a", "b", "c", "d", "e", "f"];
    let (status, body) = post(buttons(&six)).await;
    assert_eq!(status, 400, "{body}");
    let long_label = json!([{ "type": 1, "components": [
        { "type": 2, "style": 1, "label": "l".repeat(81), "custom_id": "a" }
    ] }]);
    let (status, body) = post(long_label).await;
    assert_eq!(status, 400);
    assert!(
        body["errors"]["components"]["0"]["components"]["0"]["label"].is_object(),
        "{body}"
    );
    let rows: Vec<Value> = (0..6)
        .map(|i| buttons(&[&format!("b{i}")])[0].clone())
        .collect();
    assert_eq!(post(Value::Array(rows)).await.0, 400);
}

async fn put_commands(sim: &DiscordSim, guild: Option<u64>, body: Value) -> (u16, Value) {
    let app = sim.bot_user().id;
    let path = match guild {
        Some(g) => format!("/applications/{app}/guilds/{g}/commands"),
        None => format!("/applications/{app}/commands"),
    };
    error_code(
        http(sim)
            .put(api(sim, &path))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await
}

fn mode_command() -> Value {
    json!({
        "name": "mode", "description": "Set the agent's mode", "type": 1,
        "options": [{ "type": 3, "name": "mode", "description": "the mode", "required": true,
            "choices": [{ "name": "plan", "value": "plan" }, { "name": "acceptEdits", "value": "acceptEdits" }] }],
    })
}

#[tokio::test]
async fn command_registration_is_validated_and_listed() {
    let (sim, _gw) = start(SimConfig::default()).await;
    let (status, body) = put_commands(
        &sim,
        None,
        json!([
            { "name": "status", "description": "ok" },
            { "name": "Mode", "description": "uppercase" },
        ]),
    )
    .await;
    assert_eq!((status, &body["code"]), (400, &json!(50035)), "{body}");
    assert_eq!(
        body["errors"]["1"]["name"]["_errors"][0]["code"],
        "APPLICATION_COMMAND_INVALID_NAME"
    );
    let (status, body) =
        put_commands(&sim, None, json!([{ "name": "status", "description": "" }])).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"]["0"]["description"]["_errors"][0]["code"],
        "BASE_TYPE_BAD_LENGTH"
    );
    let choices: Vec<Value> = (0..26)
        .map(|i| json!({ "name": format!("c{i}"), "value": format!("c{i}") }))
        .collect();
    let mut too_many_choices = mode_command();
    too_many_choices["options"][0]["choices"] = Value::Array(choices);
    let (status, body) = put_commands(&sim, None, json!([too_many_choices])).await;
    assert_eq!(status, 400);
    assert!(
        body["errors"]["0"]["options"]["0"]["choices"].is_object(),
        "{body}"
    );
    let many: Vec<Value> = (0..101)
        .map(|i| json!({ "name": format!("c{i}"), "description": "d" }))
        .collect();
    assert_eq!(put_commands(&sim, None, Value::Array(many)).await.0, 400);
    assert!(sim.application_commands(None).is_empty());

    let (status, body) = put_commands(
        &sim,
        None,
        json!([mode_command(), { "name": "status", "description": "Show status" }]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let commands: Vec<Command> = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(commands.len(), 2);
    assert!(
        commands
            .iter()
            .all(|c| c.id.is_some() && c.kind == CommandType::ChatInput)
    );
    assert_eq!(commands[0].application_id.unwrap().get(), sim.bot_user().id);
    let listed: Value = http(&sim)
        .get(api(
            &sim,
            &format!("/applications/{}/commands", sim.bot_user().id),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, body);

    let (status, _) = put_commands(&sim, Some(sim.guild_id()), json!([mode_command()])).await;
    assert_eq!(status, 200);
    assert_eq!(sim.application_commands(Some(sim.guild_id())).len(), 1);
    let (status, body) = put_commands(&sim, Some(42), json!([])).await;
    assert_eq!((status, &body["code"]), (403, &json!(50001)));
    let wrong_app = http(&sim)
        .put(api(&sim, "/applications/1/commands"))
        .json(&json!([]))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_app.status(), 403);
    let anonymous = reqwest::Client::new()
        .get(api(
            &sim,
            &format!("/applications/{}/commands", sim.bot_user().id),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn run_command_needs_a_registered_command_and_defers() {
    let (sim, mut gw) = start(SimConfig::default()).await;
    let channel = sim.channel_ids()[0];
    let alice = alice(&sim);
    assert_eq!(
        sim.run_command(channel, &alice, "mode", json!({ "mode": "plan" }))
            .unwrap_err(),
        InteractionError::UnknownCommand("mode".into())
    );
    assert!(sim.interactions().is_empty());
    put_commands(&sim, Some(sim.guild_id()), json!([mode_command()])).await;
    assert_eq!(
        sim.run_command(channel, &alice, "mode", json!({}))
            .unwrap_err(),
        InteractionError::MissingOption("mode".into())
    );
    let handle = sim
        .run_command(channel, &alice, "mode", json!({ "mode": "plan" }))
        .unwrap();
    let frame = gw.dispatch("INTERACTION_CREATE").await;
    let interaction = interaction_of(&frame);
    assert_eq!(interaction.kind, InteractionType::ApplicationCommand);
    let Some(InteractionData::ApplicationCommand(data)) = &interaction.data else {
        panic!("no command data: {frame}");
    };
    assert_eq!(data.name, "mode");
    assert_eq!(data.options[0].name, "mode");
    assert_eq!(
        frame["d"]["data"]["options"][0],
        json!({ "name": "mode", "type": 3, "value": "plan" })
    );

    // Deferred: a loading message, then the first follow-up fills it in.
    assert_eq!(
        callback(&sim, &handle, json!({ "type": 5 })).await.status(),
        204
    );
    let loading = gw.dispatch("MESSAGE_CREATE").await;
    assert_eq!(loading["d"]["flags"], 128);
    let filled = reqwest::Client::new()
        .post(webhook_url(&sim, &handle, ""))
        .json(&json!({ "content": "Mode set to plan" }))
        .send()
        .await
        .unwrap();
    assert_eq!(filled.status(), 200);
    let filled: Message = filled.json().await.unwrap();
    assert_eq!(filled.id.to_string(), loading["d"]["id"].as_str().unwrap());
    let update = gw.dispatch("MESSAGE_UPDATE").await;
    assert_eq!(
        (update["d"]["content"].as_str(), &update["d"]["flags"]),
        (Some("Mode set to plan"), &json!(0))
    );
    // The next follow-up is a new message.
    let second = reqwest::Client::new()
        .post(webhook_url(&sim, &handle, ""))
        .json(&json!({ "content": "and another" }))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 200);
    assert_eq!(
        gw.dispatch("MESSAGE_CREATE").await["d"]["content"],
        "and another"
    );
    assert_eq!(handle.webhook_calls().len(), 2);
}

#[tokio::test]
async fn followups_are_refused_after_the_token_life() {
    let life = Duration::from_millis(600);
    let config = SimConfig {
        interaction_callback_deadline: FAST_DEADLINE,
        interaction_token_life: life,
        ..SimConfig::default()
    };
    let (sim, mut gw) = start(config).await;
    let message_id = post_prompt(&sim, &mut gw, &["allow"]).await;
    let channel = sim.channel_ids()[0];
    let handle = sim
        .click_button(channel, message_id, "allow", &alice(&sim))
        .unwrap();
    let early = reqwest::Client::new()
        .post(webhook_url(&sim, &handle, ""))
        .json(&json!({ "content": "before any answer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(error_code(early).await.1["code"], 10015);
    assert_eq!(
        callback(&sim, &handle, json!({ "type": 6 })).await.status(),
        204
    );
    let edit = reqwest::Client::new()
        .patch(webhook_url(&sim, &handle, "/messages/@original"))
        .json(&json!({ "content": "Denied by @alice", "components": [] }))
        .send()
        .await
        .unwrap();
    assert_eq!(edit.status(), 200);
    let stored = sim
        .messages(channel)
        .into_iter()
        .find(|m| m.id == message_id)
        .unwrap();
    assert_eq!(
        (stored.content.as_str(), &stored.components),
        ("Denied by @alice", &json!([]))
    );

    tokio::time::sleep_until(handle.dispatched_at() + life + Duration::from_millis(50)).await;
    for (method, tail) in [
        (reqwest::Method::POST, ""),
        (reqwest::Method::PATCH, "/messages/@original"),
    ] {
        let late = reqwest::Client::new()
            .request(method, webhook_url(&sim, &handle, tail))
            .json(&json!({ "content": "too late" }))
            .send()
            .await
            .unwrap();
        let (status, body) = error_code(late).await;
        assert_eq!((status, &body["code"]), (401, &json!(50027)), "{body}");
        assert_eq!(body["message"], "Invalid Webhook Token");
    }
}

#[tokio::test]
async fn muted_interactions_are_recorded_not_sent_and_control_api_drives_them() {
    let (sim, mut gw) = start(SimConfig::default()).await;
    let message_id = post_prompt(&sim, &mut gw, &["allow"]).await;
    let channel = sim.channel_ids()[0];
    let control = reqwest::Client::new();
    let base = format!("{}/_sim", sim.http_url());

    sim.mute_dispatches(&["INTERACTION_CREATE"]);
    let clicked: Value = control
        .post(format!("{base}/interactions/click"))
        .json(
            &json!({ "channel_id": channel.to_string(), "message_id": message_id.to_string(),
            "custom_id": "allow", "user_id": "7", "user_name": "alice" }),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sim.muted_dispatches()[0].event, "INTERACTION_CREATE");
    assert_eq!(
        sim.muted_dispatches()[0].data["id"],
        clicked["interaction_id"]
    );
    sim.unmute_dispatches();

    let refused = control
        .post(format!("{base}/interactions/command"))
        .json(&json!({ "name": "status", "user_id": 7, "user_name": "alice" }))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    put_commands(
        &sim,
        None,
        json!([{ "name": "status", "description": "Show status" }]),
    )
    .await;
    let ran: Value = control
        .post(format!("{base}/interactions/command"))
        .json(&json!({ "name": "status", "user_id": 7, "user_name": "alice" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let frame = gw.dispatch("INTERACTION_CREATE").await;
    assert_eq!(frame["d"]["id"], ran["interaction_id"]);
    assert_eq!(frame["d"]["data"]["name"], "status");

    let records: Value = control
        .get(format!("{base}/records"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(records["interactions"].as_array().unwrap().len(), 2);
    assert_eq!(records["interactions"][1]["command"], "status");
    assert_eq!(
        records["application_commands"]["global"][0]["name"],
        "status"
    );
}

#[tokio::test]
async fn a_channel_reply_to_a_command_can_carry_buttons_that_are_clicked() {
    let (sim, mut gw) = start(SimConfig::default()).await;
    let channel = sim.channel_ids()[0];
    put_commands(
        &sim,
        None,
        json!([{ "name": "status", "description": "Show status" }]),
    )
    .await;
    let handle = sim
        .run_command(channel, &alice(&sim), "status", Value::Null)
        .unwrap();
    gw.dispatch("INTERACTION_CREATE").await;
    let empty = callback(
        &sim,
        &handle,
        json!({ "type": 4, "data": { "content": "" } }),
    )
    .await;
    assert_eq!(error_code(empty).await.1["code"], 50006);
    let update = callback(
        &sim,
        &handle,
        json!({ "type": 7, "data": { "content": "x" } }),
    )
    .await;
    assert_eq!(update.status(), 400, "type 7 needs a component interaction");
    let r = callback(
        &sim,
        &handle,
        json!({ "type": 4, "data": { "content": "1 session", "components": buttons(&["reset"]) } }),
    )
    .await;
    assert_eq!(r.status(), 204);
    let created = gw.dispatch("MESSAGE_CREATE").await;
    let reply_id: u64 = created["d"]["id"].as_str().unwrap().parse().unwrap();
    let original: Message = reqwest::Client::new()
        .get(webhook_url(&sim, &handle, "/messages/@original"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(original.id.get(), reply_id);
    sim.click_button(channel, reply_id, "reset", &alice(&sim))
        .unwrap();
    let click = interaction_of(&gw.dispatch("INTERACTION_CREATE").await);
    assert_eq!(click.message.unwrap().id.get(), reply_id);
    assert_eq!(handle.callbacks().len(), 3);
}

/// twilight's rustls needs one process-wide crypto provider.
fn twilight(sim: &DiscordSim) -> twilight_http::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    twilight_http::Client::builder()
        .token(sim.token())
        .proxy(sim.addr().to_string(), true)
        .build()
}

#[tokio::test]
async fn twilight_http_registers_answers_and_follows_up() {
    use twilight_model::channel::message::Component;
    use twilight_model::http::interaction::{InteractionResponse, InteractionResponseType};
    use twilight_model::id::Id;

    let (sim, mut gw) = start(SimConfig::default()).await;
    let client = twilight(&sim);
    let app = Id::new(sim.bot_user().id);
    let interactions = client.interaction(app);
    // twilight's Command model needs a version even for registration.
    let mut mode = mode_command();
    mode["version"] = json!("1");
    let commands: Vec<Command> = serde_json::from_value(json!([mode])).unwrap();
    let stored = interactions
        .set_guild_commands(Id::new(sim.guild_id()), &commands)
        .await
        .unwrap()
        .models()
        .await
        .unwrap();
    assert!(stored[0].id.is_some());

    let channel = sim.channel_ids()[0];
    let rows: Vec<Component> = serde_json::from_value(buttons(&["allow", "deny"])).unwrap();
    let prompt = client
        .create_message(Id::new(channel))
        .content("Run `ls`?")
        .components(&rows)
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    gw.dispatch("MESSAGE_CREATE").await;
    let handle = sim
        .click_button(channel, prompt.id.get(), "allow", &alice(&sim))
        .unwrap();
    let interaction = interaction_of(&gw.dispatch("INTERACTION_CREATE").await);

    let response: InteractionResponse = serde_json::from_value(json!({
        "type": 7, "data": { "content": "Allowed once by @alice", "components": [] }
    }))
    .unwrap();
    assert_eq!(response.kind, InteractionResponseType::UpdateMessage);
    interactions
        .create_response(interaction.id, &interaction.token, &response)
        .await
        .unwrap();
    assert_eq!(handle.response().unwrap().kind, 7);
    assert_eq!(
        gw.dispatch("MESSAGE_UPDATE").await["d"]["components"],
        json!([])
    );

    let followup = interactions
        .create_followup(&interaction.token)
        .content("ls done")
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(followup.content, "ls done");
    let original = interactions
        .update_response(&interaction.token)
        .content(Some("Allowed once by @alice at 12:00"))
        .await
        .unwrap()
        .model()
        .await
        .unwrap();
    assert_eq!(original.id, prompt.id);
    let again = interactions
        .create_response(interaction.id, &interaction.token, &response)
        .await;
    assert!(again.is_err(), "a second callback is refused");
    assert_eq!(handle.callbacks()[1].error_code, Some(40060));
}
