//! A person in the simulated Slack talking to the bot: the `[slack]`
//! section pointing switchboard at an in-process slack-sim (tokens by
//! environment variable), mentions and thread replies, waiting for the bot's
//! "done" reaction, the bot's messages in a thread, envelope/ack checks, and
//! undoing the mrkdwn conversion to compare replies with the agent's text,
//! and messages from other bots (raw events the sim does not store).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use slack_sim::{SlackMessage, SlackSim, SlackSimConfig, SlackUser};
use tokio::time::Instant;

use super::chat::TURN;
use super::{Harness, Options, Platforms};

/// The bot's reaction to a message it refuses (the default
/// `reactions.denied`).
pub const DENIED: &str = "no_entry_sign";
/// The bot's reaction to a message queued behind a running turn (the
/// default `reactions.queued`).
pub const QUEUED: &str = "hourglass_flowing_sand";

/// The log line of a Socket Mode connection that received `hello`.
pub const LIVE: &str = "Socket Mode connection live (hello)";
/// The bot's "done" reaction on Slack (the default `reactions.done`).
pub const DONE: &str = "white_check_mark";

/// Socket Mode liveness for tests: a ping every second, a zombie after one
/// more second without its pong; reconnects after 50-200 ms.
pub const FAST_LIVENESS: &str = "probe_after = \"1s\"\nack_deadline = \"1s\"\nhandshake_timeout = \"5s\"\n\
     backoff_initial = \"50ms\"\nbackoff_max = \"200ms\"";
pub const PING_INTERVAL: Duration = Duration::from_secs(1);
pub const PING_DEADLINE: Duration = Duration::from_secs(1);

/// The `[slack]` section for `sim`, with `extra` lines. The tokens are
/// named, never written: the harness passes them by environment.
pub fn config_section(sim: &SlackSim, extra: &str) -> String {
    format!(
        "[slack]\nbot_token = \"${{SLACK_BOT_TOKEN}}\"\napp_token = \"${{SLACK_APP_TOKEN}}\"\n\
         allowed_channels = [\"{}\"]\napi_url = \"{}\"\n{extra}\n\n",
        sim.channel_ids()[0],
        sim.api_url(),
    )
}

/// Options for a Slack-only switchboard with fast Socket Mode liveness.
pub fn options() -> Options {
    Options {
        platforms: Platforms::Slack,
        supervisor: FAST_LIVENESS,
        ..Options::default()
    }
}

/// How many Socket Mode connections `options` asks for.
pub fn connections_of(options: &Options) -> usize {
    options
        .slack
        .lines()
        .find_map(|l| l.trim().strip_prefix("connections"))
        .and_then(|rest| rest.trim().strip_prefix('='))
        .map(|n| n.trim().parse().expect("connections = N"))
        .unwrap_or(2)
}

/// Wait until `n` Socket Mode connections (in total, since start) said
/// hello.
pub async fn wait_live(h: &Harness, n: usize, timeout: Duration) {
    h.logs
        .wait_count(timeout, n, |v| v["message"] == LIVE)
        .await;
}

/// Another instance of the bot on the same config (several instances on
/// one store), once its `connections` Socket Mode connections are live.
pub async fn spawn_live_peer(h: &Harness, connections: usize) -> super::Peer {
    let peer = h.spawn_peer().await;
    peer.logs
        .wait_count(Duration::from_secs(10), connections, |v| {
            v["message"] == LIVE
        })
        .await;
    peer
}

/// The action ids of a message's buttons, in order.
pub fn button_ids(message: &SlackMessage) -> Vec<String> {
    message
        .blocks
        .iter()
        .filter(|b| b["type"] == "actions")
        .flat_map(|b| b["elements"].as_array().cloned().unwrap_or_default())
        .map(|e| e["action_id"].as_str().unwrap_or("").to_owned())
        .collect()
}

pub struct SlackChat {
    pub h: Harness,
    pub channel: String,
    pub alice: SlackUser,
    /// `<@BOT>`.
    pub mention: String,
}

impl SlackChat {
    /// Start switchboard with Slack (and Discord too if `options` says
    /// so); wait until every Socket Mode connection is live.
    pub async fn start(options: Options) -> SlackChat {
        assert!(options.platforms.slack(), "SlackChat needs [slack]");
        let connections = connections_of(&options);
        let h = Harness::start(options).await;
        Self::with_harness(h, connections).await
    }

