//! The pacer on paused time: what it learns from answers, and when it
//! lets calls go.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep};

use super::*;

const CHANNEL: u64 = 7;

fn post(channel: u64) -> Route {
    Route::channel(RouteKind::CreateMessage, channel)
}

fn announced(bucket: &str, limit: u32, remaining: u32, reset_after_ms: u64) -> Answer {
    Answer::Announced(Announced {
        bucket: bucket.into(),
        limit,
        remaining,
        reset_after: Duration::from_millis(reset_after_ms),
    })
}

/// Whether a call on `route` is let go within `within`.
async fn goes_within(pacer: &Pacer, route: Route, within: Duration) -> bool {
    tokio::time::timeout(within, pacer.acquire(route))
        .await
        .map(|ticket| ticket.answered(Answer::None))
        .is_ok()
}

#[tokio::test(start_paused = true)]
async fn a_spent_bucket_holds_calls_until_its_window_ends() {
    let pacer = Pacer::new(None);
    pacer
        .acquire(post(CHANNEL))
        .await
        .answered(announced("b", 2, 1, 5_000));
    let started = Instant::now();
    pacer
        .acquire(post(CHANNEL))
        .await
        .answered(announced("b", 2, 0, 4_900));
    assert!(started.elapsed() < Duration::from_millis(1), "one was left");
    let ticket = pacer.acquire(post(CHANNEL)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(4_900),
        "went after {waited:?}, before the window ended"
    );
    ticket.answered(announced("b", 2, 1, 5_000));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_route_sends_one_call_until_it_is_answered() {
    let pacer = Arc::new(Pacer::new(None));
    let first = pacer.acquire(post(CHANNEL)).await;
    assert!(
        !goes_within(&pacer, post(CHANNEL), Duration::from_secs(10)).await,
        "a second call went before the first was answered"
    );
    let second = {
        let pacer = pacer.clone();
        tokio::spawn(async move {
            pacer
                .acquire(post(CHANNEL))
                .await
                .answered(announced("b", 5, 3, 5_000));
        })
    };
    sleep(Duration::from_millis(10)).await;
    assert!(!second.is_finished());
    first.answered(announced("b", 5, 4, 5_000));
    tokio::time::timeout(Duration::from_millis(10), second)
        .await
        .expect("the answer lets the next call go")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn routes_that_share_a_bucket_share_its_window_per_channel() {
    let pacer = Pacer::new(None);
    let add = Route::channel(RouteKind::AddReaction, CHANNEL);
    let remove = Route::channel(RouteKind::RemoveReaction, CHANNEL);
    pacer
        .acquire(add)
        .await
        .answered(announced("reactions", 2, 1, 5_000));
    pacer
        .acquire(remove)
        .await
        .answered(announced("reactions", 2, 0, 4_990));
    // Spent for both routes in this channel...
    assert!(!goes_within(&pacer, add, Duration::from_secs(4)).await);
    assert!(!goes_within(&pacer, remove, Duration::from_millis(500)).await);
    // ...but not in another channel.
    let other = Route::channel(RouteKind::AddReaction, CHANNEL + 1);
    assert!(goes_within(&pacer, other, Duration::from_millis(1)).await);
    // And free again once the window ended.
    sleep(Duration::from_millis(600)).await;
    assert!(goes_within(&pacer, remove, Duration::from_millis(1)).await);
}

#[tokio::test(start_paused = true)]
async fn a_new_route_waits_while_its_channel_has_a_spent_bucket() {
    // Removing a reaction may share the spent bucket of adding one.
    let pacer = Pacer::new(None);
    let add = Route::channel(RouteKind::AddReaction, CHANNEL);
    let remove = Route::channel(RouteKind::RemoveReaction, CHANNEL);
    pacer
        .acquire(add)
        .await
        .answered(announced("reactions", 1, 0, 3_000));
    let started = Instant::now();
    pacer
        .acquire(remove)
        .await
        .answered(announced("reactions", 1, 0, 3_000));
    assert!(
        started.elapsed() >= Duration::from_millis(2_990),
        "the first removal went into a spent window after {:?}",
        started.elapsed()
    );
    // In another channel nothing is spent: it goes at once.
    let elsewhere = Route::channel(RouteKind::EditMessage, CHANNEL + 1);
    assert!(goes_within(&pacer, elsewhere, Duration::from_millis(1)).await);
}

#[tokio::test(start_paused = true)]
async fn calls_wait_while_a_probe_may_be_spending_their_window() {
    let pacer = Pacer::new(None);
    let add = Route::channel(RouteKind::AddReaction, CHANNEL);
    let remove = Route::channel(RouteKind::RemoveReaction, CHANNEL);
    pacer
        .acquire(add)
        .await
        .answered(announced("reactions", 2, 1, 5_000));
    let probe = pacer.acquire(remove).await;
    assert!(
        !goes_within(&pacer, add, Duration::from_secs(1)).await,
        "the last slot went while the probe may have taken it"
    );
    // The probe did share the window: it is spent until the window ends.
    probe.answered(announced("reactions", 2, 0, 4_000));
    assert!(!goes_within(&pacer, add, Duration::from_millis(2_900)).await);
    assert!(goes_within(&pacer, add, Duration::from_secs(2)).await);
}

#[tokio::test(start_paused = true)]
async fn a_probe_that_shares_a_window_is_counted_in_it() {
    let pacer = Pacer::new(None);
    let add = Route::channel(RouteKind::AddReaction, CHANNEL);
    let remove = Route::channel(RouteKind::RemoveReaction, CHANNEL);
    pacer
        .acquire(add)
        .await
        .answered(announced("reactions", 3, 2, 5_000));
    // The first removal (bucket unknown) and an add go out together; the
    // removal's answer comes first and cannot count the add yet.
    let probe = pacer.acquire(remove).await;
    let put = pacer.acquire(add).await;
    probe.answered(announced("reactions", 3, 1, 5_000));
    // Three calls went into a window of three: nothing is left.
    assert!(
        !goes_within(&pacer, remove, Duration::from_secs(4)).await,
        "a fourth call went into a window of three"
    );
    put.answered(announced("reactions", 3, 0, 5_000));
}

#[tokio::test(start_paused = true)]
async fn answers_only_ever_lower_what_remains() {
    let pacer = Pacer::new(None);
    pacer
        .acquire(post(CHANNEL))
        .await
        .answered(announced("b", 3, 2, 5_000));
    // Two calls in flight; the answer of the earlier one comes last.
    let a = pacer.acquire(post(CHANNEL)).await;
    let b = pacer.acquire(post(CHANNEL)).await;
    b.answered(announced("b", 3, 0, 5_000));
    a.answered(announced("b", 3, 1, 5_000));
    assert!(
        !goes_within(&pacer, post(CHANNEL), Duration::from_secs(4)).await,
        "the overtaken answer gave back a slot that was spent"
    );
}

#[tokio::test(start_paused = true)]
async fn a_late_answer_from_an_ended_window_does_not_spend_the_new_one() {
    let pacer = Pacer::new(None);
    pacer
        .acquire(post(CHANNEL))
        .await
        .answered(announced("b", 2, 1, 1_000));
    let late = pacer.acquire(post(CHANNEL)).await;
    sleep(Duration::from_millis(1_100)).await;
    // A new window: two calls allowed again.
    let fresh = pacer.acquire(post(CHANNEL)).await;
    late.answered(announced("b", 2, 0, 1));
    fresh.answered(announced("b", 2, 1, 1_000));
    assert!(goes_within(&pacer, post(CHANNEL), Duration::from_millis(1)).await);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_or_failed_call_gives_its_slot_back() {
    let pacer = Pacer::new(None);
    let probe = pacer.acquire(post(CHANNEL)).await;
    drop(probe);
    let probe = pacer.acquire(post(CHANNEL)).await;
    probe.answered(Answer::None);
    assert!(goes_within(&pacer, post(CHANNEL), Duration::from_millis(1)).await);
}

#[tokio::test(start_paused = true)]
async fn a_route_without_bucket_headers_is_not_held_back() {
    let pacer = Pacer::new(None);
    let me = Route::global(RouteKind::CurrentUser);
    pacer.acquire(me).await.answered(Answer::Unlimited);
    let _a = pacer.acquire(me).await;
    let _b = pacer.acquire(me).await;
    assert!(goes_within(&pacer, me, Duration::from_millis(1)).await);
}

#[tokio::test(start_paused = true)]
async fn the_global_rate_holds_every_route_together() {
    let pacer = Pacer::new(Some(3));
    let me = Route::global(RouteKind::CurrentUser);
    pacer.acquire(me).await.answered(Answer::Unlimited);
    let started = Instant::now();
    for channel in 1..=2 {
        pacer
            .acquire(Route::channel(RouteKind::AddReaction, channel))
            .await
            .answered(Answer::Unlimited);
    }
    assert!(started.elapsed() < Duration::from_millis(1));
    // The fourth call in a second waits for the first to leave the window.
    pacer.acquire(me).await.answered(Answer::Unlimited);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(1) + GLOBAL_MARGIN - Duration::from_millis(1),
        "{waited:?}"
    );
    assert!(waited < Duration::from_secs(2), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn many_waiters_all_get_through_within_the_limits() {
    let pacer = Arc::new(Pacer::new(Some(10)));
    pacer
        .acquire(post(CHANNEL))
        .await
        .answered(announced("b", 5, 4, 1_000));
    let started = Instant::now();
    let calls: Vec<_> = (0..20)
        .map(|_| {
            let pacer = pacer.clone();
            tokio::spawn(async move {
                let ticket = pacer.acquire(post(CHANNEL)).await;
                let at = Instant::now();
                sleep(Duration::from_millis(5)).await;
                let left = (at.duration_since(started).as_millis() % 1_000) as u64;
                ticket.answered(announced("b", 5, 0, 1_000 - left.min(999)));
                at
            })
        })
        .collect();
    let mut times = Vec::new();
    for call in calls {
        times.push(call.await.unwrap());
    }
    times.sort();
    // At most 5 calls in any window of the bucket (4 left + 5 a window).
    for pair in times.windows(6) {
        assert!(
            pair[5] - pair[0] >= Duration::from_millis(900),
            "6 calls within {:?}",
            pair[5] - pair[0]
        );
    }
}

fn rate_limited(retry_after_ms: u64, global: bool, announced: Option<Announced>) -> Answer {
    Answer::RateLimited {
        retry_after: Duration::from_millis(retry_after_ms),
        global,
        announced,
    }
}

fn bucket_state(bucket: &str, limit: u32, remaining: u32, reset_after_ms: u64) -> Announced {
    Announced {
        bucket: bucket.into(),
        limit,
        remaining,
        reset_after: Duration::from_millis(reset_after_ms),
    }
}

fn get(channel: u64) -> Route {
    Route::channel(RouteKind::GetMessage, channel)
}

#[tokio::test(start_paused = true)]
async fn a_global_or_headerless_429_holds_every_route_until_retry_after() {
    for (global, announced) in [
        (true, None),
        (false, None),
        (true, Some(bucket_state("b", 5, 4, 100))),
    ] {
        let pacer = Pacer::new(None);
        let started = Instant::now();
        pacer
            .acquire(post(CHANNEL))
            .await
            .answered(rate_limited(1_000, global, announced.clone()));
        for route in [
            post(CHANNEL),
            post(CHANNEL + 1),
            get(CHANNEL + 2),
            Route::global(RouteKind::CurrentUser),
        ] {
            let left = Duration::from_millis(1_000) - started.elapsed();
            assert!(
                !goes_within(&pacer, route, left - Duration::from_millis(1)).await,
                "{route:?} went within retry_after of a 429 (global {global}, {announced:?})"
            );
        }
        let ticket = pacer.acquire(get(CHANNEL + 3)).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(1_000) && waited < Duration::from_millis(1_010),
            "the hold ended after {waited:?}, retry_after was 1 s"
        );
        ticket.answered(Answer::Unlimited);
    }
}

#[tokio::test(start_paused = true)]
async fn a_route_429_holds_only_its_route_and_bucket() {
    let pacer = Pacer::new(None);
    // Learn the other routes first, so that only the hold could stop them.
    for route in [get(CHANNEL), post(CHANNEL + 1)] {
        pacer
            .acquire(route)
            .await
            .answered(announced("other", 5, 4, 60_000));
    }
    pacer
        .acquire(post(CHANNEL))
        .await
        .answered(announced("b", 5, 4, 60_000));
    let started = Instant::now();
    // The 429 says 3 calls remain and the window ends in 100 ms: only the
    // hold of 2 s can keep the route waiting.
    pacer.acquire(post(CHANNEL)).await.answered(rate_limited(
        2_000,
        false,
        Some(bucket_state("b", 5, 3, 100)),
    ));
    assert!(
        goes_within(&pacer, get(CHANNEL), Duration::from_millis(1)).await,
        "another route of the channel is not held"
    );
    assert!(
        goes_within(&pacer, post(CHANNEL + 1), Duration::from_millis(1)).await,
        "the same route on another channel is not held"
    );
    assert!(
        !goes_within(&pacer, post(CHANNEL), Duration::from_millis(1_990)).await,
        "the limited route went within retry_after"
    );
    let ticket = pacer.acquire(post(CHANNEL)).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(2_000) && waited < Duration::from_millis(2_010),
        "the route's hold ended after {waited:?}, retry_after was 2 s"
    );
    ticket.answered(announced("b", 5, 4, 5_000));
}

#[tokio::test(start_paused = true)]
async fn a_route_429_holds_every_route_of_its_bucket() {
    let pacer = Pacer::new(None);
    let add = Route::channel(RouteKind::AddReaction, CHANNEL);
    let remove = Route::channel(RouteKind::RemoveReaction, CHANNEL);
    for route in [add, remove] {
        pacer
            .acquire(route)
            .await
            .answered(announced("reactions", 5, 4, 60_000));
    }
    pacer.acquire(add).await.answered(rate_limited(
        1_000,
        false,
        Some(bucket_state("reactions", 5, 3, 100)),
    ));
    assert!(
        !goes_within(&pacer, remove, Duration::from_millis(990)).await,
        "a route sharing the limited bucket went within retry_after"
    );
    assert!(goes_within(&pacer, remove, Duration::from_millis(20)).await);
}

#[tokio::test(start_paused = true)]
async fn a_shorter_429_does_not_shorten_a_hold() {
    let pacer = Pacer::new(None);
    let started = Instant::now();
    pacer
        .acquire(post(CHANNEL))
        .await
        .answered(rate_limited(3_000, true, None));
    let ticket = pacer.acquire(get(CHANNEL)).await;
    assert!(started.elapsed() >= Duration::from_secs(3));
    ticket.answered(rate_limited(10, true, None));
    let ticket = pacer.acquire(get(CHANNEL)).await;
    ticket.answered(Answer::Unlimited);
    // A second, overlapping hold: the later end wins.
    let pacer = Pacer::new(None);
    let started = Instant::now();
    let first = pacer.acquire(post(CHANNEL)).await;
    let second = pacer.acquire(get(CHANNEL + 1)).await;
    first.answered(rate_limited(2_000, true, None));
    second.answered(rate_limited(500, true, None));
    pacer.acquire(get(CHANNEL + 2)).await.answered(Answer::None);
    assert!(started.elapsed() >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_low_priority_call_goes_only_with_room_to_spare_and_never_waits() {
    let pacer = Pacer::new(Some(10));
    let probe = Route::channel(RouteKind::GetChannel, CHANNEL);
    pacer
        .try_acquire_idle(probe)
        .expect("an idle pacer has room")
        .answered(Answer::Unlimited);
    // Four more calls: 5 of 10 in the global window, half of it.
    for n in 0..4 {
        pacer
            .acquire(post(100 + n))
            .await
            .answered(Answer::Unlimited);
    }
    assert!(
        pacer.try_acquire_idle(probe).is_none(),
        "half the global window in use: skipped"
    );
    sleep(Duration::from_millis(1_200)).await;
    pacer
        .try_acquire_idle(probe)
        .expect("the window emptied")
        .answered(Answer::Unlimited);

    pacer
        .acquire(post(CHANNEL))
        .await
        .answered(Answer::RateLimited {
            retry_after: Duration::from_secs(2),
            global: true,
            announced: None,
        });
    assert!(
        pacer.try_acquire_idle(probe).is_none(),
        "a global 429 holds the low-priority calls too"
    );
}
