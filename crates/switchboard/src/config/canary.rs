//! `[canary]`: the delivery check's settings, typed and validated (see
//! `delivery/` for what they drive). Owns the defaults and their reasons;
//! never reads a platform.

use std::time::Duration;

use super::error::ConfigError;
use super::raw::{RawCanary, RawId};
use super::validate_bridge::duration;

/// Default `canary.calls_per_minute.discord`: 50 a minute, 1.67% of
/// Discord's global 50 requests per second, so the probes and the rare
/// fetch that follows a miss stay under 2% together.
pub const DEFAULT_DISCORD_CALLS_PER_MINUTE: u32 = 50;
/// Default `canary.calls_per_minute.slack`: 1 a minute, at most 2% of the
/// Tier 3 budget (50 per minute) of conversations.history or of
/// conversations.replies, whichever the probes use.
pub const DEFAULT_SLACK_CALLS_PER_MINUTE: u32 = 1;
/// The largest `canary.calls_per_minute` accepted.
pub const MAX_CALLS_PER_MINUTE: u32 = 6_000;

/// `[canary]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryConfig {
    /// Off: nothing is checked (the operator gave up the detection).
    pub enabled: bool,
    /// Each active channel (and owned thread) is checked once per interval,
    /// the checks staggered over it.
    pub interval: Duration,
    /// A channel without activity within `thread_window` is checked at
    /// most this often.
    pub idle_interval: Duration,
    /// How long a message the platform holds may take to be delivered
    /// before it counts as missed.
    pub grace: Duration,
    /// Threads the bot owns are checked while active within this window.
    pub thread_window: Duration,
    /// Consecutive checks that find a miss before the session is renewed.
    pub max_misses: u32,
    pub discord_calls_per_minute: u32,
    pub slack_calls_per_minute: u32,
    /// The active canary's channel per platform (off when `None`).
    pub discord_channel: Option<String>,
    pub slack_channel: Option<String>,
    /// How often the active canary posts.
    pub post_interval: Duration,
}

impl Default for CanaryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(30),
            idle_interval: Duration::from_secs(300),
            grace: Duration::from_secs(10),
            thread_window: Duration::from_secs(3_600),
            max_misses: 2,
            discord_calls_per_minute: DEFAULT_DISCORD_CALLS_PER_MINUTE,
            slack_calls_per_minute: DEFAULT_SLACK_CALLS_PER_MINUTE,
            discord_channel: None,
            slack_channel: None,
            post_interval: Duration::from_secs(300),
        }
    }
}

pub(super) fn canary(raw: RawCanary, file: &str) -> Result<CanaryConfig, ConfigError> {
    let d = CanaryConfig::default();
    let interval = duration(file, "canary.interval", raw.interval.as_deref(), d.interval)?;
    let idle_interval = duration(
        file,
        "canary.idle_interval",
        raw.idle_interval.as_deref(),
        d.idle_interval,
    )?;
    if idle_interval < interval {
        return Err(ConfigError::invalid(
            file,
            "canary.idle_interval",
            "is shorter than canary.interval; an idle channel is checked at most as often as an active one, so make it at least as long",
        ));
    }
    let max_misses = match raw.max_misses {
        None => d.max_misses,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ConfigError::invalid(
                    file,
                    "canary.max_misses",
                    format!("is {n}; use 1 to 100 (checks in a row that find a miss before the session is renewed)"),
                )
            })?,
    };
    let per_minute = |key: &str, value: Option<i64>, default: u32| {
        match value {
        None => Ok(default),
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_CALLS_PER_MINUTE).contains(n))
            .ok_or_else(|| {
                ConfigError::invalid(
                    file,
                    key,
                    format!("is {n}; use 1 to {MAX_CALLS_PER_MINUTE} (REST calls per minute the delivery check may make)"),
                )
            }),
    }
    };
    Ok(CanaryConfig {
        enabled: raw.enabled.unwrap_or(d.enabled),
        interval,
        idle_interval,
        grace: duration(file, "canary.grace", raw.grace.as_deref(), d.grace)?,
        thread_window: duration(
            file,
            "canary.thread_window",
            raw.thread_window.as_deref(),
            d.thread_window,
        )?,
        max_misses,
        discord_calls_per_minute: per_minute(
            "canary.calls_per_minute.discord",
            raw.calls_per_minute.discord,
            d.discord_calls_per_minute,
        )?,
        slack_calls_per_minute: per_minute(
            "canary.calls_per_minute.slack",
            raw.calls_per_minute.slack,
            d.slack_calls_per_minute,
        )?,
        discord_channel: raw
            .channel
            .discord
            .map(|id| channel_id(file, "canary.channel.discord", id))
            .transpose()?,
        slack_channel: raw
            .channel
            .slack
            .map(|id| channel_id(file, "canary.channel.slack", id))
            .transpose()?,
        post_interval: duration(
            file,
            "canary.post_interval",
            raw.post_interval.as_deref(),
            d.post_interval,
        )?,
    })
}

fn channel_id(file: &str, key: &str, id: RawId) -> Result<String, ConfigError> {
    let text = match id {
        RawId::Text(text) => text.trim().to_owned(),
        RawId::Integer(n) => n.to_string(),
    };
    if text.is_empty() {
        return Err(ConfigError::invalid(
            file,
            key,
            "is empty; give the id of a channel the bot may post in, or leave the key out",
        ));
    }
    Ok(text)
}
