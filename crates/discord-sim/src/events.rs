//! Turns world changes into gateway dispatches with Discord's intent rules:
//! message events need GUILD_MESSAGES; without MESSAGE_CONTENT a message's
//! content, embeds and attachments arrive empty unless it mentions the bot
//! or the bot wrote it; thread events need GUILDS. Each goes only to the
//! sessions of the shard that owns its guild (`shards`).
//!
//! Runs under the state lock; never awaits and never builds JSON shapes
//! itself (that is `payloads`).

use serde_json::{Value, json};

use crate::payloads;
use crate::state::State;
use crate::world::{ChannelInfo, StoredMessage};

/// Gateway intent bits the sim interprets.
pub mod intents {
    pub const GUILDS: u64 = 1;
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
}

/// MESSAGE_CREATE or MESSAGE_UPDATE for a stored message, to every session
/// of its guild's shard.
pub(crate) fn message(s: &mut State, event: &str, m: &StoredMessage) {
    let full = payloads::message(&s.world, m, true);
    let mut stripped = full.clone();
    stripped["content"] = json!("");
    stripped["embeds"] = json!([]);
    stripped["attachments"] = json!([]);
    let bot = s.world.bot.id;
    let privileged_ok = m.sim.author.id == bot || m.mentions.iter().any(|u| u.id == bot);
    let guild = Some(s.world.guild_of(m.sim.channel_id));
    s.gw.dispatch_to_owners(event, guild, |granted| {
        if granted & intents::GUILD_MESSAGES == 0 {
            None
        } else if granted & intents::MESSAGE_CONTENT != 0 || privileged_ok {
            Some(full.clone())
        } else {
            Some(stripped.clone())
        }
    });
}

/// THREAD_CREATE for a new thread, to every session of its guild's shard
/// with GUILDS.
pub(crate) fn thread_create(s: &mut State, thread: &ChannelInfo) {
    let d = payloads::channel(&s.world, thread, true);
    s.gw.dispatch_to_owners("THREAD_CREATE", Some(thread.guild_id), |granted| {
        (granted & intents::GUILDS != 0).then(|| d.clone())
    });
}

/// Any dispatch, unfiltered by intents, to the sessions of the shard of
/// its `d.guild_id` (shard 0 when it has none, as Discord sends DMs).
pub(crate) fn raw(s: &mut State, event: &str, d: Value) {
    let guild = d
        .get("guild_id")
        .and_then(Value::as_str)
        .and_then(|id| id.parse::<u64>().ok());
    s.gw.dispatch_to_owners(event, guild, |_| Some(d.clone()));
}
