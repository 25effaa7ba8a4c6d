//! Figure 6: REST economy. Calls per answered message (reactions, the
//! answer's posts, edits and overflow posts) for a 3-chunk reply and a
//! 9,000-character streamed reply, at the default edit interval (1.5 s);
//! then the 429s met by 50 threads x 10 messages with the simulator
//! enforcing Discord-like limits (5 requests / 5 s per route and channel,
//! 50 / s globally; X-RateLimit-* headers on every response).

use std::collections::BTreeMap;
use std::time::Duration;

use discord_sim::{RateLimits, RestCall};

use super::Options;
use super::broker::{Broker, Setup};
use super::driver::{closed_loop, open_threads, wait_answered};
use super::stats::{Row, Summary};

/// What a REST call did.
fn kind(call: &RestCall) -> &'static str {
    let p = &call.path;
    match call.method.as_str() {
        "PUT" if p.contains("/reactions/") => "reaction add",
        "DELETE" if p.contains("/reactions/") => "reaction remove",
        "POST" if p.ends_with("/threads") => "thread create",
        "POST" if p.ends_with("/messages") => "message post",
        "PATCH" => "message edit",
        _ => "other",
    }
}

fn breakdown(calls: &[RestCall]) -> String {
    let mut by: BTreeMap<&str, usize> = BTreeMap::new();
    for c in calls {
        *by.entry(kind(c)).or_default() += 1;
    }
    by.iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// REST calls made for one message posted in `thread`.
async fn calls_for(b: &Broker, thread: u64, text: &str) -> Vec<RestCall> {
    let before = b.sim.rest_calls().len();
    let id = b.sim.inject_message(thread, &b.user, text);
    wait_answered(b, &[(thread, id)], Duration::from_secs(60)).await;
    // The reactions are set after the reply is complete; let the last land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The delivery check's background probes (GET /channels/{id}) are not
    // the answer's cost.
    b.sim.rest_calls()[before..]
        .iter()
        .filter(|c| {
            !(c.method == "GET"
                && c.path
                    .strip_prefix("/api/v10/channels/")
                    .is_some_and(|rest| !rest.contains('/')))
        })
        .cloned()
        .collect()
}

async fn per_message(samples: usize) -> Vec<Row> {
    let b = Broker::start(Setup::default()).await;
    let thread = open_threads(&b, 1, Duration::from_secs(30)).await[0];
    // The opening turn's last reaction calls land after its "done".
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut rows = Vec::new();
    // The agent's header line, then 2 x 97 characters: 3 chunks, 300 ms apart.
    let cases = [
        ("3-chunk reply, 300 ms apart", "[[long:194]] [[slow:300]]"),
        (
            "9,000-char reply, 93 chunks 20 ms apart",
            "[[long:9000]] [[slow:20]]",
        ),
    ];
    for (name, directives) in cases {
        let mut counts = Vec::new();
        let mut last = Vec::new();
        for s in 0..samples {
            last = calls_for(&b, thread, &format!("{directives} sample {s}")).await;
            counts.push(last.len() as f64);
        }
        println!(
            "economy: {name}: {} calls ({})",
            last.len(),
            breakdown(&last)
        );
        rows.push(Row::new(
            format!("6. REST calls per answered message, {name}"),
            "calls",
            Summary::of(&counts).unwrap(),
        ));
    }
    b.stop().await;
    rows
}

async fn rate_limited(threads: usize, per_thread: usize) -> Vec<Row> {
    let b = Broker::start(Setup::default()).await;
    let ids = open_threads(&b, threads, Duration::from_secs(60)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.sim.set_rate_limits(RateLimits {
        per_route: Some((5, Duration::from_secs(5))),
        global_per_second: Some(50),
    });
    let before = b.sim.rest_calls().len();
    let run = closed_loop(
        &b,
        &ids,
        per_thread,
        |t, i| format!("rl t{t} m{i}"),
        Duration::from_secs(900),
    )
    .await;
    let calls = b.sim.rest_calls()[before..].to_vec();
    let limited: Vec<RestCall> = calls.iter().filter(|c| c.status == 429).cloned().collect();
    println!(
        "economy: {threads} threads x {per_thread} messages under limits: {} calls in {:.1} s, \
         {} x 429 ({})",
        calls.len(),
        run.wall.as_secs_f64(),
        limited.len(),
        breakdown(&limited)
    );
    b.stop().await;
    vec![
        Row::new(
            format!("6. 429s met, {threads} threads x {per_thread} msgs, 5/5 s per route + 50/s"),
            "count",
            Summary::single(limited.len() as f64),
        )
        .budget("0", limited.is_empty()),
        Row::new(
            "6.  that run: messages/s under the limits",
            "msg/s",
            Summary::single(run.messages as f64 / run.wall.as_secs_f64()),
        ),
    ]
}

pub async fn run(options: &Options) -> Vec<Row> {
    let mut rows = Vec::new();
    if options.smoke {
        rows.extend(per_message(1).await);
        rows.extend(rate_limited(2, 2).await);
    } else {
        rows.extend(per_message(5).await);
        rows.extend(rate_limited(50, 10).await);
    }
    rows
}
