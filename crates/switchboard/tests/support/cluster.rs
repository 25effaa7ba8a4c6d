//! Several instances of one Discord bot on one PostgreSQL database: the
//! first instance holding the shard, a second standing by, and who owns a
//! thread (its lease's holder in the database).

use std::time::Duration;

use super::chat::Chat;
use super::postgres::{TestDatabase, store_lines};
use super::{Options, Peer};

const SECOND: Duration = Duration::from_secs(1);
/// `cluster.lease_ttl` in these tests.
pub const TTL: Duration = Duration::from_secs(2);
/// The line of an instance that heard a message for another's thread.
pub const HANDED_OVER: &str = "message left for the instance that owns its thread";
/// The line of an instance that heard a click or command for another's.
pub const INPUT_LEFT: &str = "input left for the instance that owns its thread";
/// The line of an instance taking up a dead owner's thread.
pub const TAKEN_UP: &str = "took up a thread nobody held";

/// `base` as one of several instances on the database at `url`: a 2 s
/// lease ttl, quick edits and a short shutdown grace.
pub fn several(url: &str, base: Options) -> Options {
    Options {
        store: store_lines(url),
        cluster: "lease_ttl = \"2s\"",
        broker: "edit_interval = \"300ms\"\nshutdown_grace = \"300ms\"",
        ..base
    }
}

/// The bot's first instance, holding the shard (and, alone, every new
/// thread).
pub async fn holder(options: super::Options) -> Chat {
    let chat = Chat::start(options).await;
    chat.h
        .logs
        .wait_message(10 * SECOND, "holding the Discord shard")
        .await;
    chat
}

/// Another instance of the bot, standing by for the shard.
pub async fn standby(chat: &Chat) -> Peer {
    let peer = chat.h.spawn_peer().await;
    peer.logs
        .wait_message(
            10 * SECOND,
            "standby: another instance holds the Discord shard",
        )
        .await;
    peer
}

/// The instance holding (or last holding) each thread's lease of
/// `platform`: (lease name, holder).
pub async fn thread_holders(db: &TestDatabase, platform: &str) -> Vec<(String, String)> {
    let mut conn = db.connect().await;
    sqlx::query_as("SELECT name, holder FROM leases WHERE name LIKE $1")
        .bind(format!("thread:{platform}:%"))
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

/// The instance holding (or last holding) Discord thread `thread`'s lease.
pub async fn discord_thread_owner(db: &TestDatabase, thread: u64) -> Option<String> {
    let name = format!("thread:discord:{thread}");
    thread_holders(db, "discord")
        .await
        .into_iter()
        .find(|(n, _)| *n == name)
        .map(|(_, holder)| holder)
}

/// How many of `texts` (a thread's replies) are marked as cut short by a
/// restart or a take-over.
pub fn marked_interrupted(texts: &[String]) -> usize {
    texts
        .iter()
        .filter(|t| t.ends_with("answering again below.*"))
        .count()
}
