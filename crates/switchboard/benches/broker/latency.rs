//! Figures 1 and 2: the broker's own latency on the way in and on the way
//! out, one message at a time in an existing thread with a live session.
//!
//! Messages are at least `SPACING` apart, so that the broker's global REST
//! pacing never holds a call back (that wait would be Discord's limit, not
//! the broker's work).
//!
//! Inbound: CLOCK_MONOTONIC just before `DiscordSim::inject_message` (which
//! stores the message and hands MESSAGE_CREATE to the gateway connection's
//! writer) -> the echo agent's stamp taken right after it read the
//! `session/prompt` line from its stdin. Includes the simulator's own
//! dispatch work, the loopback WebSocket, twilight, routing, dedupe, the
//! journal write, the thread actor and the JSON-RPC write to the agent.
//!
//! Outbound: the agent's stamp taken just before it wrote its first
//! `agent_message_chunk` line -> the simulator receiving the first REST
//! call carrying that text (the POST of the answer: a first text that comes
//! within the reply's `placeholder_after` is posted as the first message;
//! no edit interval is involved). The agent waits `ECHO_DELAY_MS` before
//! answering, so the turn's own start-up work is over; a second run with no
//! delay shows the same path when the agent answers at once.

use std::collections::HashMap;
use std::time::Duration;

use super::Options;
use super::agentlog::AgentLog;
use super::broker::{Broker, Setup};
use super::clock;
use super::driver::{open_threads, wait_answered};
use super::stats::{Row, Summary};

const ECHO_DELAY_MS: u64 = 20;
/// Least time from one message to the next. An answer costs 2 REST calls,
/// so this keeps the run under the broker's default global pacing (50
/// calls per second): no call waits for it, and what is measured is the
/// broker's own work, not Discord's rate limit.
const SPACING: Duration = Duration::from_millis(60);

struct Run {
    inbound_ms: Vec<f64>,
    outbound_ms: Vec<f64>,
    end_to_end_ms: Vec<f64>,
}

async fn measure(echo_delay_ms: u64, warmup: usize, samples: usize) -> Run {
    let b = Broker::start(Setup {
        echo_delay_ms,
        ..Setup::default()
    })
    .await;
    let thread = open_threads(&b, 1, Duration::from_secs(30)).await[0];
    let mut sent = Vec::new();
    for i in 0..warmup + samples {
        let text = format!("lat-{i}");
        let next = tokio::time::Instant::now() + SPACING;
        let at = clock::now_ns();
        let id = b.sim.inject_message(thread, &b.user, &text);
        wait_answered(&b, &[(thread, id)], Duration::from_secs(10)).await;
        tokio::time::sleep_until(next).await;
        if i >= warmup {
            sent.push((text, at));
        }
    }
    // The first REST call carrying each text.
    let mut first_with: HashMap<String, u64> = HashMap::new();
    for call in b.sim.rest_calls() {
        if let Some(content) = call
            .body
            .as_ref()
            .and_then(|b| b.get("content"))
            .and_then(|c| c.as_str())
        {
            first_with
                .entry(content.to_owned())
                .or_insert_with(|| clock::to_ns(call.at.into_std()));
        }
    }
    let log = AgentLog::read(&b.timestamps);
    let ms = |from: u64, to: u64| (to as f64 - from as f64) / 1e6;
    let mut run = Run {
        inbound_ms: Vec::new(),
        outbound_ms: Vec::new(),
        end_to_end_ms: Vec::new(),
    };
    for (text, injected) in &sent {
        let answer = format!("echo: {text}");
        let read = log.prompt_read(text);
        let chunk = log.chunks.get(&answer).copied();
        let shown = first_with.get(&answer).copied();
        match (read, chunk, shown) {
            (Some(read), Some(chunk), Some(shown)) => {
                run.inbound_ms.push(ms(*injected, read));
                run.outbound_ms.push(ms(chunk, shown));
                run.end_to_end_ms.push(ms(*injected, shown));
            }
            _ => b.fail(&format!(
                "missing a stamp for {text:?}: read {read:?}, chunk {chunk:?}, shown {shown:?}"
            )),
        }
    }
    b.stop().await;
    run
}

pub async fn run(options: &Options) -> Vec<Row> {
    let (warmup, samples) = if options.smoke { (3, 10) } else { (20, 500) };
    let delayed = measure(ECHO_DELAY_MS, warmup, samples).await;
    let at_once = measure(0, warmup, samples).await;
    let s = |v: &[f64]| Summary::of(v).expect("samples");
    let inbound = s(&delayed.inbound_ms);
    let outbound = s(&delayed.outbound_ms);
    vec![
        Row::new(
            "1. inbound: sim MESSAGE_CREATE -> agent reads session/prompt",
            "ms",
            inbound.clone(),
        )
        .budget("p99 < 2 ms", inbound.p99 < 2.0),
        Row::new(
            "2. outbound: agent writes 1st chunk -> sim gets the post with it",
            "ms",
            outbound.clone(),
        )
        .budget("p99 < 2 ms", outbound.p99 < 2.0),
        Row::new(
            "2b. outbound, agent answers at once",
            "ms",
            s(&at_once.outbound_ms),
        ),
        Row::new(
            "2c. inject -> answer text at the sim, agent answers at once",
            "ms",
            s(&at_once.end_to_end_ms),
        ),
        Row::new(
            "1b. inbound, second run (agent answers at once)",
            "ms",
            s(&at_once.inbound_ms),
        ),
    ]
}
