//! Wall-clock message timestamps and the random or counted ids Slack hands
//! out: envelope ids (UUIDs), event ids ("Ev..."), connection tickets.
//!
//! Reads only the wall clock (payloads carry Unix times, like Slack);
//! records use tokio Instants elsewhere. Never touches shared state.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::Ts;

/// Seconds since the Unix epoch.
pub(crate) fn unix_now_secs() -> u64 {
    unix_now_micros() / MICROS
}

/// Microseconds since the Unix epoch.
pub(crate) fn unix_now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros() as u64
}

/// Hands out strictly increasing message timestamps: the wall-clock time
/// to the microsecond, as Slack's are (so a ts says when its message was
/// posted), one microsecond past the last when the clock has not moved on.
#[derive(Debug, Default)]
pub(crate) struct TsClock {
    last: Option<Ts>,
}

const MICROS: u64 = 1_000_000;

fn as_micros(ts: Ts) -> u64 {
    ts.secs * MICROS + u64::from(ts.micros)
}

impl TsClock {
    pub fn next(&mut self) -> Ts {
        self.next_at(unix_now_micros())
    }

    /// The next ts given the current wall-clock time in microseconds.
    pub fn next_at(&mut self, now_micros: u64) -> Ts {
        let at = match self.last {
            Some(last) if now_micros <= as_micros(last) => as_micros(last) + 1,
            _ => now_micros,
        };
        let ts = Ts {
            secs: at / MICROS,
            micros: (at % MICROS) as u32,
        };
        self.last = Some(ts);
        ts
    }
}

/// A random UUID v4 string, as Slack uses for envelope and client message ids.
pub(crate) fn uuid4() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The n-th event id: "Ev" and 10 upper-case base-36 digits.
pub(crate) fn event_id(n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut out = [b'0'; 10];
    let mut v = n;
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    format!("Ev{}", String::from_utf8_lossy(&out))
}

/// A random one-time connection ticket (32 hex characters).
pub(crate) fn ticket() -> String {
    let b: [u8; 16] = rand::random();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_are_the_wall_clock_and_strictly_increase() {
        let mut c = TsClock::default();
        let a = c.next_at(100_000_250);
        let b = c.next_at(100_000_250);
        let d = c.next_at(99_000_000); // the wall clock stepped back
        let e = c.next_at(101_000_000);
        assert_eq!(a.to_string(), "100.000250");
        assert_eq!(b.to_string(), "100.000251");
        assert_eq!(d.to_string(), "100.000252");
        assert_eq!(e.to_string(), "101.000000");
        let mut full = TsClock {
            last: Some(Ts {
                secs: 5,
                micros: 999_999,
            }),
        };
        assert_eq!(full.next_at(5_000_000).to_string(), "6.000000");
    }

    #[test]
    fn ids_have_slack_shapes() {
        let u = uuid4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, uuid4());
        assert_eq!(event_id(0), "Ev0000000000");
        assert_eq!(event_id(37), "Ev0000000011");
        assert_eq!(ticket().len(), 32);
    }
}
