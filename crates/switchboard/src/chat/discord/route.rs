//! What the REST pacer needs to know about a request and its response:
//! which route it is on (Discord buckets routes, and limits each bucket per
//! major parameter, here the channel id), and what the X-RateLimit-* headers
//! of the response announced.
//!
//! Owns the list of routes switchboard calls and the header parsing. Must
//! never hold a limit of its own: every number comes from a response.

use std::time::Duration;

/// The REST routes switchboard calls (method + path template).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteKind {
    /// GET /users/@me
    CurrentUser,
    /// GET /gateway/bot (once at start with several shards)
    GatewayBot,
    /// POST /channels/{channel}/messages
    CreateMessage,
    /// PATCH /channels/{channel}/messages/{message}
    EditMessage,
    /// GET /channels/{channel}/messages/{message}
    GetMessage,
    /// GET /channels/{channel}/messages
    ListMessages,
    /// GET /channels/{channel}
    GetChannel,
    /// POST /channels/{channel}/messages/{message}/threads
    StartThread,
    /// PUT /channels/{channel}/messages/{message}/reactions/{emoji}/@me
    AddReaction,
    /// DELETE /channels/{channel}/messages/{message}/reactions/{emoji}/@me
    RemoveReaction,
    /// POST /interactions/{interaction}/{token}/callback (major: the
    /// interaction id; not under the bot's global limit)
    InteractionCallback,
    /// PATCH /webhooks/{application}/{token}/messages/@original and POST
    /// /webhooks/{application}/{token} (major: the application id)
    InteractionWebhook,
    /// PUT /applications/{application}/(guilds/{guild}/)commands (major:
    /// the application id)
    Commands,
}

/// One request's route: its kind and major parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Route {
    pub kind: RouteKind,
    /// The channel id for channel routes; 0 for routes without one.
    pub major: u64,
}

impl Route {
    pub fn channel(kind: RouteKind, channel_id: u64) -> Self {
        Self {
            kind,
            major: channel_id,
        }
    }

    pub fn global(kind: RouteKind) -> Self {
        Self { kind, major: 0 }
    }
}

/// The bucket state a response announced.
#[derive(Clone, Debug, PartialEq)]
pub struct Announced {
    /// Discord's opaque bucket id (routes sharing one share its limit).
    pub bucket: String,
    pub limit: u32,
    pub remaining: u32,
    /// Time left until the bucket's window ends, as of the response.
    pub reset_after: Duration,
}

/// Lowercased header names.
const BUCKET: &str = "x-ratelimit-bucket";
const LIMIT: &str = "x-ratelimit-limit";
const REMAINING: &str = "x-ratelimit-remaining";
const RESET_AFTER: &str = "x-ratelimit-reset-after";

/// Read the bucket headers of a response: `None` when it announced no
/// bucket (an unlimited route) or announced one unreadably (then nothing
/// is learnt from it).
pub fn announced<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>) -> Option<Announced> {
    let (mut bucket, mut limit, mut remaining, mut reset_after) = (None, None, None, None);
    for (name, value) in headers {
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        match name.to_ascii_lowercase().as_str() {
            BUCKET => bucket = Some(value.to_owned()),
            LIMIT => limit = value.parse::<u32>().ok(),
            REMAINING => remaining = value.parse::<u32>().ok(),
            RESET_AFTER => {
                reset_after = value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64);
            }
            _ => {}
        }
    }
    Some(Announced {
        bucket: bucket?,
        limit: limit?,
        remaining: remaining?,
        reset_after: reset_after?,
    })
}

/// What a 429 said.
#[derive(Clone, Debug, PartialEq)]
pub struct TooMany {
    /// How long to wait before the next call it covers.
    pub retry_after: Duration,
    /// Discord's global limit (body `global`, or X-RateLimit-Global, or
    /// X-RateLimit-Scope: global).
    pub global: bool,
    /// X-RateLimit-Scope: shared (a resource's limit, not counted as an
    /// invalid request).
    pub shared: bool,
}

/// Waited when a 429 says nothing readable about how long.
pub const RETRY_AFTER_UNKNOWN: Duration = Duration::from_secs(1);
/// The longest `retry_after` believed (a bigger one is read as this).
const RETRY_AFTER_MAX: Duration = Duration::from_secs(3600);

#[derive(serde::Deserialize)]
struct TooManyBody {
    retry_after: Option<f64>,
    #[serde(default)]
    global: bool,
}

