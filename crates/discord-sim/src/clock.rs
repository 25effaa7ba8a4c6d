//! Wall-clock rendering and id generation: ISO 8601 timestamps as Discord
//! writes them, and increasing snowflake-like ids.
//!
//! Pure functions only; never reads tokio time (records use tokio Instants,
//! payloads use the wall clock like Discord does).

use std::time::{SystemTime, UNIX_EPOCH};

/// The floor under the ids the sim hands out (a snowflake of late 2024).
pub const FIRST_ID: u64 = 1_300_000_000_000_000_000;

/// Discord's epoch: snowflakes count milliseconds from 2015-01-01.
pub const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// The smallest snowflake of the current millisecond, as Discord makes
/// them (time in the top 42 bits), so a client can read when a message
/// was posted from its id.
pub fn snowflake_now() -> u64 {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64;
    now_ms.saturating_sub(DISCORD_EPOCH_MS) << 22
}

/// Now, as Discord renders timestamps: `2024-05-01T12:34:56.789000+00:00`.
pub fn now_iso() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    iso_from_unix_millis(since.as_millis() as u64)
}

/// Seconds since the Unix epoch, as a float (for X-RateLimit-Reset).
pub fn unix_now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// Renders a Unix time in milliseconds as ISO 8601 with microseconds, UTC.
pub fn iso_from_unix_millis(ms: u64) -> String {
    let secs = ms / 1000;
    let millis = ms % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}000+00:00",
        rem / 3600,
        (rem / 60) % 60,
        rem % 60,
        millis
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// A random session id: 32 lowercase hex characters, like Discord's.
pub fn random_session_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_instants() {
        assert_eq!(iso_from_unix_millis(0), "1970-01-01T00:00:00.000000+00:00");
        assert_eq!(
            iso_from_unix_millis(1_580_608_922_020),
            "2020-02-02T02:02:02.020000+00:00"
        );
        assert_eq!(
            iso_from_unix_millis(951_782_400_000),
            "2000-02-29T00:00:00.000000+00:00"
        );
    }

    #[test]
    fn snowflakes_carry_the_time_they_were_made() {
        let before = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let id = snowflake_now();
        let ms = (id >> 22) + DISCORD_EPOCH_MS;
        assert!(ms >= before && ms < before + 1_000, "{ms} vs {before}");
        assert!(id > FIRST_ID);
    }

    #[test]
    fn session_ids_are_hex_and_distinct() {
        let a = random_session_id();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, random_session_id());
    }
}
