//! Proves every JSON shape the sim sends deserializes into the matching
//! twilight-model 0.18 type, both as a bare `d` and as a full gateway frame.

use serde::de::DeserializeSeed;
use serde_json::{Value, json};
use twilight_model::channel::{Channel, ChannelType, Message, message::MessageType};
use twilight_model::gateway::event::{DispatchEvent, GatewayEvent, GatewayEventDeserializer};
use twilight_model::gateway::payload::incoming::GuildCreate;
use twilight_model::gateway::payload::incoming::Ready;
use twilight_model::guild::Guild;
use twilight_model::user::{CurrentUser, User};

use super::*;
use crate::config::{SimConfig, SimUser};
use crate::world::World;

fn world_with_content() -> (World, u64, u64) {
    let mut w = World::new(&SimConfig::default());
    let channel = *w.channels.keys().next().unwrap();
    let alice = SimUser {
        id: 42,
        name: "alice".into(),
        bot: false,
    };
    let bot = w.bot.id;
    let m = w
        .create_message(channel, &alice, &format!("<@{bot}> hello"), None, false)
        .unwrap();
    w.create_thread(channel, m.sim.id, "a thread", 60).unwrap();
    (w, channel, m.sim.id)
}

fn parse_frame(text: &str) -> GatewayEvent {
    let de = GatewayEventDeserializer::from_json(text).expect("frame header");
    let mut json = serde_json::Deserializer::from_str(text);
    de.deserialize(&mut json)
        .unwrap_or_else(|e| panic!("frame does not parse: {e}\n{text}"))
}

fn parse_dispatch(event: &str, d: &Value) -> DispatchEvent {
    match parse_frame(&dispatch(event, 7, d)) {
        GatewayEvent::Dispatch(7, event) => event,
        other => panic!("not a dispatch: {other:?}"),
    }
}

#[test]
fn users_parse() {
    let u = SimUser {
        id: 9,
        name: "n".into(),
        bot: true,
    };
    let user: User = serde_json::from_value(user(&u)).unwrap();
    assert!(user.bot);
    assert_eq!(user.name, "n");
    let me: CurrentUser = serde_json::from_value(current_user(&u)).unwrap();
    assert_eq!(me.id.get(), 9);
}

#[test]
fn messages_parse_for_rest_and_gateway() {
    let (w, channel, mid) = world_with_content();
    let stored = w.message(channel, mid).unwrap();
    let rest: Message = serde_json::from_value(message(&w, stored, false)).unwrap();
    assert_eq!(rest.id.get(), mid);
    assert!(rest.guild_id.is_none());
    assert_eq!(rest.mentions.len(), 1);
    assert_eq!(rest.mentions[0].id.get(), w.bot.id);

    let DispatchEvent::MessageCreate(created) =
        parse_dispatch("MESSAGE_CREATE", &message(&w, stored, true))
    else {
        panic!("not MESSAGE_CREATE")
    };
    assert_eq!(created.guild_id.map(|g| g.get()), Some(w.guild_id));
    assert!(created.member.is_some());
    assert_eq!(created.author.name, "alice");
    assert!(created.content.ends_with("hello"));
}

#[test]
fn replies_and_edits_parse() {
    let (mut w, channel, mid) = world_with_content();
    let bot = w.bot.clone();
    let reply = w
        .create_message(channel, &bot, "reply", Some(mid), false)
        .unwrap();
    let edited = w
        .edit_message(channel, reply.sim.id, "edited", None)
        .unwrap();
    let DispatchEvent::MessageUpdate(update) =
        parse_dispatch("MESSAGE_UPDATE", &message(&w, &edited, true))
    else {
        panic!("not MESSAGE_UPDATE")
    };
    assert_eq!(update.kind, MessageType::Reply);
    assert_eq!(
        update
            .reference
            .as_ref()
            .and_then(|r| r.message_id)
            .map(|m| m.get()),
        Some(mid)
    );
    assert!(update.edited_timestamp.is_some());
    assert_eq!(update.content, "edited");
}

#[test]
fn channels_and_threads_parse() {
    let (w, channel, mid) = world_with_content();
    let text: Channel = serde_json::from_value(channel_json(&w, channel)).unwrap();
    assert_eq!(text.kind, ChannelType::GuildText);
    assert_eq!(text.name.as_deref(), Some("general"));

    let thread_info = &w.channels[&mid];
    let thread: Channel = serde_json::from_value(super::channel(&w, thread_info, false)).unwrap();
    assert_eq!(thread.kind, ChannelType::PublicThread);
    assert_eq!(thread.parent_id.map(|p| p.get()), Some(channel));
    assert!(thread.thread_metadata.is_some());

    let DispatchEvent::ThreadCreate(created) =
        parse_dispatch("THREAD_CREATE", &super::channel(&w, thread_info, true))
    else {
        panic!("not THREAD_CREATE")
    };
    assert_eq!(created.id.get(), mid);
    assert_eq!(created.newly_created, Some(true));
}

fn channel_json(w: &World, id: u64) -> Value {
    super::channel(w, &w.channels[&id], false)
}

#[test]
fn guild_parses_as_available() {
    let (w, channel, mid) = world_with_content();
    let g: Guild = serde_json::from_value(guild(&w, w.guild_id, 5)).unwrap();
    assert_eq!(g.channels.len(), 1);
    assert_eq!(g.channels[0].id.get(), channel);
    assert_eq!(g.threads[0].id.get(), mid);
    let DispatchEvent::GuildCreate(created) =
        parse_dispatch("GUILD_CREATE", &guild(&w, w.guild_id, 5))
    else {
        panic!("not GUILD_CREATE")
    };
    assert!(matches!(*created, GuildCreate::Available(_)));
}

#[test]
fn ready_parses() {
    let (w, _, _) = world_with_content();
    let d = ready(
        &w,
        "abc",
        "ws://127.0.0.1:1",
        ShardPair::ONLY,
        &[w.guild_id],
    );
    let r: Ready = serde_json::from_value(d.clone()).unwrap();
    assert_eq!(r.session_id, "abc");
    assert_eq!(r.resume_gateway_url, "ws://127.0.0.1:1");
    assert_eq!(r.version, 10);
    assert_eq!(r.guilds[0].id.get(), w.guild_id);
    assert!(matches!(
        parse_dispatch("READY", &d),
        DispatchEvent::Ready(_)
    ));
    assert!(matches!(
        parse_dispatch("RESUMED", &json!({})),
        DispatchEvent::Resumed
    ));
}

#[test]
fn control_frames_parse() {
    let hello = frame(
        op::HELLO,
        json!({ "heartbeat_interval": 41250 }),
        None,
        None,
    );
    let GatewayEvent::Hello(h) = parse_frame(&hello) else {
        panic!("not hello")
    };
    assert_eq!(h.heartbeat_interval, 41250);
    assert!(matches!(
        parse_frame(&frame(op::HEARTBEAT_ACK, Value::Null, None, None)),
        GatewayEvent::HeartbeatAck
    ));
    assert!(matches!(
        parse_frame(&frame(op::HEARTBEAT, Value::Null, None, None)),
        GatewayEvent::Heartbeat
    ));
    assert!(matches!(
        parse_frame(&frame(op::RECONNECT, Value::Null, None, None)),
        GatewayEvent::Reconnect
    ));
    assert!(matches!(
        parse_frame(&frame(op::INVALID_SESSION, json!(true), None, None)),
        GatewayEvent::InvalidateSession(true)
    ));
}
