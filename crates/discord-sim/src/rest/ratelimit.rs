//! REST rate-limit buckets and the X-RateLimit-* headers, Discord style:
//! one bucket per (route, major parameter = channel id), a fixed window per
//! bucket, an optional global per-second cap.
//!
//! Headers are always computed; 429s happen only when `RateLimits` enforces.
//! When not enforced the announced bucket is generous so clients never wait.
//! X-RateLimit-Scope is sent only on 429s, as Discord does.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::clock::unix_now_secs;
use crate::config::RateLimits;

/// The bucket announced when per-route limits are not enforced.
const UNENFORCED: (u32, Duration) = (1000, Duration::from_secs(1));
const GLOBAL_WINDOW: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
struct Window {
    start: Instant,
    count: u32,
}

impl Window {
    /// Restarts the window when it has expired; returns time left in it.
    fn roll(&mut self, now: Instant, len: Duration) -> Duration {
        if now.saturating_duration_since(self.start) >= len {
            self.start = now;
            self.count = 0;
        }
        len.saturating_sub(now.saturating_duration_since(self.start))
    }
}

/// A rejected request.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limited {
    pub retry_after: f64,
    pub global: bool,
}

/// The headers to send and, if the request is over a limit, the 429.
#[derive(Debug)]
pub(crate) struct Decision {
    pub headers: Vec<(&'static str, String)>,
    pub limited: Option<Limited>,
}

#[derive(Debug, Default)]
pub(crate) struct Buckets {
    windows: HashMap<String, Window>,
    global: Option<Window>,
}

impl Buckets {
    /// Counts one request on `route` (a method + template) for `major`.
    /// With `consume == false` only the headers are computed.
    pub fn check(
        &mut self,
        limits: &RateLimits,
        route: &str,
        major: &str,
        now: Instant,
        consume: bool,
    ) -> Decision {
        if let Some(per_second) = limits.global_per_second {
            let w = self.global.get_or_insert(Window {
                start: now,
                count: 0,
            });
            let left = w.roll(now, GLOBAL_WINDOW);
            if consume && w.count >= per_second {
                let retry_after = left.as_secs_f64();
                return Decision {
                    headers: too_many_headers(None, retry_after, true),
                    limited: Some(Limited {
                        retry_after,
                        global: true,
                    }),
                };
            }
            if consume {
                w.count += 1;
            }
        }
        let (limit, len) = limits.per_route.unwrap_or(UNENFORCED);
        let w = self
            .windows
            .entry(format!("{route} {major}"))
            .or_insert(Window {
                start: now,
                count: 0,
            });
        let left = w.roll(now, len);
        let bucket = bucket_hash(route);
        if consume && limits.per_route.is_some() && w.count >= limit {
            let retry_after = left.as_secs_f64();
            let info = BucketInfo {
                bucket: &bucket,
                limit,
            };
            return Decision {
                headers: too_many_headers(Some(info), retry_after, false),
                limited: Some(Limited {
                    retry_after,
                    global: false,
                }),
            };
        }
        if consume {
            w.count = (w.count + 1).min(limit);
        }
        let remaining = limit.saturating_sub(w.count);
        let reset_after = left.as_secs_f64();
        Decision {
            headers: vec![
                ("x-ratelimit-limit", limit.to_string()),
                ("x-ratelimit-remaining", remaining.to_string()),
                ("x-ratelimit-reset", secs(unix_now_secs() + reset_after)),
                ("x-ratelimit-reset-after", secs(reset_after)),
                ("x-ratelimit-bucket", bucket),
            ],
            limited: None,
        }
    }
}

pub(crate) struct BucketInfo<'a> {
    pub bucket: &'a str,
    pub limit: u32,
}

/// Headers of a 429: Retry-After (whole seconds, rounded up, as Discord),
/// the scope, and for a user limit the full bucket state twilight parses.
pub(crate) fn too_many_headers(
    bucket: Option<BucketInfo<'_>>,
    retry_after: f64,
    global: bool,
) -> Vec<(&'static str, String)> {
    let mut h = vec![("retry-after", (retry_after.ceil() as u64).to_string())];
    if global {
        h.push(("x-ratelimit-global", "true".to_owned()));
        h.push(("x-ratelimit-scope", "global".to_owned()));
        return h;
    }
    let (bucket, limit) = bucket.map_or(("sim-fault".to_owned(), 1), |b| {
        (b.bucket.to_owned(), b.limit)
    });
    h.extend([
        ("x-ratelimit-limit", limit.to_string()),
        ("x-ratelimit-remaining", "0".to_owned()),
        ("x-ratelimit-reset", secs(unix_now_secs() + retry_after)),
        ("x-ratelimit-reset-after", secs(retry_after)),
        ("x-ratelimit-bucket", bucket),
        ("x-ratelimit-scope", "user".to_owned()),
    ]);
    h
}

fn secs(v: f64) -> String {
    format!("{v:.3}")
}

/// A stable opaque bucket id per route template (FNV-1a, hex).
pub(crate) fn bucket_hash(route: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in route.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(d: &'a Decision, name: &str) -> &'a str {
        &d.headers.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[tokio::test(start_paused = true)]
    async fn per_route_window_limits_then_resets() {
        let limits = RateLimits {
            per_route: Some((2, Duration::from_secs(2))),
            global_per_second: None,
        };
        let mut b = Buckets::default();
        let now = Instant::now();
        let d1 = b.check(&limits, "POST m", "1", now, true);
        assert_eq!(header(&d1, "x-ratelimit-remaining"), "1");
        assert_eq!(header(&d1, "x-ratelimit-reset-after"), "2.000");
        b.check(&limits, "POST m", "1", now, true);
        let d3 = b.check(&limits, "POST m", "1", now, true);
        assert_eq!(d3.limited.unwrap().retry_after, 2.0);
        assert_eq!(header(&d3, "x-ratelimit-scope"), "user");
        assert_eq!(header(&d3, "retry-after"), "2");
        // Another channel is another bucket.
        assert!(b.check(&limits, "POST m", "2", now, true).limited.is_none());
        let later = now + Duration::from_secs(2);
        assert!(
            b.check(&limits, "POST m", "1", later, true)
                .limited
                .is_none()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn global_cap_is_global() {
        let limits = RateLimits {
            per_route: None,
            global_per_second: Some(1),
        };
        let mut b = Buckets::default();
        let now = Instant::now();
        assert!(b.check(&limits, "GET a", "1", now, true).limited.is_none());
        let d = b.check(&limits, "GET b", "2", now, true);
        assert!(d.limited.unwrap().global);
        assert_eq!(header(&d, "x-ratelimit-global"), "true");
    }
}