    /// Wrap a started harness; wait for `connections` live connections.
    pub async fn with_harness(h: Harness, connections: usize) -> SlackChat {
        wait_live(&h, connections, Duration::from_secs(10)).await;
        let sim = h.slack();
        let channel = sim.channel_ids()[0].clone();
        let alice = sim.user("U0ALICE", "alice");
        let mention = format!("<@{}>", sim.bot_user_id());
        SlackChat {
            h,
            channel,
            alice,
            mention,
        }
    }

    pub fn sim(&self) -> &SlackSim {
        self.h.slack()
    }

    /// Mention the bot in the channel; returns the message's ts (= the
    /// thread's).
    pub fn ask(&self, text: &str) -> String {
        self.sim().post_user_message(
            &self.channel,
            &self.alice.id,
            &format!("{} {text}", self.mention),
            None,
        )
    }

    /// Post in the thread of `thread_ts` without a mention.
    pub fn say(&self, thread_ts: &str, text: &str) -> String {
        self.sim()
            .post_user_message(&self.channel, &self.alice.id, text, Some(thread_ts))
    }

    /// Wait until the bot marked the message `ts` done.
    pub async fn done(&self, ts: &str) {
        wait_reaction(self.sim(), &self.channel, ts, DONE, TURN).await;
    }

    /// The bot's messages in the thread of `thread_ts`, oldest first.
    pub fn replies(&self, thread_ts: &str) -> Vec<SlackMessage> {
        bot_messages(self.sim(), &self.channel, thread_ts)
    }

    pub fn reply_texts(&self, thread_ts: &str) -> Vec<String> {
        self.replies(thread_ts)
            .into_iter()
            .map(|m| m.text)
            .collect()
    }

    /// How many answers to `prompt` (demo agent headers) the thread has.
    pub fn answers_to(&self, thread_ts: &str, prompt: &str) -> usize {
        answer_count(&self.reply_texts(thread_ts).join("\n"), prompt)
    }

    /// The broker's id of the message `ts` in the test channel.
    pub fn id(&self, ts: &str) -> String {
        format!("{}:{ts}", self.channel)
    }

    /// Wait until the broker decided the message `ts` (of the test channel)
    /// is not for the bot, for `reason` (its "not for the bot" debug line).
    pub async fn ignored(&self, ts: &str, reason: &str) {
        wait_ignored(&self.h, &self.id(ts), reason).await;
    }

    /// Another bot (not switchboard) posts `text` in the test channel, in
    /// the thread of `thread_ts` if given: a raw `message` event (the sim
    /// does not store it). Returns its ts.
    pub fn other_bot_says(&self, text: &str, thread_ts: Option<&str>) -> String {
        let author = json!({
            "user": "U0OTHERBOT", "bot_id": "B0OTHERBOT", "app_id": "A0OTHER",
            "bot_profile": { "id": "B0OTHERBOT", "name": "otherbot", "app_id": "A0OTHER" },
        });
        self.raw_message(author, text, thread_ts)
    }

    /// switchboard's own bot user posts `text`: a raw `message` event, as
    /// Slack sends for every message the app posts (with the sim's default
    /// bot id). Returns its ts.
    pub fn own_post_event(&self, text: &str, thread_ts: Option<&str>) -> String {
        let sim = self.sim();
        let author = json!({
            "user": sim.bot_user_id(), "bot_id": SlackSimConfig::default().bot_id,
            "app_id": sim.app_id(),
        });
        self.raw_message(author, text, thread_ts)
    }

    /// A `message` event by `author` (its user/bot fields) with a ts the
    /// sim never hands out, delivered without being stored.
    fn raw_message(&self, mut author: Value, text: &str, thread_ts: Option<&str>) -> String {
        let ts = unseen_ts();
        let event = author.as_object_mut().expect("author fields");
        for (key, value) in [
            ("type", "message"),
            ("channel", self.channel.as_str()),
            ("channel_type", "channel"),
            ("text", text),
            ("ts", &ts),
            ("event_ts", &ts),
        ]
        .into_iter()
        .chain(thread_ts.map(|t| ("thread_ts", t)))
        {
            event.insert(key.to_owned(), json!(value));
        }
        self.sim().deliver_raw_event(author);
        ts
    }

