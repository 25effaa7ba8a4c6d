//! Figure 7: the soak. Thousands of conversations over minutes through the
//! real binary (each a mention that opens a thread, then 1-3 follow-ups,
//! each posted once the previous one was answered; some after a pause long
//! enough for the thread actor to end idle, or its agent to be reaped), at
//! a steady start rate with a bounded number under way. Everything idle is
//! configured to end within the run: thread actors after 1 s
//! (`SWITCHBOARD_THREAD_ACTOR_IDLE_MS`), agent sessions after `idle_ttl`
//! 4 s, checked every second (`SWITCHBOARD_POOL_REAP_EVERY_MS`), the
//! delivery check's watch on a thread after `canary.thread_window` 20 s
//! (forgotten after 40 s; `SWITCHBOARD_SOAK_CANARY_WINDOW` sets another).
//!
//! The broker's RSS, alive tokio tasks, open file descriptors and agent
//! children are sampled at baseline (after READY), every few seconds
//! during the run, and at the end once the pool has no live session, no
//! agent is left and the journal has no backlog (a condition with a
//! deadline, not a fixed sleep). Flat means: RSS end <= baseline +
//! max(10 MB, 25 %), tasks end <= baseline + 5, fds end <= baseline + 2,
//! no agent left. Connections to the platform are counted apart: the REST
//! client keeps up to `IDLE_CONNECTIONS_PER_HOST` idle ones after a burst
//! (`chat/http_client.rs`), within their own bound, each with the one task
//! that drives it (allowed on top of the + 5). Every message must be
//! answered exactly once: one bot post in its thread carries its text.
//!
//! `--conversations N` sets the count (default 3,000; smoke 20).

use std::time::Duration;

use tokio::time::Instant;

use super::Options;
use super::broker::{Broker, Setup};
use super::driver::answered;
use super::probe::{Probe, Sample};
use super::procfs;
use super::stats::{Row, Summary};

/// How one soak run is sized and timed.
struct Plan {
    conversations: usize,
    /// At most this many conversations under way.
    in_flight: usize,
    /// One conversation starts every `start_every` (or later, at the cap).
    start_every: Duration,
    actor_idle: Duration,
    /// `canary.thread_window`: the delivery check watches a thread this
    /// long after its last activity and forgets it after twice that.
    thread_window: Duration,
    idle_ttl: Duration,
    reap_every: Duration,
    /// Before the last follow-up of every 4th conversation: longer than
    /// `actor_idle` (the actor ends and comes back).
    short_pause: Duration,
    /// Before the last follow-up of every 12th: longer than `idle_ttl` +
    /// `reap_every` (the agent is reaped; the session is loaded anew).
    long_pause: Duration,
    sample_every: Duration,
    /// A message not answered within this counts as lost.
    answer_deadline: Duration,
    quiet_deadline: Duration,
}

impl Plan {
    fn new(options: &Options) -> Plan {
        if options.smoke {
            return Plan {
                conversations: options.conversations.unwrap_or(20),
                in_flight: 8,
                start_every: Duration::from_millis(20),
                actor_idle: Duration::from_millis(200),
                thread_window: Duration::from_secs(2),
                idle_ttl: Duration::from_millis(600),
                reap_every: Duration::from_millis(200),
                short_pause: Duration::from_millis(400),
                long_pause: Duration::from_millis(1200),
                sample_every: Duration::from_millis(250),
                answer_deadline: Duration::from_secs(60),
                quiet_deadline: Duration::from_secs(30),
            };
        }
        Plan {
            conversations: options.conversations.unwrap_or(3000),
            in_flight: 32,
            // 3,000 conversations in about 3 minutes.
            start_every: Duration::from_millis(60),
            actor_idle: Duration::from_secs(1),
            // The default is 1 h (forgotten after 2 h); at about 0.8 KB a
            // thread, a run of 10,000 threads in 10 minutes otherwise
            // ends with all of them still watched.
            thread_window: Duration::from_secs(20),
            idle_ttl: Duration::from_secs(4),
            reap_every: Duration::from_secs(1),
            short_pause: Duration::from_millis(2500),
            long_pause: Duration::from_secs(6),
            sample_every: Duration::from_secs(5),
            answer_deadline: Duration::from_secs(60),
            quiet_deadline: Duration::from_secs(60),
        }
    }

