//! JSON shapes exactly as Discord (API v10) sends them: users, members,
//! messages, channels, threads, the guild, READY and the gateway frames.
//!
//! Pure builders from world data; every shape here is proven against
//! twilight-model 0.18 in the unit tests below. Must never touch state.

use serde_json::{Value, json};

use crate::config::SimUser;
use crate::shards::ShardPair;
use crate::world::{ChannelInfo, StoredMessage, World};

/// Gateway opcodes the sim sends or reads.
pub(crate) mod op {
    pub const DISPATCH: u8 = 0;
    pub const HEARTBEAT: u8 = 1;
    pub const IDENTIFY: u8 = 2;
    pub const RESUME: u8 = 6;
    pub const RECONNECT: u8 = 7;
    pub const INVALID_SESSION: u8 = 9;
    pub const HELLO: u8 = 10;
    pub const HEARTBEAT_ACK: u8 = 11;
}

pub(crate) fn user(u: &SimUser) -> Value {
    json!({
        "id": u.id.to_string(),
        "username": u.name,
        "discriminator": "0",
        "global_name": u.name,
        "avatar": null,
        "bot": u.bot,
        "public_flags": 0,
    })
}

/// GET /users/@me and READY's user.
pub(crate) fn current_user(u: &SimUser) -> Value {
    let mut v = user(u);
    v["mfa_enabled"] = json!(false);
    v["verified"] = json!(true);
    v["flags"] = json!(0);
    v["accent_color"] = Value::Null;
    v["banner"] = Value::Null;
    v
}

/// A partial guild member, as in MESSAGE_CREATE's `member`.
pub(crate) fn partial_member(joined_at: &str) -> Value {
    json!({
        "roles": [],
        "joined_at": joined_at,
        "deaf": false,
        "mute": false,
        "flags": 0,
        "nick": null,
        "communication_disabled_until": null,
        "premium_since": null,
    })
}

/// A message. `gateway` adds `guild_id` and `member` as MESSAGE_CREATE does.
pub(crate) fn message(world: &World, m: &StoredMessage, gateway: bool) -> Value {
    let mut v = json!({
        "id": m.sim.id.to_string(),
        "channel_id": m.sim.channel_id.to_string(),
        "author": user(&m.sim.author),
        "content": m.sim.content,
        "timestamp": m.timestamp,
        "edited_timestamp": m.edited_timestamp,
        "tts": false,
        "mention_everyone": m.mention_everyone,
        "mentions": m.mentions.iter().map(user).collect::<Vec<_>>(),
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": false,
        "type": if m.sim.reply_to.is_some() { 19 } else { 0 },
        "flags": m.flags,
        "components": m.sim.components,
    });
    if let Some(reply_to) = m.sim.reply_to {
        v["message_reference"] = json!({
            "type": 0,
            "message_id": reply_to.to_string(),
            "channel_id": m.sim.channel_id.to_string(),
            "guild_id": world.guild_of(m.sim.channel_id).to_string(),
        });
    }
    if gateway {
        v["guild_id"] = json!(world.guild_of(m.sim.channel_id).to_string());
        v["member"] = partial_member(&world.joined_at);
    }
    v
}

/// Permissions a member is shown with in interactions (view, send, read
/// history, use application commands; no administrator).
const MEMBER_PERMISSIONS: &str = "2147552256";

/// An interaction's `member`: the partial member with its user, roles and
/// computed permissions.
pub(crate) fn interaction_member(world: &World, u: &SimUser) -> Value {
    let mut member = partial_member(&world.joined_at);
    member["user"] = user(u);
    member["roles"] = json!(
        world
            .member_roles
            .get(&u.id)
            .map(|roles| roles.iter().map(u64::to_string).collect::<Vec<_>>())
            .unwrap_or_default()
    );
    member["permissions"] = json!(MEMBER_PERMISSIONS);
    member
}

/// What an INTERACTION_CREATE carries besides its `data` and `message`.
pub(crate) struct InteractionFrame<'a> {
    pub id: u64,
    pub kind: u8,
    pub token: &'a str,
    pub channel: &'a ChannelInfo,
    pub user: &'a SimUser,
}

/// INTERACTION_CREATE's `d` (a guild interaction).
pub(crate) fn interaction(
    world: &World,
    f: &InteractionFrame<'_>,
    data: Value,
    message: Option<&StoredMessage>,
) -> Value {
    let guild_id = f.channel.guild_id.to_string();
    let mut v = json!({
        "id": f.id.to_string(),
        "application_id": world.bot.id.to_string(),
        "type": f.kind,
        "token": f.token,
        "version": 1,
        "guild_id": guild_id,
        "channel_id": f.channel.id.to_string(),
        "channel": channel(world, f.channel, false),
        "member": interaction_member(world, f.user),
        "app_permissions": MEMBER_PERMISSIONS,
        "locale": "en-US",
        "guild_locale": "en-US",
        "entitlements": [],
        "authorizing_integration_owners": { "0": guild_id },
        "context": 0,
        "attachment_size_limit": 10_485_760,
        "data": data,
    });
    if let Some(m) = message {
        v["message"] = self::message(world, m, false);
    }
    v
}

