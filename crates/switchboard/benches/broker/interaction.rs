//! Figure 8: interaction latency (issue 13), a permission button clicked
//! in Discord, one click at a time.
//!
//! Each iteration opens a prompt first and measures only the click: the
//! requester posts `[[permission:edit]] ...` in an existing thread (policy
//! `ask`), the echo agent asks `session/request_permission`, the broker
//! posts the prompt with buttons; once the prompt is there and the broker
//! has made no REST call for `QUIET` (the prompt's post and the reply's
//! pending edits are over), the requester clicks the first button (allow
//! once) and the clock starts.
//!
//! Click -> agent: `InteractionHandle::dispatched_at` (taken by the
//! simulator just before it hands INTERACTION_CREATE to the gateway
//! connection's writer) -> the agent's `response` stamp, taken right after
//! it read the `session/request_permission` answer line from its stdin
//! (CLOCK_MONOTONIC in both processes, see `clock`). Includes the loopback
//! WebSocket, twilight, `clicks.rs`, the button id's HMAC check, the
//! permission desk's decider check and the JSON-RPC write to the agent.
//!
//! Click -> callback: the same dispatch -> the simulator accepting the
//! `POST /interactions/{id}/{token}/callback` (`CallbackRecord::after`);
//! Discord drops an interaction not answered within 3 s.
//!
//! A failed click (no prompt, no callback, a callback other than type 7,
//! no answer at the agent, an outcome other than allow once, the turn not
//! finished) is counted, told on stderr, and the run goes on.

use std::time::Duration;

use discord_sim::{DiscordSim, SimMessage};
use tokio::time::Instant;

use super::Options;
use super::agentlog::AgentLog;
use super::broker::{Broker, Setup};
use super::clock;
use super::driver::{answered, open_threads};
use super::stats::{Row, Summary};

/// No REST call by the broker for this long = the prompt's posting is over.
const QUIET: Duration = Duration::from_millis(100);
/// The longest wait for that quiet (the reply's edit interval is 1.5 s).
const QUIET_AT_MOST: Duration = Duration::from_secs(5);
/// Least time from one turn's end to the next prompt (REST pacing).
const SPACING: Duration = Duration::from_millis(60);
/// How long a step may take before the click counts as failed.
const STEP: Duration = Duration::from_secs(10);
/// The broker's `RUST_LOG` for a run that looks into slow clicks.
const LOG_FILTER_VAR: &str = "SWITCHBOARD_BENCH_BROKER_LOG";
/// Where that run keeps the broker's log.
const LOG_FILE_VAR: &str = "SWITCHBOARD_BENCH_BROKER_LOG_FILE";
/// The demo agent's id for its "Allow once" option.
const ALLOW_ONCE: &str = "\"optionId\":\"opt-x2\"";

/// The bot's message in `thread` with buttons, newer than `after`.
fn open_prompt(sim: &DiscordSim, thread: u64, after: u64) -> Option<SimMessage> {
    let bot = sim.bot_user().id;
    sim.messages(thread).into_iter().find(|m| {
        m.author.id == bot
            && m.id > after
            && m.components.as_array().is_some_and(|rows| !rows.is_empty())
    })
}

/// The first button's custom id (allow first).
fn first_button(message: &SimMessage) -> Option<String> {
    let rows = message.components.as_array()?;
    let button = rows.first()?["components"].as_array()?.first()?.clone();
    button["custom_id"].as_str().map(str::to_owned)
}

