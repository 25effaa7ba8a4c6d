//! The probe against a real in-process slack-sim on 127.0.0.1.

use std::time::Instant;

use slack_sim::{Fault, SlackSim, SlackSimConfig};

use super::*;
use crate::config::Secret;

async fn sim() -> (SlackSim, SlackProbe, SlackWeb) {
    let sim = SlackSim::start(SlackSimConfig::default()).await.unwrap();
    let web = SlackWeb::new(
        &sim.api_url(),
        Secret::new(sim.bot_token()),
        Secret::new(sim.app_token()),
    );
    (sim, SlackProbe::new(web.clone()), web)
}

fn calls(sim: &SlackSim, method: &str) -> usize {
    sim.web_calls()
        .iter()
        .filter(|c| c.method == method)
        .count()
}

#[tokio::test]
async fn a_channels_newest_is_its_newest_top_level_message() {
    let (sim, probe, _) = sim().await;
    let channel = sim.channel_ids()[0].clone();
    assert_eq!(probe.latest(&channel).await.unwrap(), Probed::Latest(None));
    let first = sim.post_user_message(&channel, "U0ALICE", "one", None);
    let second = sim.post_user_message(&channel, "U0ALICE", "two", None);
    // A reply in a thread is not the channel's newest top-level message.
    sim.post_user_message(&channel, "U0ALICE", "in the thread", Some(&first));
    assert_eq!(
        probe.latest(&channel).await.unwrap(),
        Probed::Latest(Some(format!("{channel}:{second}")))
    );
    let asked = &sim.web_calls()[0];
    assert_eq!(asked.method, "conversations.history");
    assert_eq!(asked.params["limit"], "1", "{:?}", asked.params);
}

#[tokio::test]
async fn a_threads_newest_is_its_latest_reply_or_else_its_root() {
    let (sim, probe, _) = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let root = sim.post_user_message(&channel, "U0ALICE", "root", None);
    let key = ids::message_id(&channel, &root);
    assert_eq!(
        probe.latest(&key).await.unwrap(),
        Probed::Latest(Some(key.clone())),
        "no reply yet: the root is the newest"
    );
    sim.post_user_message(&channel, "U0ALICE", "first reply", Some(&root));
    let last = sim.post_user_message(&channel, "U0ALICE", "second reply", Some(&root));
    assert_eq!(
        probe.latest(&key).await.unwrap(),
        Probed::Latest(Some(format!("{channel}:{last}")))
    );
    assert_eq!(calls(&sim, "conversations.replies"), 2);
    assert!(
        sim.web_calls()
            .iter()
            .all(|c| c.params["limit"] == "1" && c.params["ts"] == root.as_str()),
        "one message asked for, of the root's thread"
    );
}

#[tokio::test]
async fn a_429_skips_the_probe_holds_the_method_and_the_hold_is_respected() {
    let (sim, probe, web) = sim().await;
    let channel = sim.channel_ids()[0].clone();
    sim.post_user_message(&channel, "U0ALICE", "hello", None);
    sim.fail_web(
        "conversations.history",
        Fault::RateLimited {
            retry_after_secs: 1,
        },
        1,
    );
    let started = Instant::now();
    assert_eq!(probe.latest(&channel).await.unwrap(), Probed::Skipped);
    assert_eq!(calls(&sim, "conversations.history"), 1);
    // Held: skipped without a call, and at once.
    assert_eq!(probe.latest(&channel).await.unwrap(), Probed::Skipped);
    assert_eq!(
        calls(&sim, "conversations.history"),
        1,
        "no call while held"
    );
    assert!(started.elapsed() < std::time::Duration::from_millis(500));
    // Another method is not held.
    let root = sim.post_user_message(&channel, "U0ALICE", "root", None);
    let key = ids::message_id(&channel, &root);
    assert!(matches!(
        probe.latest(&key).await.unwrap(),
        Probed::Latest(Some(_))
    ));
    // A normal call of the held method waits the hold out, then succeeds
    // with one call.
    let budget = crate::chat::HistoryBudget {
        max_pages: 1,
        deadline: tokio::time::Instant::now() + std::time::Duration::from_secs(5),
    };
    web.history(&channel, "", budget).await.unwrap();
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(950),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(calls(&sim, "conversations.history"), 2);
    // The hold is over: the probe asks again.
    assert!(matches!(
        probe.latest(&channel).await.unwrap(),
        Probed::Latest(Some(_))
    ));
}

#[tokio::test]
async fn a_ts_reads_back_as_its_time_and_before_sorts_first() {
    let (sim, probe, _) = sim().await;
    let channel = sim.channel_ids()[0].clone();
    let before_post = SystemTime::now();
    let ts = sim.post_user_message(&channel, "U0ALICE", "when?", None);
    let id = ids::message_id(&channel, &ts);
    let posted = probe.posted_at(&id).unwrap();
    let off = posted
        .duration_since(before_post)
        .unwrap_or_else(|e| e.duration());
    assert!(
        off < Duration::from_millis(100),
        "posted_at is the post's time: {off:?}"
    );

    let at = UNIX_EPOCH + Duration::from_micros(1_700_000_000_000_100);
    assert_eq!(ts_time("1700000000.000100"), Some(at));
    assert_eq!(probe.id_before("C1", at), "C1:1700000000.000099");
    assert_eq!(
        probe.id_before("C1:1699999999.000001", at),
        "C1:1700000000.000099",
        "a thread key's id is in its channel"
    );
    assert_eq!(ts_before(UNIX_EPOCH + Duration::from_secs(5)), "4.999999");
    assert_eq!(probe.posted_at("not an id"), None);
}