    /// Wait until the bot tried to put `emoji` on the message `ts`, which
    /// the sim may not store (a raw event's): its `reactions.add` call.
    pub async fn reaction_tried(&self, ts: &str, emoji: &str) {
        let what = format!("reactions.add {emoji} on {ts}");
        slack_wait(self.sim(), TURN, &what, |s| {
            reaction_calls(s, &self.channel, ts)
                .iter()
                .any(|name| name == emoji)
                .then_some(())
        })
        .await;
    }
}

/// The emoji names of every `reactions.add` call on `channel`:`ts`, ok or
/// not.
pub fn reaction_calls(sim: &SlackSim, channel: &str, ts: &str) -> Vec<String> {
    sim.web_calls()
        .into_iter()
        .filter(|c| {
            c.method == "reactions.add"
                && c.params["channel"] == channel
                && c.params["timestamp"] == ts
        })
        .filter_map(|c| c.params["name"].as_str().map(str::to_owned))
        .collect()
}

/// Wait for the broker's "not for the bot" line on `message_id` and check
/// its reason; panics (with the log) when none comes within `TURN`.
pub async fn wait_ignored(h: &Harness, message_id: &str, reason: &str) {
    let decided = |v: &Value| v["message"] == "not for the bot" && v["message_id"] == message_id;
    let line = h.logs.wait_for(TURN, decided).await;
    assert_eq!(line["reason"], reason, "{message_id} ignored, but: {line}");
}

/// A message ts the sim does not hand out: the wall-clock time to the
/// microsecond (as the sim's and Slack's are, so it sorts with them by
/// when it was made), one microsecond past the last one made here; the
/// sim's own ts are taken at other instants.
pub fn unseen_ts() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_micros() as u64;
    let at = now.max(LAST.fetch_max(now, Ordering::SeqCst) + 1);
    LAST.fetch_max(at, Ordering::SeqCst);
    format!("{}.{:06}", at / 1_000_000, at % 1_000_000)
}

/// The bot's posts in the thread of `ts` (the parent excluded), oldest
/// first.
pub fn bot_messages(sim: &SlackSim, channel: &str, ts: &str) -> Vec<SlackMessage> {
    sim.thread(channel, ts)
        .into_iter()
        .filter(|m| m.bot_id.is_some() && m.ts != ts)
        .collect()
}

/// Demo agent answers to `prompt` in `replies`: lines "prompt: <prompt>"
/// after a "session <id> turn <n>:" header, and the lines of a batched
/// prompt ("prompt: <author>: <prompt>", "<author>: <prompt>").
pub fn answer_count(replies: &str, prompt: &str) -> usize {
    let mut count = 0;
    let mut previous = "";
    for line in replies.split('\n') {
        let after_header = previous.starts_with("session ") && previous.ends_with(':');
        let head = line
            .strip_suffix(prompt)
            .and_then(|head| head.strip_suffix(": "));
        let counted = match head {
            Some("prompt") => after_header,
            Some(head) => match head.strip_prefix("prompt: ") {
                Some(author) => after_header && !author.contains(' '),
                None => !head.is_empty() && !head.contains(' '),
            },
            None => false,
        };
        count += usize::from(counted);
        previous = line;
    }
    count
}

/// Wait until the bot put `emoji` on the message `ts`.
pub async fn wait_reaction(
    sim: &SlackSim,
    channel: &str,
    ts: &str,
    emoji: &str,
    timeout: Duration,
) {
    sim.wait_until(timeout, |s| {
        s.reactions(channel, ts)
            .iter()
            .any(|r| r == emoji)
            .then_some(())
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "no {emoji} on {channel}:{ts} within {timeout:?}; reactions {:?}; thread {:#?}",
            sim.reactions(channel, ts),
            sim.thread(channel, ts)
                .iter()
                .map(|m| (&m.ts, m.bot_id.is_some(), &m.text))
                .collect::<Vec<_>>()
        )
    });
}

/// Wait for a slack-sim condition or panic after `timeout`.
pub async fn slack_wait<T>(
    sim: &SlackSim,
    timeout: Duration,
    what: &str,
    f: impl FnMut(&SlackSim) -> Option<T>,
) -> T {
    sim.wait_until(timeout, f)
        .await
        .unwrap_or_else(|| panic!("timed out waiting for: {what}"))
}

