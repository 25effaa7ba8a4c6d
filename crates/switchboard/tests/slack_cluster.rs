//! Slack on several instances of one bot (issue 14, points 4 and 5; ADR
//! 22), as real processes: one slack-sim spreading envelopes over every
//! open Socket Mode connection, one PostgreSQL database, three `switchboard
//! run` processes on the same config, each with its connections. Each
//! thread is answered by the one instance holding its lease, whichever
//! instance heard the message: every message is answered exactly once, in
//! order, and when an owner is killed its threads are taken up by the
//! others within the lease ttl.

mod support;

use std::time::Duration;

use support::cluster::{HANDED_OVER, INPUT_LEFT, TAKEN_UP, TTL, several, thread_holders};
use support::postgres::TestDatabase;
use support::slack::{self, SlackChat};
use support::{Options, Peer};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn options(url: &str) -> Options {
    several(
        url,
        Options {
            slack: "allow_all_users = true\nconnections = 2",
            ..slack::options()
        },
    )
}

/// The bot on three instances, each with its two connections live.
async fn three_instances(options: Options) -> (SlackChat, Vec<Peer>) {
    let chat = SlackChat::start(options).await;
    let mut peers = Vec::new();
    for _ in 0..2 {
        peers.push(slack::spawn_live_peer(&chat.h, 2).await);
    }
    (chat, peers)
}