/// A guild text channel (type 0) or a public thread (type 11).
pub(crate) fn channel(world: &World, c: &ChannelInfo, newly_created: bool) -> Value {
    let last_message_id = world
        .messages
        .get(&c.id)
        .and_then(|ms| ms.last())
        .map(|m| m.sim.id.to_string());
    let Some(t) = &c.thread else {
        return json!({
            "id": c.id.to_string(),
            "type": 0,
            "guild_id": c.guild_id.to_string(),
            "name": c.name,
            "position": c.position,
            "permission_overwrites": [],
            "nsfw": false,
            "topic": null,
            "last_message_id": last_message_id,
            "rate_limit_per_user": 0,
            "parent_id": null,
            "default_auto_archive_duration": 1440,
            "flags": 0,
        });
    };
    let count = world.messages.get(&c.id).map_or(0, Vec::len);
    let mut v = json!({
        "id": c.id.to_string(),
        "type": 11,
        "guild_id": c.guild_id.to_string(),
        "parent_id": t.parent_id.to_string(),
        "owner_id": t.owner_id.to_string(),
        "name": c.name,
        "last_message_id": last_message_id,
        "rate_limit_per_user": 0,
        "message_count": count,
        "total_message_sent": count,
        "member_count": 1,
        "flags": 0,
        "thread_metadata": {
            "archived": false,
            "auto_archive_duration": t.auto_archive_duration,
            "archive_timestamp": t.created_iso,
            "create_timestamp": t.created_iso,
            "locked": false,
        },
    });
    if newly_created {
        v["newly_created"] = json!(true);
    }
    v
}

/// The full guild object of GUILD_CREATE for `guild_id` (never carries
/// `unavailable`, which would make it parse as an unavailable stub).
pub(crate) fn guild(world: &World, guild_id: u64, owner_id: u64) -> Value {
    let (threads, channels): (Vec<&ChannelInfo>, Vec<&ChannelInfo>) = world
        .channels
        .values()
        .filter(|c| c.guild_id == guild_id)
        .partition(|c| c.thread.is_some());
    let mut bot_member = partial_member(&world.joined_at);
    bot_member["user"] = user(&world.bot);
    json!({
        "id": guild_id.to_string(),
        "name": "switchboard-sim",
        "icon": null,
        "splash": null,
        "discovery_splash": null,
        "banner": null,
        "description": null,
        "owner_id": owner_id.to_string(),
        "afk_channel_id": null,
        "afk_timeout": 300,
        "application_id": null,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "premium_tier": 0,
        "premium_progress_bar_enabled": false,
        "system_channel_id": null,
        "system_channel_flags": 0,
        "rules_channel_id": null,
        "public_updates_channel_id": null,
        "safety_alerts_channel_id": null,
        "vanity_url_code": null,
        "preferred_locale": "en-US",
        "features": [],
        "roles": [],
        "emojis": [],
        "stickers": [],
        "large": false,
        "member_count": 2,
        "joined_at": world.joined_at,
        "members": [bot_member],
        "channels": channels.iter().map(|c| channel(world, c, false)).collect::<Vec<_>>(),
        "threads": threads.iter().map(|c| channel(world, c, false)).collect::<Vec<_>>(),
        "presences": [],
        "voice_states": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
    })
}

/// READY's `d` for a session of `shard`, which is in `guilds` (its own).
pub(crate) fn ready(
    world: &World,
    session_id: &str,
    resume_url: &str,
    shard: ShardPair,
    guilds: &[u64],
) -> Value {
    let guilds: Vec<Value> = guilds
        .iter()
        .map(|id| json!({ "id": id.to_string(), "unavailable": true }))
        .collect();
    json!({
        "v": 10,
        "user": current_user(&world.bot),
        "guilds": guilds,
        "session_id": session_id,
        "resume_gateway_url": resume_url,
        "shard": shard.to_json(),
        "application": { "id": world.bot.id.to_string(), "flags": 0 },
    })
}

/// A full gateway frame.
pub(crate) fn frame(op: u8, d: Value, s: Option<u64>, t: Option<&str>) -> String {
    json!({ "op": op, "d": d, "s": s, "t": t }).to_string()
}

pub(crate) fn dispatch(event: &str, seq: u64, d: &Value) -> String {
    json!({ "op": op::DISPATCH, "d": d, "s": seq, "t": event }).to_string()
}

#[cfg(test)]
#[path = "payloads_tests.rs"]
mod tests;