/// Every envelope that reached a socket was acknowledged within `limit` of
/// that delivery (a redelivery needs its own ack). Waits (bounded) until
/// nothing awaits an ack first.
pub async fn assert_every_envelope_acked_within(sim: &SlackSim, limit: Duration) {
    sim.wait_until(Duration::from_secs(10), |s| {
        s.unacked().is_empty().then_some(())
    })
    .await
    .unwrap_or_else(|| panic!("envelopes never acked: {:?}", sim.unacked()));
    let acks = sim.acks();
    let deliveries = sim.deliveries();
    assert!(!deliveries.is_empty(), "no envelope was delivered at all");
    for d in deliveries.iter().filter(|d| !d.dropped) {
        let ack = acks
            .iter()
            .filter(|a| a.envelope_id == d.envelope_id && a.at >= d.at)
            .map(|a| a.at)
            .min()
            .unwrap_or_else(|| panic!("delivery never acked: {d:?}"));
        assert!(
            ack - d.at <= limit,
            "envelope {} ({:?}, retry {}) acked {:?} after delivery (limit {limit:?})",
            d.envelope_id,
            d.event_type,
            d.retry_attempt,
            ack - d.at
        );
    }
}

/// When the envelope `envelope_id` was first acked, if ever.
pub fn acked_at(sim: &SlackSim, envelope_id: &str) -> Option<Instant> {
    sim.acks()
        .iter()
        .filter(|a| a.envelope_id == envelope_id)
        .map(|a| a.at)
        .min()
}

/// Slack text back to what the agent wrote, for what mrkdwn changes in
/// plain text and code: `&amp; &lt; &gt;` entities, and the zero-width
/// spaces put between the backticks of a run inside a code block.
pub fn unescape_mrkdwn(text: &str) -> String {
    let mut text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    while text.contains("`\u{200B}`") {
        text = text.replace("`\u{200B}`", "``");
    }
    text
}

/// A fence line as Markdown reads it: optional spaces or tabs, then three
/// or more backticks: (the backtick count, what follows).
fn fence(line: &str) -> Option<(usize, &str)> {
    let trimmed = line.trim_start_matches([' ', '\t']);
    let ticks = trimmed.len() - trimmed.trim_start_matches('`').len();
    (ticks >= 3).then(|| (ticks, &trimmed[ticks..]))
}

/// `markdown` with the language tag of every code block's opening fence
/// dropped (mrkdwn has none): what a Slack reply of it reads like after
/// `unescape_mrkdwn`. Code blocks are found as `fences_balanced` finds
/// them; a fence-like line inside a block is content and stays.
pub fn without_fence_languages(markdown: &str) -> String {
    let mut open: Option<usize> = None;
    markdown
        .split('\n')
        .map(|line| match (open, fence(line)) {
            (None, Some((ticks, info))) if !info.contains('`') => {
                open = Some(ticks);
                &line[..line.len() - info.len()]
            }
            (Some(n), Some((ticks, rest))) if ticks >= n && rest.trim().is_empty() => {
                open = None;
                line
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Slack shows code exactly where the (converted) Markdown has code
/// blocks. Markdown finds blocks by fence lines; Slack starts or ends a
/// block at any run of three backticks, mid-line too (a run broken by
/// zero-width spaces is plain text). A stray mid-line "```" outside a block
/// would make Slack show text as code and code as text.
pub fn assert_slack_shows_the_code_blocks(mrkdwn: &str) {
    let trim = |block: &str| block.trim_matches('\n').to_owned();
    let shown: Vec<String> = mrkdwn.split("```").skip(1).step_by(2).map(trim).collect();
    let mut fenced = Vec::new();
    let mut open: Option<(usize, Vec<&str>)> = None;
    for line in mrkdwn.split('\n') {
        match (&mut open, fence(line)) {
            (None, Some((ticks, info))) if !info.contains('`') => open = Some((ticks, Vec::new())),
            (Some((n, body)), Some((ticks, rest))) if ticks >= *n && rest.trim().is_empty() => {
                fenced.push(trim(&body.join("\n")));
                open = None;
            }
            (Some((_, body)), _) => body.push(line),
            (None, _) => {}
        }
    }
    if let Some((_, body)) = open {
        fenced.push(trim(&body.join("\n")));
    }
    assert_eq!(
        shown, fenced,
        "Slack would show other code blocks than the message's fences in {mrkdwn:?}"
    );
}