    fn setup(&self) -> Setup {
        let ms = |d: Duration| d.as_millis().to_string();
        Setup {
            max_sessions: 64,
            agent: format!("idle_ttl = \"{}ms\"", self.idle_ttl.as_millis()),
            env: vec![
                ("SWITCHBOARD_DISCORD_GLOBAL_LIMIT".into(), "off".into()),
                (
                    "SWITCHBOARD_THREAD_ACTOR_IDLE_MS".into(),
                    ms(self.actor_idle),
                ),
                ("SWITCHBOARD_POOL_REAP_EVERY_MS".into(), ms(self.reap_every)),
                // The admin API's address is read from this line.
                ("RUST_LOG".into(), "warn,switchboard::app=info".into()),
            ],
            // An experiment's knob: another `canary.thread_window` (e.g.
            // "1h", the default) to see what the delivery check's
            // per-thread state adds to the end RSS.
            canary: format!(
                "thread_window = {:?}",
                std::env::var(CANARY_WINDOW_VAR)
                    .unwrap_or_else(|_| format!("{}ms", self.thread_window.as_millis()))
            ),
            ..Setup::default()
        }
    }
}

/// `canary.thread_window` for the run (e.g. "1h"); the plan's when unset.
const CANARY_WINDOW_VAR: &str = "SWITCHBOARD_SOAK_CANARY_WINDOW";

/// The text of message `m` of conversation `c`; no text is a prefix of
/// another, so a post carrying it is the answer to that message alone.
fn text(c: usize, m: usize) -> String {
    format!("soak c{c:06} m{m}")
}

/// One conversation under way.
struct Conversation {
    index: usize,
    /// The thread (the mention's id).
    thread: u64,
    /// Follow-ups still to post.
    left: usize,
    /// The message awaiting its answer: (channel, id, posted at).
    awaiting: Option<(u64, u64, Instant)>,
    /// Post the next follow-up at this instant.
    next_at: Option<Instant>,
}

/// What the run saw.
#[derive(Default)]
struct Outcome {
    threads: Vec<(usize, u64, usize)>,
    latencies_ms: Vec<f64>,
    errors: usize,
    lost: usize,
    /// Each with the conversations started by then.
    samples: Vec<(usize, Sample)>,
    wall: Duration,
}

