//! Agent session pool figures, reported by whatever pool registers itself.

use serde::Serialize;

/// Agent session pool figures at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PoolFigures {
    pub max: usize,
    pub busy: usize,
    pub idle: usize,
}

/// Something that can report pool figures (the broker's session pool).
pub trait PoolView: Send + Sync + 'static {
    fn figures(&self) -> PoolFigures;
}

/// How long a pool's every slot has been busy, from samples taken every
/// [`SATURATION_SAMPLE`]: a pool full past its `limit` (the agent's
/// `turn_idle_timeout`: no turn should hold a slot longer without a word
/// from its agent) makes the process unready, because no new conversation
/// can be answered.
#[derive(Debug)]
pub struct Saturation {
    limit: std::time::Duration,
    since: std::sync::Mutex<Option<tokio::time::Instant>>,
}

/// How often pools are sampled for saturation.
pub const SATURATION_SAMPLE: std::time::Duration = std::time::Duration::from_secs(1);

impl Saturation {
    pub fn new(limit: std::time::Duration) -> Self {
        Self {
            limit,
            since: std::sync::Mutex::new(None),
        }
    }

    fn since(&self) -> std::sync::MutexGuard<'_, Option<tokio::time::Instant>> {
        self.since.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Record one sample of `figures`.
    pub fn sample(&self, figures: &PoolFigures, now: tokio::time::Instant) {
        let full = figures.max > 0 && figures.busy >= figures.max;
        let mut since = self.since();
        match (full, *since) {
            (true, None) => *since = Some(now),
            (false, Some(_)) => *since = None,
            _ => {}
        }
    }

    /// Why the pool makes the process unready, if it does.
    pub fn unready_reason(&self, name: &str, figures: &PoolFigures) -> Option<String> {
        let since = (*self.since())?;
        let full_for = since.elapsed();
        (full_for > self.limit).then(|| {
            format!(
                "{name} agent sessions: all {} slots busy for {} s (agent.turn_idle_timeout is {} s)",
                figures.max,
                full_for.as_secs(),
                self.limit.as_secs()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pool_full_past_its_limit_is_a_reason_and_a_free_slot_ends_it() {
        let saturation = Saturation::new(Duration::from_secs(10));
        let full = PoolFigures {
            max: 2,
            busy: 2,
            idle: 0,
        };
        let free = PoolFigures {
            max: 2,
            busy: 1,
            idle: 0,
        };
        saturation.sample(&full, tokio::time::Instant::now());
        tokio::time::advance(Duration::from_secs(10)).await;
        saturation.sample(&full, tokio::time::Instant::now());
        assert_eq!(saturation.unready_reason("discord", &full), None);
        tokio::time::advance(Duration::from_secs(1)).await;
        let reason = saturation.unready_reason("discord", &full).unwrap();
        assert!(reason.contains("all 2 slots busy for 11 s"), "{reason}");
        saturation.sample(&free, tokio::time::Instant::now());
        assert_eq!(saturation.unready_reason("discord", &free), None);
    }
}
