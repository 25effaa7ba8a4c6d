//! Discord on several instances of one bot (issue 14, point 5; ADR 22), as
//! real processes: one discord-sim, one PostgreSQL database, `switchboard
//! run` processes on the same config. The shard's holder hears every
//! event; each thread is answered by the instance holding its lease, which
//! need not be the holder: a message heard for another's thread is
//! journaled marked for its owner, a click or a command is deferred by the
//! holder and answered by the owner through the interaction's webhook, and
//! a dead owner's threads are taken up by the others within the lease ttl.

mod support;

use std::time::Duration;

use discord_sim::SimMessage;
use serde_json::json;
use support::chat::{Chat, TURN};
use support::cluster::{
    HANDED_OVER, INPUT_LEFT, TAKEN_UP, TTL, discord_thread_owner, holder, marked_interrupted,
    several, standby, thread_holders,
};
use support::postgres::TestDatabase;
use support::{Options, Peer, bot_messages, sim_wait};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

fn options(url: &str) -> Options {
    several(
        url,
        Options {
            discord: "allow_all_users = true",
            ..Options::default()
        },
    )
}

/// (instance id, live sessions) of every heartbeat row.
async fn instances(db: &TestDatabase) -> Vec<(String, i64)> {
    let mut conn = db.connect().await;
    sqlx::query_as("SELECT id, live_sessions FROM instances ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
}

/// An instance's id, from its /status.
async fn instance_id(status: serde_json::Value) -> String {
    status["cluster"]["instance"]
        .as_str()
        .expect("an instance of several")
        .to_owned()
}

/// The holder answers a first thread alone (one live agent session), then
/// a second instance starts: the next new thread goes to it, the least
/// loaded instance alive, while the holder keeps hearing everything.
async fn holder_and_idle_peer(db: &TestDatabase, options: Options) -> (Chat, Peer) {
    let chat = holder(options).await;
    let first = chat.ask("[[long:50]] first thread");
    chat.done(chat.channel, first).await;
    let holder_id = instance_id(chat.h.get_json("/status").await.1).await;
    let peer = standby(&chat).await;
    let peer_id = instance_id(peer.get_json("/status").await.1).await;
    // Both heartbeats say so before a thread is placed.
    let deadline = Instant::now() + 10 * SECOND;
    loop {
        let rows = instances(db).await;
        let busy = rows.iter().any(|(id, live)| *id == holder_id && *live >= 1);
        let idle = rows.iter().any(|(id, live)| *id == peer_id && *live == 0);
        if busy && idle {
            break;
        }
        assert!(Instant::now() < deadline, "heartbeats: {rows:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (chat, peer)
}

/// How many of the bot's messages in `thread` answer `prompt`.
fn answers_to(chat: &Chat, thread: u64, prompt: &str) -> usize {
    chat.reply_texts(thread)
        .iter()
        .filter(|text| text.contains(prompt))
        .count()
}

/// The bot's message in `thread` that carries buttons.
async fn prompt_in(chat: &Chat, thread: u64) -> SimMessage {
    sim_wait(&chat.h.sim, TURN, "a prompt with buttons", |s| {
        bot_messages(s, thread)
            .into_iter()
            .find(|m| m.components.as_array().is_some_and(|rows| !rows.is_empty()))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_is_answered_once_in_order_by_its_threads_owner_not_only_the_holder() {
    let db = TestDatabase::create().await;
    // The default ttl: an instance whose heartbeat a loaded database
    // delays stays a candidate for new threads.
    let chat = holder(Options {
        cluster: "lease_ttl = \"10s\"",
        ..options(&db.url)
    })
    .await;
    let peers = vec![standby(&chat).await, standby(&chat).await];
    // Nine new threads over three idle instances, each placed on the
    // least loaded (ties at random).
    let threads: Vec<u64> = (0..9).map(|n| chat.ask(&format!("thread {n}"))).collect();
    for thread in &threads {
        chat.done(chat.channel, *thread).await;
    }
    let mut asked = Vec::new();
    for (n, thread) in threads.iter().enumerate() {
        let prompts = vec![format!("follow-up {n}a"), format!("follow-up {n}b")];
        for prompt in &prompts {
            let id = chat.say(*thread, prompt);
            chat.done(*thread, id).await;
        }
        asked.push((*thread, prompts));
    }
    for (n, (thread, prompts)) in asked.iter().enumerate() {
        assert_eq!(answers_to(&chat, *thread, &format!("thread {n}")), 1);
        let replies = chat.reply_texts(*thread);
        let positions: Vec<usize> = prompts
            .iter()
            .map(|p| {
                assert_eq!(answers_to(&chat, *thread, p), 1, "{p}: {replies:#?}");
                replies.iter().position(|r| r.contains(p.as_str())).unwrap()
            })
            .collect();
        assert!(positions[0] < positions[1], "order: {replies:#?}");
    }
    // Threads went to instances that do not hold the shard, and the
    // holder handed their messages over.
    let holder_id = instance_id(chat.h.get_json("/status").await.1).await;
    let holders = thread_holders(&db, "discord").await;
    assert!(
        holders.iter().any(|(_, h)| *h != holder_id),
        "every thread on the shard's holder: {holders:?}"
    );
    assert!(chat.h.logs.count_message(HANDED_OVER) > 0);
    assert_eq!(
        peers
            .iter()
            .map(|p| p.logs.count_message(HANDED_OVER))
            .sum::<usize>(),
        0,
        "only the holder hears Discord"
    );
    for peer in peers {
        peer.stop(5 * SECOND).await;
    }
    chat.h.stop().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_heard_by_the_holder_is_deferred_and_decided_by_the_threads_owner() {
    let db = TestDatabase::create().await;
    let mut options = options(&db.url);
    options.agent = "permission_policy = \"ask\"";
    let (chat, peer) = holder_and_idle_peer(&db, options).await;
    let thread = chat.ask("[[permission:edit]] add a usage section");
    let prompt = prompt_in(&chat, thread).await;
    let peer_id = instance_id(peer.get_json("/status").await.1).await;
    assert_eq!(discord_thread_owner(&db, thread).await, Some(peer_id));
    let allow = prompt.components[0]["components"][0]["custom_id"]
        .as_str()
        .expect("a button")
        .to_owned();
    let click = chat
        .h
        .sim
        .click_button(thread, prompt.id, &allow, &chat.alice)
        .unwrap();
    chat.h.logs.wait_message(10 * SECOND, INPUT_LEFT).await;
    chat.done(chat.channel, thread).await;
    // The holder deferred it within Discord's 3 s; the owner answered
    // through the webhook, closing the prompt.
    let deferred = click.wait_response(5 * SECOND).await.expect("a callback");
    assert_eq!(deferred.kind, 6, "a deferred update: {deferred:?}");
    let edits: Vec<_> = click
        .webhook_calls()
        .into_iter()
        .filter(|c| c.target == "@original" && c.method == "PATCH")
        .collect();
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(edits[0].status, 200, "{edits:?}");
    let closed = bot_messages(&chat.h.sim, thread)
        .into_iter()
        .find(|m| m.id == prompt.id)
        .unwrap();
    assert!(
        closed.components.as_array().is_none_or(Vec::is_empty),
        "the owner closed the prompt: {closed:?}"
    );
    let replies = chat.reply_texts(thread).join("\n");
    assert!(replies.contains("permission: allow_once"), "{replies}");
    assert!(click.ephemeral_messages().is_empty());
    peer.stop(5 * SECOND).await;
    chat.h.stop().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_in_another_instances_thread_is_answered_once_by_its_owner() {
    let db = TestDatabase::create().await;
    let (chat, peer) = holder_and_idle_peer(&db, options(&db.url)).await;
    let thread = chat.ask("[[long:50]] second thread");
    chat.done(chat.channel, thread).await;
    let peer_id = instance_id(peer.get_json("/status").await.1).await;
    assert_eq!(discord_thread_owner(&db, thread).await, Some(peer_id));
    let status = chat
        .h
        .sim
        .run_command(thread, &chat.alice, "status", json!({}))
        .unwrap();
    chat.h.logs.wait_message(10 * SECOND, INPUT_LEFT).await;
    let answer = sim_wait(&chat.h.sim, 10 * SECOND, "the owner's /status", |_| {
        status.webhook_calls().into_iter().find(|c| {
            c.body
                .as_ref()
                .and_then(|b| b["content"].as_str())
                .is_some_and(|t| t.contains("**Session**"))
        })
    })
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let deferred = status.response().expect("deferred by the holder");
    assert_eq!(deferred.kind, 5, "{deferred:?}");
    assert!(deferred.ephemeral(), "{deferred:?}");
    assert_eq!(status.webhook_calls().len(), 1, "answered once");
    peer.stop(5 * SECOND).await;
    chat.h.stop().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_owner_that_does_not_hold_the_shard_has_its_thread_taken_up_once() {
    let db = TestDatabase::create().await;
    let (chat, mut peer) = holder_and_idle_peer(&db, options(&db.url)).await;
    let asked = chat.ask("[[slow:300]][[long:900]]");
    chat.wait_streaming(asked).await;
    let peer_id = instance_id(peer.get_json("/status").await.1).await;
    assert_eq!(
        discord_thread_owner(&db, asked).await,
        Some(peer_id.clone())
    );
    peer.kill9().await;
    let killed = Instant::now();
    chat.h.logs.wait_message(TTL + 8 * SECOND, TAKEN_UP).await;
    let took = killed.elapsed();
    eprintln!("discord owner killed -> thread taken up in {took:?}");
    assert!(took < TTL + 2 * SECOND, "taken up after {took:?}");
    chat.done(chat.channel, asked).await;
    let texts = chat.reply_texts(asked);
    assert_eq!(marked_interrupted(&texts), 1, "{texts:#?}");
    let holder_id = instance_id(chat.h.get_json("/status").await.1).await;
    assert_eq!(discord_thread_owner(&db, asked).await, Some(holder_id));
    let follow = chat.say(asked, "still there?");
    chat.done(asked, follow).await;
    assert_eq!(answers_to(&chat, asked, "still there?"), 1);
    // The holder never lost the shard: no identify, no resume.
    assert_eq!(chat.h.sim.identifies().len(), 1);
    chat.h.stop().await;
    db.drop_it().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_dying_between_a_post_and_its_record_has_that_post_continued_by_the_holder() {
    let db = TestDatabase::create().await;
    // Both armed: the one answering a marked message first exits the
    // moment its answer has posted, before the post's id is written.
    let (chat, mut peer) = holder_and_idle_peer(
        &db,
        Options {
            env: &[("SWITCHBOARD_TEST_FAULT", "exit_after_post:DIE-AFTER-POST")],
            ..options(&db.url)
        },
    )
    .await;
    let prompt = "DIE-AFTER-POST [[slow:100]][[long:600]]";
    let asked = chat.ask(prompt);
    // The new thread went to the idle peer, which posts and exits.
    let deadline = Instant::now() + TURN;
    let status = loop {
        if let Some(status) = peer.exited() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the owner did not exit after its post"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(86), "the fault ended the owner");
    let first = bot_messages(&chat.h.sim, asked);
    assert_eq!(first.len(), 1, "the dead owner posted once");

    chat.done(chat.channel, asked).await;
    let after = bot_messages(&chat.h.sim, asked);
    let texts: Vec<String> = after.iter().map(|m| m.content.clone()).collect();
    let answers: Vec<_> = after
        .iter()
        .filter(|m| m.content.contains(prompt))
        .collect();
    assert_eq!(answers.len(), 1, "{texts:#?}");
    assert_eq!(
        answers[0].id, first[0].id,
        "the dead owner's post was continued"
    );
    assert_eq!(marked_interrupted(&texts), 0, "{texts:#?}");
    let holder_id = instance_id(chat.h.get_json("/status").await.1).await;
    assert_eq!(discord_thread_owner(&db, asked).await, Some(holder_id));
    chat.h.stop().await;
    db.drop_it().await;
}
