//! One clock for every process of the run: nanoseconds on CLOCK_MONOTONIC.
//!
//! The echo agents write CLOCK_MONOTONIC stamps (`--timestamps-file`); the
//! simulator records `tokio::time::Instant`s, which are `std::time::Instant`s,
//! which read CLOCK_MONOTONIC on Linux. `to_ns` maps an `Instant` onto the
//! shared clock through one (Instant, ns) pair taken at start-up.
//!
//! Must never be used with tokio's paused time (the benchmark never pauses it).

use std::sync::OnceLock;
use std::time::Instant;

/// Nanoseconds on CLOCK_MONOTONIC.
pub fn now_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn base() -> &'static (Instant, u64) {
    static BASE: OnceLock<(Instant, u64)> = OnceLock::new();
    BASE.get_or_init(|| (Instant::now(), now_ns()))
}

/// An `Instant` (std or tokio) as CLOCK_MONOTONIC nanoseconds.
pub fn to_ns(at: impl Into<Instant>) -> u64 {
    let at: Instant = at.into();
    let (base_at, base_ns) = *base();
    if at >= base_at {
        base_ns + (at - base_at).as_nanos() as u64
    } else {
        base_ns - (base_at - at).as_nanos() as u64
    }
}
