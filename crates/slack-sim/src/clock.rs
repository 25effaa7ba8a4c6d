//! Wall-clock message timestamps and the random or counted ids Slack hands
//! out: envelope ids (UUIDs), event ids ("Ev..."), connection tickets.
//!
//! Reads only the wall clock (payloads carry Unix times, like Slack);
//! records use tokio Instants elsewhere. Never touches shared state.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::Ts;

/// Seconds since the Unix epoch.
pub(crate) fn unix_now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
}

/// Hands out strictly increasing message timestamps: the wall-clock second
/// plus a 6-digit counter within it.
#[derive(Debug, Default)]
pub(crate) struct TsClock {
    last: Option<Ts>,
}

impl TsClock {
    pub fn next(&mut self) -> Ts {
        self.next_at(unix_now_secs())
    }

    /// The next ts given the current wall-clock second.
    pub fn next_at(&mut self, now_secs: u64) -> Ts {
        let ts = match self.last {
            Some(last) if now_secs <= last.secs => {
                if last.micros >= 999_999 {
                    Ts {
                        secs: last.secs + 1,
                        micros: 1,
                    }
                } else {
                    Ts {
                        secs: last.secs,
                        micros: last.micros + 1,
                    }
                }
            }
            _ => Ts {
                secs: now_secs,
                micros: 1,
            },
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
    fn ts_strictly_increase_within_and_across_seconds() {
        let mut c = TsClock::default();
        let a = c.next_at(100);
        let b = c.next_at(100);
        let d = c.next_at(99); // the wall clock stepped back
        let e = c.next_at(101);
        assert_eq!(a.to_string(), "100.000001");
        assert!(a < b && b < d && d < e);
        let mut full = TsClock {
            last: Some(Ts {
                secs: 5,
                micros: 999_999,
            }),
        };
        assert_eq!(full.next_at(5).to_string(), "6.000001");
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