/// Each answer's position in the thread's replies, in the order of
/// `prompts`: strictly growing when answered in order.
fn answer_positions(chat: &SlackChat, thread: &str, prompts: &[String]) -> Vec<usize> {
    let replies = chat.reply_texts(thread);
    prompts
        .iter()
        .map(|prompt| {
            replies
                .iter()
                .position(|r| slack::answer_count(r, prompt) > 0)
                .unwrap_or_else(|| panic!("no answer to {prompt:?} in {replies:#?}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_answered_once_in_order_by_its_threads_owner_whichever_instance_hears_it()
{
    let db = TestDatabase::create().await;
    // The default ttl: an instance whose heartbeat a loaded database
    // delays stays a candidate for new threads.
    let (chat, peers) = three_instances(Options {
        cluster: "lease_ttl = \"10s\"",
        ..options(&db.url)
    })
    .await;
    // Nine new threads over three idle instances, each placed at random
    // among the least loaded: all on one would happen once in 6,561 runs.
    let threads: Vec<String> = (0..9).map(|n| chat.ask(&format!("thread {n}"))).collect();
    for thread in &threads {
        chat.done(thread).await;
    }
    // Follow-ups without a mention, two per thread, each reaching
    // whichever connection the sim picks.
    let mut asked: Vec<(String, Vec<String>)> = Vec::new();
    for (n, thread) in threads.iter().enumerate() {
        let prompts = vec![format!("follow-up {n}a"), format!("follow-up {n}b")];
        for prompt in &prompts {
            let ts = chat.say(thread, prompt);
            chat.done(&ts).await;
        }
        asked.push((thread.clone(), prompts));
    }
    for (n, (thread, prompts)) in asked.iter().enumerate() {
        assert_eq!(chat.answers_to(thread, &format!("thread {n}")), 1);
        for prompt in prompts {
            assert_eq!(chat.answers_to(thread, prompt), 1, "{prompt}");
        }
        let positions = answer_positions(&chat, thread, prompts);
        assert!(
            positions[0] < positions[1],
            "order in {thread}: {positions:?}"
        );
    }
    // The threads were spread over the instances, and messages heard by
    // an instance that did not own their thread were handed over.
    let holders = thread_holders(&db, "slack").await;
    let distinct: std::collections::BTreeSet<&str> =
        holders.iter().map(|(_, h)| h.as_str()).collect();
    if distinct.len() < 2 {
        let mut conn = db.connect().await;
        let instances: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT id, heartbeat_at, live_sessions FROM instances")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        panic!("one instance held every thread: {holders:?}; instances: {instances:?}");
    }
    let handed = chat.h.logs.count_message(HANDED_OVER)
        + peers
            .iter()
            .map(|p| p.logs.count_message(HANDED_OVER))
            .sum::<usize>();
    assert!(handed > 0, "no message was heard by a non-owner");
    for peer in peers {
        peer.stop(5 * SECOND).await;
    }
    chat.h.stop().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_owners_thread_is_taken_up_by_another_instance_and_answered_once() {
    let db = TestDatabase::create().await;
    let (mut chat, mut peers) = three_instances(options(&db.url)).await;
    let thread = chat.ask("[[slow:300]][[long:900]]");
    // Streaming: the owner holds the thread's lease.
    let channel = chat.channel.clone();
    slack::slack_wait(chat.sim(), support::chat::TURN, "part of the answer", |s| {
        slack::bot_messages(s, &channel, &thread)
            .iter()
            .any(|m| m.edits.len() >= 2)
            .then_some(())
    })
    .await;
    let lease = format!("thread:slack:{}", chat.id(&thread));
    let owner = thread_holders(&db, "slack")
        .await
        .into_iter()
        .find(|(name, _)| *name == lease)
        .map(|(_, holder)| holder)
        .expect("the thread has an owner");
    let (_, status) = chat.h.get_json("/status").await;
    let killed = Instant::now();
    let harness_killed = status["cluster"]["instance"] == owner.as_str();
    if harness_killed {
        chat.h.kill9().await;
    } else {
        let mut which = None;
        for (i, peer) in peers.iter().enumerate() {
            let (_, status) = peer.get_json("/status").await;
            if status["cluster"]["instance"] == owner.as_str() {
                which = Some(i);
            }
        }
        let i = which.expect("the owner is one of the three");
        peers.remove(i).kill9().await;
    }
    // A follow-up while the owner is dead: heard by a survivor, answered
    // once the thread is taken up.
    let follow_up = chat.say(&thread, "posted while the owner is dead");
    // Taken up within the ttl (the dead owner's lease expires) and the
    // survivors' poll.
    let deadline = killed + TTL + 5 * SECOND;
    loop {
        let survivors = peers.iter().map(|p| &p.logs);
        let harness = (!harness_killed).then_some(&chat.h.logs);
        if survivors
            .chain(harness)
            .any(|logs| logs.count_message(TAKEN_UP) > 0)
        {
            break;
        }
        assert!(Instant::now() < deadline, "no survivor took the thread up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = killed.elapsed();
    eprintln!("owner killed -> thread taken up in {took:?}");
    assert!(took < TTL + 2 * SECOND, "taken up after {took:?}");
    chat.done(&follow_up).await;
    eprintln!(
        "owner killed -> follow-up answered in {:?}",
        killed.elapsed()
    );
    chat.done(&thread).await;
    let texts = chat.reply_texts(&thread);
    let interrupted = texts
        .iter()
        .filter(|t| t.contains("answering again below"))
        .count();
    assert_eq!(interrupted, 1, "{texts:#?}");
    assert_eq!(
        chat.answers_to(&thread, "posted while the owner is dead"),
        1,
        "{texts:#?}"
    );
    let new_owner = thread_holders(&db, "slack")
        .await
        .into_iter()
        .find(|(name, _)| *name == lease)
        .map(|(_, holder)| holder)
        .unwrap();
    assert_ne!(new_owner, owner);
    for peer in peers {
        peer.stop(5 * SECOND).await;
    }
    if !harness_killed {
        chat.h.stop().await;
    }
    db.drop_it().await;
}

/// Every instance exits the moment its answer to a message with this
/// marker has posted, before the post's id is written (on a first try only).
const DIES_AFTER_POST: &[(&str, &str)] =
    &[("SWITCHBOARD_TEST_FAULT", "exit_after_post:DIE-AFTER-POST")];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_dying_between_a_post_and_its_record_has_that_post_continued_by_the_next_owner() {
    let db = TestDatabase::create().await;
    let (mut chat, mut peers) = three_instances(Options {
        env: DIES_AFTER_POST,
        ..options(&db.url)
    })
    .await;
    let prompt = "DIE-AFTER-POST [[slow:100]][[long:600]]";
    let thread = chat.ask(prompt);
    // Whichever instance owns the thread posts the answer's start and exits.
    let deadline = Instant::now() + support::chat::TURN;
    let (status, harness_died) = loop {
        if let Some(status) = chat.h.exited() {
            break (status, true);
        }
        if let Some(i) = peers.iter_mut().position(|p| p.exited().is_some()) {
            let status = peers.remove(i).exited().expect("exited");
            break (status, false);
        }
        assert!(Instant::now() < deadline, "no owner exited after its post");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(86), "the fault ended the owner");
    let first = chat.replies(&thread);
    assert_eq!(first.len(), 1, "the dead owner posted once");

    chat.done(&thread).await;
    let replies = chat.replies(&thread);
    let texts = chat.reply_texts(&thread);
    assert_eq!(chat.answers_to(&thread, prompt), 1, "{texts:#?}");
    let answers: Vec<_> = replies
        .iter()
        .filter(|r| slack::answer_count(&r.text, prompt) > 0)
        .collect();
    assert_eq!(answers.len(), 1, "{texts:#?}");
    assert_eq!(
        answers[0].ts, first[0].ts,
        "the dead owner's post was continued"
    );
    assert!(
        texts.iter().all(|t| !t.contains("answering again below")),
        "nothing was recorded to mark: {texts:#?}"
    );
    let follow_up = chat.say(&thread, "and after that?");
    chat.done(&follow_up).await;
    assert_eq!(chat.answers_to(&thread, "and after that?"), 1);
    for peer in peers {
        peer.stop(5 * SECOND).await;
    }
    if !harness_died {
        chat.h.stop().await;
    }
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_heard_by_an_instance_not_owning_the_thread_is_decided_by_its_owner() {
    let db = TestDatabase::create().await;
    let mut options = options(&db.url);
    options.agent = "permission_policy = \"ask\"";
    // Alone at first: this instance owns the thread.
    let chat = SlackChat::start(options).await;
    let sim = chat.sim();
    let thread = chat.ask("[[permission:edit]] add a usage section");
    let prompt = slack::slack_wait(sim, support::chat::TURN, "a prompt with buttons", |_| {
        chat.replies(&thread)
            .into_iter()
            .find(|m| m.blocks.iter().any(|b| b["type"] == "actions"))
    })
    .await;
    let allow = slack::button_ids(&prompt)
        .into_iter()
        .next()
        .expect("a button");
    // The owner's connections stop hearing clicks; a second instance's
    // (opened later) hear them.
    sim.mute_events(&["block_actions"]);
    let peer = slack::spawn_live_peer(&chat.h, 2).await;
    sim.click_button(&prompt.channel, &prompt.ts, &allow, &chat.alice.id)
        .unwrap();
    peer.logs.wait_message(10 * SECOND, INPUT_LEFT).await;
    chat.done(&thread).await;
    let replies = chat.reply_texts(&thread).join("\n");
    assert!(replies.contains("permission: allow_once"), "{replies}");
    let updated = chat
        .replies(&thread)
        .into_iter()
        .find(|m| m.ts == prompt.ts)
        .unwrap();
    assert!(
        !updated.blocks.iter().any(|b| b["type"] == "actions"),
        "the owner closed the prompt: {:?}",
        updated.blocks
    );
    assert!(
        sim.ephemerals().is_empty(),
        "nobody was told it is not open: {:?}",
        sim.ephemerals()
    );
    peer.stop(5 * SECOND).await;
    chat.h.stop().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slash_command_heard_by_an_instance_not_owning_the_thread_is_answered_by_its_owner() {
    let db = TestDatabase::create().await;
    // Alone at first: this instance owns the user's thread.
    let chat = SlackChat::start(options(&db.url)).await;
    let sim = chat.sim();
    let thread = chat.ask("hello");
    chat.done(&thread).await;
    // The owner's connections stop hearing commands; a second instance's
    // (opened later) hear them, and know the user's thread from the
    // shared journal only.
    sim.mute_events(&["slash_commands"]);
    let peer = slack::spawn_live_peer(&chat.h, 2).await;
    let channel = chat.channel.clone();
    sim.run_slash_command(&channel, &chat.alice.id, "/switchboard", "status")
        .unwrap();
    peer.logs.wait_message(10 * SECOND, INPUT_LEFT).await;
    let answer = slack::slack_wait(sim, 10 * SECOND, "the owner's status answer", |s| {
        s.response_url_uses().into_iter().find(|u| {
            u.body["text"]
                .as_str()
                .is_some_and(|t| t.contains("Session"))
        })
    })
    .await;
    assert_eq!(answer.effect.as_deref(), Some("ephemeral"), "{answer:?}");
    assert_eq!(
        sim.response_url_uses().len(),
        1,
        "answered once: {:?}",
        sim.response_url_uses()
    );
    peer.stop(5 * SECOND).await;
    chat.h.stop().await;
    db.drop_it().await;
}