/// Read a 429: `retry_after` from the JSON body (seconds, a float), else
/// the Retry-After header (seconds), else [`RETRY_AFTER_UNKNOWN`].
pub fn too_many<'a>(headers: impl Iterator<Item = (&'a str, &'a [u8])>, body: &[u8]) -> TooMany {
    let parsed = serde_json::from_slice::<TooManyBody>(body).ok();
    let seconds = |s: f64| (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s));
    let mut header_after = None;
    let mut global = parsed.as_ref().is_some_and(|b| b.global);
    let mut shared = false;
    for (name, value) in headers {
        let Ok(value) = std::str::from_utf8(value) else {
            continue;
        };
        match name.to_ascii_lowercase().as_str() {
            "retry-after" => header_after = value.trim().parse::<f64>().ok().and_then(seconds),
            "x-ratelimit-global" => global |= value.eq_ignore_ascii_case("true"),
            "x-ratelimit-scope" => {
                global |= value.eq_ignore_ascii_case("global");
                shared = value.eq_ignore_ascii_case("shared");
            }
            _ => {}
        }
    }
    let retry_after = parsed
        .and_then(|b| b.retry_after)
        .and_then(seconds)
        .or(header_after)
        .unwrap_or(RETRY_AFTER_UNKNOWN)
        .min(RETRY_AFTER_MAX);
    TooMany {
        retry_after,
        global,
        shared,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(headers: &[(&'static str, &'static str)]) -> Option<Announced> {
        announced(headers.iter().map(|(n, v)| (*n, v.as_bytes())))
    }

    #[test]
    fn reads_discords_bucket_headers() {
        let got = parse(&[
            ("content-type", "application/json"),
            ("x-ratelimit-limit", "5"),
            ("x-ratelimit-remaining", "4"),
            ("x-ratelimit-reset", "1470173023.123"),
            ("x-ratelimit-reset-after", "4.250"),
            ("x-ratelimit-bucket", "abcd1234"),
        ]);
        assert_eq!(
            got,
            Some(Announced {
                bucket: "abcd1234".into(),
                limit: 5,
                remaining: 4,
                reset_after: Duration::from_millis(4250),
            })
        );
    }

    #[test]
    fn no_or_partial_or_bad_headers_announce_nothing() {
        assert_eq!(parse(&[("content-type", "application/json")]), None);
        assert_eq!(
            parse(&[("x-ratelimit-limit", "5"), ("x-ratelimit-bucket", "b")]),
            None
        );
        assert_eq!(
            parse(&[
                ("x-ratelimit-limit", "5"),
                ("x-ratelimit-remaining", "-1"),
                ("x-ratelimit-reset-after", "1.0"),
                ("x-ratelimit-bucket", "b"),
            ]),
            None
        );
        assert_eq!(
            parse(&[
                ("x-ratelimit-limit", "5"),
                ("x-ratelimit-remaining", "1"),
                ("x-ratelimit-reset-after", "NaN"),
                ("x-ratelimit-bucket", "b"),
            ]),
            None
        );
    }

    fn too_many_of(headers: &[(&'static str, &'static str)], body: &str) -> TooMany {
        too_many(
            headers.iter().map(|(n, v)| (*n, v.as_bytes())),
            body.as_bytes(),
        )
    }

    #[test]
    fn reads_a_429_from_its_body_then_its_headers() {
        let headerless = too_many_of(
            &[("Retry-After", "2")],
            r#"{"message":"You are being rate limited.","retry_after":1.5,"global":true}"#,
        );
        assert_eq!(
            headerless,
            TooMany {
                retry_after: Duration::from_millis(1500),
                global: true,
                shared: false,
            }
        );
        let route = too_many_of(
            &[("retry-after", "3"), ("x-ratelimit-scope", "shared")],
            r#"{"retry_after":2.25,"global":false}"#,
        );
        assert_eq!(route.retry_after, Duration::from_millis(2250));
        assert!(!route.global && route.shared);
        let edge = too_many_of(&[("retry-after", "4")], "<html>error code: 1015</html>");
        assert_eq!(edge.retry_after, Duration::from_secs(4));
        let scoped = too_many_of(&[("x-ratelimit-scope", "global")], "{}");
        assert!(scoped.global);
        assert_eq!(scoped.retry_after, RETRY_AFTER_UNKNOWN);
        let bad = too_many_of(&[("retry-after", "soon")], r#"{"retry_after":-1}"#);
        assert_eq!(bad.retry_after, RETRY_AFTER_UNKNOWN);
    }
}
