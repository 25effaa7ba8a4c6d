//! The schedule over simulated time: cadence, staggering, the budget.

use super::*;

const SECOND: Duration = Duration::from_secs(1);

fn defaults(calls_per_minute: u32) -> ScheduleSettings {
    ScheduleSettings {
        interval: 30 * SECOND,
        idle_interval: 300 * SECOND,
        thread_window: 3_600 * SECOND,
        calls_per_minute,
    }
}

/// Run `schedule` for `span` of simulated time; checks per channel.
fn run(
    schedule: &mut Schedule,
    start: Instant,
    span: Duration,
    mut each_step: impl FnMut(&mut Schedule, Instant),
) -> HashMap<String, u32> {
    let mut now = start;
    let mut checks = HashMap::new();
    while now < start + span {
        each_step(schedule, now);
        match schedule.next(now) {
            Next::Check(channel) => *checks.entry(channel).or_default() += 1,
            Next::WaitUntil(at) => now = at.max(now + Duration::from_millis(1)),
        }
    }
    checks
}

fn channels(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

#[test]
fn an_idle_bot_checks_each_allowed_channel_every_idle_interval() {
    let now = Instant::now();
    let allowed = channels(3, "c");
    let mut schedule = Schedule::new(defaults(60), &allowed, now);
    let checks = run(&mut schedule, now, 3_600 * SECOND, |_, _| {});
    let total: u32 = checks.values().sum();
    eprintln!("idle hour, 3 allowed channels: {total} calls ({checks:?})");
    // First check within the first interval, then one per 5 minutes.
    for channel in &allowed {
        let n = checks[channel];
        assert!((12..=13).contains(&n), "{channel}: {n}");
    }
    assert!(total <= 39, "{total} calls in an idle hour");
}

#[test]
fn a_hundred_active_threads_stay_within_the_budget_and_each_gets_its_turn() {
    let now = Instant::now();
    let allowed = channels(3, "c");
    let threads: Vec<(String, Instant)> =
        channels(100, "t").into_iter().map(|t| (t, now)).collect();
    let per_minute = crate::config::DEFAULT_DISCORD_CALLS_PER_MINUTE;
    let mut schedule = Schedule::new(defaults(per_minute), &allowed, now);
    let checks = run(&mut schedule, now, 3_600 * SECOND, |schedule, at| {
        // Every thread stays active all hour.
        let active: Vec<(String, Instant)> = threads.iter().map(|(t, _)| (t.clone(), at)).collect();
        schedule.sync(&active, at);
    });
    let total: u32 = checks.values().sum();
    let cap = per_minute * 60;
    assert!(total <= cap, "{total} calls: over {per_minute} a minute");
    assert!(
        total >= cap - cap / 30,
        "{total} calls: the budget was not used"
    );
    // Discord's global budget is 50 a second: 180,000 an hour.
    let share = f64::from(total) / 180_000.0 * 100.0;
    assert!(share < 2.0, "{share:.2}% of Discord's global budget");
    let least = threads.iter().map(|(t, _)| checks[t]).min().unwrap();
    let most = threads.iter().map(|(t, _)| checks[t]).max().unwrap();
    eprintln!(
        "hour with 100 active threads + 3 channels: {total} calls ({share:.2}%); each thread {least}..={most} checks"
    );
    assert!(
        least >= 25,
        "a thread was checked only {least} times in an hour"
    );
}

#[test]
fn checks_are_staggered_over_the_interval() {
    let now = Instant::now();
    let threads: Vec<(String, Instant)> = channels(30, "t").into_iter().map(|t| (t, now)).collect();
    let mut schedule = Schedule::new(defaults(6_000), &[], now);
    schedule.sync(&threads, now);
    let mut times = Vec::new();
    let mut at = now;
    while times.len() < 30 {
        match schedule.next(at) {
            Next::Check(_) => times.push(at),
            Next::WaitUntil(next) => at = next,
        }
    }
    let first_half = times.iter().filter(|t| **t < now + 15 * SECOND).count();
    assert!(
        (5..=25).contains(&first_half),
        "{first_half} of 30 first checks in the first half of the interval"
    );
}

#[test]
fn threads_idle_past_the_window_are_dropped_and_configured_channels_kept() {
    let now = Instant::now();
    let mut schedule = Schedule::new(defaults(60), &["c".to_owned()], now);
    schedule.sync(&[("t".to_owned(), now)], now);
    assert_eq!(schedule.len(), 2);
    schedule.sync(&[], now + 3_601 * SECOND);
    assert_eq!(schedule.len(), 1);
}

#[test]
fn a_recheck_comes_before_the_channels_next_turn_but_within_the_budget() {
    let now = Instant::now();
    let mut schedule = Schedule::new(defaults(1), &[], now);
    schedule.sync(&[("a".to_owned(), now)], now);
    assert_eq!(schedule.next(now + 30 * SECOND), Next::Check("a".into()));
    schedule.recheck_by("a", now + 35 * SECOND);
    assert_eq!(
        schedule.next(now + 31 * SECOND),
        Next::WaitUntil(now + 90 * SECOND),
        "one call a minute: the recheck waits for the budget"
    );
    let mut fast = Schedule::new(defaults(60), &[], now);
    fast.sync(&[("a".to_owned(), now)], now);
    assert_eq!(fast.next(now + 30 * SECOND), Next::Check("a".into()));
    fast.recheck_by("a", now + 35 * SECOND);
    assert_eq!(
        fast.next(now + 31 * SECOND),
        Next::WaitUntil(now + 35 * SECOND),
        "the recheck, not the next turn at 60 s"
    );
    assert_eq!(fast.next(now + 35 * SECOND), Next::Check("a".into()));
}

#[test]
fn past_the_bound_the_least_recently_active_threads_are_dropped() {
    let start = Instant::now();
    let allowed = channels(2, "c");
    let mut schedule = Schedule::new(defaults(60), &allowed, start);
    let threads = channels(MAX_WATCHED_THREADS + 5, "t");
    // Thread i was last active i ms after the start: t0..t4 are the oldest.
    let active: Vec<(String, Instant)> = threads
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), start + Duration::from_millis(i as u64)))
        .collect();
    let now = start + SECOND * 20;
    schedule.sync(&active, now);
    assert_eq!(schedule.watched(), allowed.len() + MAX_WATCHED_THREADS);
    for (i, thread) in threads.iter().enumerate() {
        assert_eq!(
            schedule.entries.contains_key(thread),
            i >= 5,
            "{thread} (the 5 least recently active are dropped)"
        );
    }
    for channel in &allowed {
        assert!(schedule.entries.contains_key(channel), "{channel} kept");
    }
}
