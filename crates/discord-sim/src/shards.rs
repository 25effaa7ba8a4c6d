//! Gateway sharding as Discord does it: a session identified as shard
//! `[i, n]` receives the events of the guilds with `(guild_id >> 22) % n
//! == i`, and the events without a guild (DMs) only on shard 0.
//!
//! Owns the `[i, n]` pair, its validation (IDENTIFY's `shard`) and the
//! routing rule. Pure functions: it must never touch state or sockets.

use serde_json::Value;

/// A session's shard: number `index` of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardPair {
    pub index: u32,
    pub count: u32,
}

impl ShardPair {
    /// The only shard of an unsharded bot, `[0, 1]`.
    pub const ONLY: ShardPair = ShardPair { index: 0, count: 1 };

    /// Whether a session of this shard receives an event of `guild`
    /// (`None`: a DM or an event of no guild, shard 0's).
    pub fn receives(self, guild: Option<u64>) -> bool {
        match guild {
            Some(guild) => shard_of(guild, self.count) == self.index,
            None => self.index == 0,
        }
    }

    /// As JSON, `[i, n]` (READY's `shard`).
    pub fn to_json(self) -> Value {
        serde_json::json!([self.index, self.count])
    }
}

/// The shard number of `guild_id` among `count` shards.
pub fn shard_of(guild_id: u64, count: u32) -> u32 {
    let count = u64::from(count.max(1));
    u32::try_from((guild_id >> 22) % count).expect("below a u32 count")
}

/// IDENTIFY's `shard` field: absent means `[0, 1]`; `Err` for anything
/// Discord closes with 4010 (not two integers, a count of 0, an index not
/// below the count).
pub(crate) fn parse_identify_shard(d: &Value) -> Result<ShardPair, ()> {
    let Some(shard) = d.get("shard") else {
        return Ok(ShardPair::ONLY);
    };
    let pair = shard.as_array().filter(|a| a.len() == 2).ok_or(())?;
    let number = |v: &Value| v.as_u64().and_then(|n| u32::try_from(n).ok()).ok_or(());
    let (index, count) = (number(&pair[0])?, number(&pair[1])?);
    if count == 0 || index >= count {
        return Err(());
    }
    Ok(ShardPair { index, count })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_guild_belongs_to_the_shard_of_its_id_shifted_by_22() {
        let guild = 7u64 << 22;
        assert_eq!(shard_of(guild, 2), 1);
        assert_eq!(shard_of(guild, 3), 1);
        assert_eq!(shard_of(guild, 7), 0);
        assert!(ShardPair { index: 1, count: 2 }.receives(Some(guild)));
        assert!(!ShardPair { index: 0, count: 2 }.receives(Some(guild)));
        assert!(ShardPair::ONLY.receives(Some(guild)));
    }

    #[test]
    fn events_without_a_guild_go_to_shard_0_only() {
        assert!(ShardPair { index: 0, count: 3 }.receives(None));
        assert!(!ShardPair { index: 2, count: 3 }.receives(None));
    }

    #[test]
    fn identify_shards_are_validated_as_discord_does() {
        assert_eq!(parse_identify_shard(&json!({})), Ok(ShardPair::ONLY));
        assert_eq!(
            parse_identify_shard(&json!({ "shard": [1, 2] })),
            Ok(ShardPair { index: 1, count: 2 })
        );
        for bad in [
            json!([2, 2]),
            json!([0, 0]),
            json!([1]),
            json!("0,1"),
            json!([-1, 2]),
        ] {
            assert_eq!(
                parse_identify_shard(&json!({ "shard": bad })),
                Err(()),
                "{bad}"
            );
        }
    }
}
