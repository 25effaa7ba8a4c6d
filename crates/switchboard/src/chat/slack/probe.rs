//! [`LatestProbe`] for Slack: a channel's newest message is the first of
//! `conversations.history` (`limit=1`); a thread's (keyed `channel:root_ts`,
//! as in `ids`) is its root's `latest_reply` (`conversations.replies`,
//! `limit=1`), or the root while it has none. Asked at the lowest
//! priority: while a 429 holds the method, or when the probe earns one,
//! the check is skipped, never waited for. A ts is the time its message
//! was posted (seconds and microseconds since the Unix epoch).
//!
//! Also the active canary's poster (`canary.channel.slack`).
//!
//! Must never wait on Slack's rate limits nor read more than one message.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use super::ids;
use super::web::{SlackWeb, ts_key};
use crate::chat::OutboundError;
use crate::delivery::active::CanaryPoster;
use crate::delivery::{LatestProbe, Probed};

pub struct SlackProbe {
    web: SlackWeb,
}

impl SlackProbe {
    pub fn new(web: SlackWeb) -> Self {
        Self { web }
    }
}

/// When the message `ts` was posted.
pub fn ts_time(ts: &str) -> Option<SystemTime> {
    let (secs, micros) = ts_key(ts)?;
    Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros.into()))
}

/// The largest ts before `time` (one microsecond earlier).
pub fn ts_before(time: SystemTime) -> String {
    let micros = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
        .saturating_sub(1);
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

/// The active canary's post: a top-level message in the channel; its id in
/// the form live events carry (`channel:ts`).
#[async_trait]
impl CanaryPoster for SlackProbe {
    async fn post_canary(&self, channel: &str, text: &str) -> Result<String, OutboundError> {
        let ts = self.web.post_message(channel, None, text).await?;
        Ok(ids::message_id(channel, &ts))
    }
}

#[async_trait]
impl LatestProbe for SlackProbe {
    async fn latest(&self, channel: &str) -> Result<Probed, OutboundError> {
        let (real_channel, newest) = match ids::split(channel) {
            Some((real_channel, root_ts)) => (
                real_channel,
                self.web.newest_in_thread(real_channel, root_ts).await?,
            ),
            None => (channel, self.web.newest_in_channel(channel).await?),
        };
        Ok(match newest {
            None => Probed::Skipped,
            Some(ts) => Probed::Latest(ts.map(|ts| ids::message_id(real_channel, &ts))),
        })
    }

    fn posted_at(&self, id: &str) -> Option<SystemTime> {
        ids::split(id).and_then(|(_, ts)| ts_time(ts))
    }

    fn id_before(&self, channel: &str, time: SystemTime) -> String {
        // A thread key is `channel:root_ts`: the id belongs to its channel.
        let real_channel = channel.split_once(':').map_or(channel, |(c, _)| c);
        ids::message_id(real_channel, &ts_before(time))
    }
}

#[cfg(test)]
mod tests;