/// Wait until the broker has made no REST call for `QUIET`.
async fn quiet(sim: &DiscordSim) {
    let deadline = Instant::now() + QUIET_AT_MOST;
    let mut seen = sim.rest_calls().len();
    while Instant::now() < deadline {
        tokio::time::sleep(QUIET).await;
        let now = sim.rest_calls().len();
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// One click's figures.
struct Click {
    clicked_at: std::time::SystemTime,
    to_agent_ms: f64,
    to_callback_ms: f64,
}

/// Open a prompt, click allow, check everything; `Err(why)` on a failure.
async fn one(b: &Broker, thread: u64, i: usize, last_prompt: &mut u64) -> Result<Click, String> {
    let id = b
        .sim
        .inject_message(thread, &b.user, &format!("[[permission:edit]] click {i}"));
    let prompt = b
        .sim
        .wait_until(STEP, |s| open_prompt(s, thread, *last_prompt))
        .await
        .ok_or("no prompt with buttons")?;
    *last_prompt = prompt.id;
    let button = first_button(&prompt).ok_or("the prompt has no button")?;
    quiet(&b.sim).await;
    let responses_before = AgentLog::read(&b.timestamps).responses.len();

    let clicked_at = std::time::SystemTime::now();
    let click = b
        .sim
        .click_button(thread, prompt.id, &button, &b.user)
        .map_err(|e| format!("click refused by the simulator: {e}"))?;
    let callback = click.wait_response(STEP).await;
    // The agent writes "permission: ..." and ends the turn after reading
    // the answer, so its stamp is in the file once the turn is done.
    let done = b.sim.wait_until(STEP, |_| answered(b, thread, id)).await;

    let callback = callback.ok_or("no callback within 10 s")?;
    if callback.kind != 7 {
        return Err(format!("callback type {} (not 7)", callback.kind));
    }
    if done != Some(true) {
        return Err("the turn did not end well".into());
    }
    let log = AgentLog::read(&b.timestamps);
    let new = &log.responses[responses_before.min(log.responses.len())..];
    let [(read_ns, result)] = new else {
        return Err(format!("{} answers at the agent (not 1)", new.len()));
    };
    if !result.contains(ALLOW_ONCE) {
        return Err(format!("wrong outcome at the agent: {result}"));
    }
    let dispatched = clock::to_ns(click.dispatched_at().into_std());
    Ok(Click {
        clicked_at,
        to_agent_ms: (*read_ns as f64 - dispatched as f64) / 1e6,
        to_callback_ms: callback.after.as_secs_f64() * 1e3,
    })
}

pub async fn run(options: &Options) -> Vec<Row> {
    let (warmup, samples) = if options.smoke { (2, 10) } else { (10, 200) };
    // To find where a slow click spends its time: the broker's log filter
    // (e.g. "info,switchboard::agent::actor=trace"), each click's figure
    // with its wall-clock time on stderr, and the broker's log kept in
    // the file SWITCHBOARD_BENCH_BROKER_LOG_FILE.
    let log_filter = std::env::var(LOG_FILTER_VAR).ok();
    let b = Broker::start(Setup {
        agent: "permission_policy = \"ask\"".into(),
        env: log_filter
            .iter()
            .map(|filter| ("RUST_LOG".to_owned(), filter.clone()))
            .collect(),
        ..Setup::default()
    })
    .await;
    let thread = open_threads(&b, 1, Duration::from_secs(30)).await[0];
    let mut to_agent = Vec::new();
    let mut to_callback = Vec::new();
    let mut failures = 0usize;
    let mut last_prompt = 0;
    for i in 0..warmup + samples {
        match one(&b, thread, i, &mut last_prompt).await {
            Ok(click) if i >= warmup => {
                if log_filter.is_some() {
                    eprintln!(
                        "interaction: click {i}: {:.3} ms to the agent, clicked at {:?}",
                        click.to_agent_ms, click.clicked_at
                    );
                }
                to_agent.push(click.to_agent_ms);
                to_callback.push(click.to_callback_ms);
            }
            Ok(_) => {}
            Err(why) => {
                eprintln!("interaction: click {i} failed: {why}");
                failures += 1;
            }
        }
        tokio::time::sleep(SPACING).await;
    }
    if let Ok(file) = std::env::var(LOG_FILE_VAR) {
        std::fs::write(&file, b.log()).expect("the broker's log is kept");
    }
    b.stop().await;
    let mut rows = Vec::new();
    let failed = Summary::single(failures as f64);
    let clicks = warmup + samples;
    if let Some(s) = Summary::of(&to_agent) {
        let met = s.p99 < 2.0;
        rows.push(
            Row::new(
                "8. click: sim INTERACTION_CREATE -> agent reads the outcome",
                "ms",
                s,
            )
            .budget("p99 < 2 ms", met),
        );
    }
    if let Some(s) = Summary::of(&to_callback) {
        let met = s.max < 3000.0;
        rows.push(
            Row::new(
                "8.  click: sim INTERACTION_CREATE -> callback accepted",
                "ms",
                s,
            )
            .budget("max < 3 s", met),
        );
    }
    rows.push(
        Row::new(format!("8.  failed clicks, of {clicks}"), "clicks", failed)
            .budget("0", failures == 0),
    );
    rows
}
