//! The delivery check's Discord parts: [`LatestProbe`] (a channel's or
//! thread's newest message is its `last_message_id`, GET /channels/{id},
//! asked only when the REST pacer has room to spare; a snowflake says when
//! it was made) and the active canary's [`CanaryPoster`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::rest::DiscordRest;
use crate::chat::OutboundError;
use crate::chat::post_key::PostScope;
use crate::delivery::active::CanaryPoster;
use crate::delivery::{LatestProbe, Probed};

/// Discord's epoch: snowflakes count milliseconds from 2015-01-01.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

pub struct DiscordProbe {
    rest: DiscordRest,
}

impl DiscordProbe {
    pub fn new(rest: DiscordRest) -> Self {
        Self { rest }
    }
}

/// When snowflake `id` was made.
pub fn snowflake_time(id: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis((id >> 22) + DISCORD_EPOCH_MS)
}

/// The largest snowflake made before `time`.
pub fn snowflake_before(time: SystemTime) -> u64 {
    let ms = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    (ms.saturating_sub(DISCORD_EPOCH_MS) << 22).saturating_sub(1)
}

#[async_trait]
impl LatestProbe for DiscordProbe {
    async fn latest(&self, channel: &str) -> Result<Probed, OutboundError> {
        let id = channel
            .parse()
            .map_err(|_| OutboundError::Rejected(format!("{channel:?} is not a Discord id")))?;
        Ok(match self.rest.last_message_id_if_idle(id).await? {
            None => Probed::Skipped,
            Some(latest) => Probed::Latest(latest.map(|id| id.to_string())),
        })
    }

    fn posted_at(&self, id: &str) -> Option<SystemTime> {
        id.parse().ok().map(snowflake_time)
    }

    fn id_before(&self, _channel: &str, time: SystemTime) -> String {
        snowflake_before(time).to_string()
    }
}

#[async_trait]
impl CanaryPoster for DiscordProbe {
    async fn post_canary(&self, channel: &str, text: &str) -> Result<String, OutboundError> {
        let id = channel
            .parse()
            .map_err(|_| OutboundError::Rejected(format!("{channel:?} is not a Discord id")))?;
        let key = PostScope::unique("canary").notice("canary");
        Ok(self
            .rest
            .create_message(id, text, &key.nonce())
            .await?
            .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snowflake_reads_back_as_its_time_and_before_sorts_first() {
        // Discord's documented example: 175928847299117063 was made at
        // 2016-04-30 11:18:25.796 UTC.
        let at = snowflake_time(175_928_847_299_117_063);
        let ms = at.duration_since(UNIX_EPOCH).unwrap().as_millis();
        assert_eq!(ms, 1_462_015_105_796);
        let before = snowflake_before(at);
        assert!(before < 175_928_847_299_117_063);
        assert_eq!(snowflake_time(before + 1), at);
    }
}