async fn converse(b: &Broker, probe: &Probe, plan: &Plan) -> Outcome {
    let mut out = Outcome::default();
    let started = Instant::now();
    let mut live: Vec<Conversation> = Vec::new();
    let mut next_start = started;
    let mut next_sample = started + plan.sample_every;
    let mut started_count = 0;
    while started_count < plan.conversations || !live.is_empty() {
        let changed = b.sim.changed();
        let now = Instant::now();
        if live.len() >= plan.in_flight {
            // At the cap the schedule accrues no debt (no burst after it).
            next_start = next_start.max(now);
        }
        while started_count < plan.conversations && live.len() < plan.in_flight && now >= next_start
        {
            let c = started_count;
            let id = b
                .sim
                .inject_message(b.channel, &b.user, &b.mention(&text(c, 0)));
            let followups = 1 + c % 3;
            out.threads.push((c, id, followups + 1));
            live.push(Conversation {
                index: c,
                thread: id,
                left: followups,
                awaiting: Some((b.channel, id, now)),
                next_at: None,
            });
            started_count += 1;
            next_start += plan.start_every;
        }
        for conv in live.iter_mut() {
            if let Some((channel, id, posted)) = conv.awaiting {
                match answered(b, channel, id) {
                    Some(true) => {
                        out.latencies_ms.push((now - posted).as_secs_f64() * 1000.0);
                        conv.awaiting = None;
                        if conv.left > 0 {
                            let pause = match conv.index {
                                i if conv.left == 1 && i % 12 == 0 => plan.long_pause,
                                i if conv.left == 1 && i % 4 == 0 => plan.short_pause,
                                _ => Duration::ZERO,
                            };
                            conv.next_at = Some(now + pause);
                        }
                    }
                    Some(false) => {
                        out.errors += 1;
                        conv.awaiting = None;
                        conv.left = 0;
                    }
                    None if now - posted > plan.answer_deadline => {
                        out.lost += 1;
                        conv.awaiting = None;
                        conv.left = 0;
                    }
                    None => {}
                }
            }
            if conv.next_at.is_some_and(|at| now >= at) {
                conv.next_at = None;
                conv.left -= 1;
                let m = out.threads[conv.index].2 - 1 - conv.left;
                let id = b
                    .sim
                    .inject_message(conv.thread, &b.user, &text(conv.index, m));
                conv.awaiting = Some((conv.thread, id, Instant::now()));
            }
        }
        live.retain(|c| c.awaiting.is_some() || c.next_at.is_some());
        if now >= next_sample {
            out.samples.push((started_count, probe.sample(b).await));
            next_sample += plan.sample_every;
        }
        // Wake on a simulator change, a due follow-up or start, or a
        // sample, whichever comes first; look at most once per millisecond.
        let mut wake = next_sample.min(now + Duration::from_millis(100));
        if started_count < plan.conversations && live.len() < plan.in_flight {
            wake = wake.min(next_start);
        }
        if let Some(at) = live.iter().filter_map(|c| c.next_at).min() {
            wake = wake.min(at);
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        let _ = tokio::time::timeout_at(wake, changed).await;
    }
    out.wall = started.elapsed();
    out
}

/// Messages answered by exactly one bot post carrying their text.
fn answered_once(b: &Broker, threads: &[(usize, u64, usize)]) -> (usize, usize) {
    let bot = b.sim.bot_user().id;
    let (mut once, mut total) = (0, 0);
    for (c, thread, messages) in threads {
        let posts: Vec<String> = b
            .sim
            .messages(*thread)
            .into_iter()
            .filter(|m| m.author.id == bot)
            .map(|m| m.content)
            .collect();
        for m in 0..*messages {
            total += 1;
            let t = text(*c, m);
            if posts.iter().filter(|p| p.contains(&t)).count() == 1 {
                once += 1;
            }
        }
    }
    (once, total)
}

/// Wait until nothing is alive any more: no live session, no agent, no
/// backlog. The end sample and how long the quiet took, or `None` at the
/// deadline (with the last sample).
async fn quiet(b: &Broker, probe: &Probe, deadline: Duration) -> (Sample, Option<Duration>) {
    let started = Instant::now();
    loop {
        let s = probe.sample(b).await;
        if s.sessions == 0 && s.agents == 0 && s.backlog == 0 {
            return (s, Some(started.elapsed()));
        }
        if started.elapsed() >= deadline {
            return (s, None);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// RSS growth (MB) per 1,000 conversations from the middle sample to the
/// last: near 0 once allocator pools are warm, unless something per
/// conversation is kept.
fn growth_per_1000(samples: &[(usize, Sample)]) -> Option<f64> {
    let (c0, s0) = samples.get(samples.len() / 2)?;
    let (c1, s1) = samples.last()?;
    (c1 > c0).then(|| (mb(s1.rss_kib) - mb(s0.rss_kib)) * 1000.0 / (c1 - c0) as f64)
}

fn mb(kib: u64) -> f64 {
    kib as f64 * 1024.0 / 1e6
}

/// Baseline, during (summary), end with its budget: three rows.
fn figure(
    name: &str,
    unit: &'static str,
    base: f64,
    during: Vec<f64>,
    end: f64,
    allowed: f64,
    budget: String,
) -> Vec<Row> {
    vec![
        Row::new(
            format!("7. soak: {name} at baseline (after READY)"),
            unit,
            Summary::single(base),
        ),
        Row::new(
            format!("7.  {name} during the run (max = peak)"),
            unit,
            Summary::of(&during).unwrap_or_else(|| Summary::single(base)),
        ),
        Row::new(
            format!("7.  {name} at the end, after the quiet period"),
            unit,
            Summary::single(end),
        )
        .budget(budget, end <= base + allowed),
    ]
}

pub async fn run(options: &Options) -> Vec<Row> {
    let plan = Plan::new(options);
    let b = Broker::start(plan.setup()).await;
    let probe = Probe::new(&b).await;
    let base = probe.sample(&b).await;
    let base_fds = procfs::fd_kinds(b.pid);
    let sim_port = b.sim.addr().port();
    let base_links = procfs::connections_to_port(b.pid, sim_port);
    let out = converse(&b, &probe, &plan).await;
    let (at_quiet, quiet_took) = quiet(&b, &probe, plan.quiet_deadline).await;
    let rss_at_quiet = at_quiet.rss_kib;
    // The reaper hands freed memory back right after it closed the last
    // sessions; one more reaper period makes sure the end sample is taken
    // after that, not in between.
    tokio::time::sleep(plan.reap_every).await;
    let end = if quiet_took.is_some() {
        probe.sample(&b).await
    } else {
        at_quiet
    };
    println!(
        "soak: RSS {:.1} MB when quiet, {:.1} MB one reaper period later",
        mb(rss_at_quiet),
        mb(end.rss_kib)
    );
    let end_fds = procfs::fd_kinds(b.pid);
    let end_links = procfs::connections_to_port(b.pid, sim_port);
    let (once, messages) = answered_once(&b, &out.threads);
    let log_warnings = b.log().lines().filter(|l| l.contains(" WARN ")).count();
    b.stop().await;
    println!(
        "soak: {} conversations, {messages} messages in {:.1} s; {once} answered exactly once, \
         {} error reactions, {} lost; quiet after {}; {log_warnings} WARN lines in the broker's log",
        out.threads.len(),
        out.wall.as_secs_f64(),
        out.errors,
        out.lost,
        quiet_took.map_or("never (deadline)".to_owned(), |d| format!(
            "{:.1} s",
            d.as_secs_f64()
        )),
    );
    println!(
        "soak: baseline RSS {:.1} MB, tasks {}, fds {}; end RSS {:.1} MB, tasks {}, fds {}, agents {}",
        mb(base.rss_kib),
        base.tasks,
        base.fds,
        mb(end.rss_kib),
        end.tasks,
        end.fds,
        end.agents
    );
    println!("soak: fds at baseline {base_fds:?}; at the end {end_fds:?}");
    let series: Vec<String> = out
        .samples
        .iter()
        .map(|(c, s)| format!("{c}:{:.1}", mb(s.rss_kib)))
        .collect();
    println!(
        "soak: RSS (MB) by conversations started: {}",
        series.join(" ")
    );
    let during =
        |f: fn(&Sample) -> f64| out.samples.iter().map(|(_, s)| f(s)).collect::<Vec<f64>>();
    let base_rss = mb(base.rss_kib);
    let rss_allowed = f64::max(10.0, base_rss * 0.25);
    let mut rows = vec![
        Row::new(
            format!(
                "7. soak: {} conversations ({messages} messages) answered, each exactly once",
                out.threads.len()
            ),
            "count",
            Summary::single(once as f64),
        )
        .budget(format!("all {messages}"), once == messages),
        Row::new(
            "7.  soak: run length (quiet period not included)",
            "s",
            Summary::single(out.wall.as_secs_f64()),
        ),
        Row::new(
            "7.  soak: per message: posted -> answered",
            "ms",
            Summary::of(&out.latencies_ms).unwrap_or_else(|| Summary::single(f64::NAN)),
        ),
    ];
    rows.extend(figure(
        "broker RSS",
        "MB",
        base_rss,
        during(|s| mb(s.rss_kib)),
        mb(end.rss_kib),
        rss_allowed,
        format!("<= {base_rss:.1} + {rss_allowed:.1}"),
    ));
    if let Some(growth) = growth_per_1000(&out.samples) {
        rows.push(Row::new(
            "7.  broker RSS growth per 1,000 conversations, second half of the run",
            "MB",
            Summary::single(growth),
        ));
    }
    // Each kept-alive connection has one task driving it (hyper's), so
    // the pool's extra connections at the end allow as many extra tasks.
    let extra_links = end_links.saturating_sub(base_links);
    rows.extend(figure(
        "alive tokio tasks",
        "count",
        base.tasks as f64,
        during(|s| s.tasks as f64),
        end.tasks as f64,
        (5 + extra_links) as f64,
        format!("<= {} + 5 + {extra_links} idle connections", base.tasks),
    ));
    // The REST client keeps up to IDLE_CONNECTIONS_PER_HOST idle
    // connections to the platform for a while after a burst: a bounded
    // pool, not a leak. Every other fd must be back near the baseline.
    let idle_bound = switchboard::chat::http_client::IDLE_CONNECTIONS_PER_HOST;
    let (base_other, end_other) = (base.fds - base_links, end.fds.saturating_sub(end_links));
    rows.extend(figure(
        "open fds (at baseline and end: connections to the platform left out)",
        "count",
        base_other as f64,
        during(|s| s.fds as f64),
        end_other as f64,
        2.0,
        format!("<= {base_other} + 2"),
    ));
    rows.push(
        Row::new(
            "7.  connections to the platform at the end (gateway + idle REST)",
            "count",
            Summary::single(end_links as f64),
        )
        .budget(
            format!("<= {base_links} + {idle_bound}"),
            end_links <= base_links + idle_bound,
        ),
    );
    rows.push(Row::new(
        "7.  agent processes during the run",
        "count",
        Summary::of(&during(|s| s.agents as f64)).unwrap_or_else(|| Summary::single(0.0)),
    ));
    rows.push(
        Row::new(
            "7.  agent processes left at the end",
            "count",
            Summary::single(end.agents as f64),
        )
        .budget("0", end.agents == 0),
    );
    let quiet_s = quiet_took.unwrap_or(plan.quiet_deadline).as_secs_f64();
    rows.push(
        Row::new(
            "7.  quiet: last answer -> 0 sessions, 0 agents, 0 backlog",
            "s",
            Summary::single(quiet_s),
        )
        .budget(
            format!("< {:.0} s", plan.quiet_deadline.as_secs_f64()),
            quiet_took.is_some(),
        ),
    );
    rows
}
