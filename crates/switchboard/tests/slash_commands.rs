//! Slash commands through the real binary: Discord's commands registered by
//! bulk overwrite at start and answered through interaction callbacks
//! within 3 s (also while the agent is busy); Slack's `/switchboard
//! <subcommand>` through `slash_commands` envelopes, acked at once and
//! answered through the response_url. `/ask` opens a thread without a
//! mention, `/status` shows the session (mode, usage, the agent's own
//! commands), `/mode` lists and switches the agent's mode
//! (`session/set_mode`, seen by the demo agent's `[[mode]]`), `/cancel`
//! stops a running turn, and someone not allowed is answered privately.

mod support;

use std::time::Duration;

use discord_sim::{CallbackRecord, InteractionHandle};
use serde_json::json;
use support::Options;
use support::chat::{Chat, TURN};
use support::slack::{SlackChat, slack_wait};
use support::{bot_messages, sim_wait};

const MODES: &[&str] = &["demo-agent", "--modes", "default,plan"];

async fn answered(handle: &InteractionHandle) -> CallbackRecord {
    let answer = handle
        .wait_response(Duration::from_secs(10))
        .await
        .expect("the command was answered");
    assert!(
        answer.after < Duration::from_secs(3),
        "within Discord's 3 s: {answer:?}"
    );
    answer
}

fn content(answer: &CallbackRecord) -> String {
    answer.content.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_commands_are_registered_and_ask_status_mode_and_cancel_work() {
    let chat = Chat::start(Options {
        discord: "allowed_users = [\"7\"]",
        agent_args: &MODES[1..],
        ..Options::default()
    })
    .await;
    let sim = &chat.h.sim;
    let names: Vec<String> = sim_wait(sim, Duration::from_secs(10), "commands registered", |s| {
        let commands = s.application_commands(None);
        (!commands.is_empty()).then_some(commands)
    })
    .await
    .iter()
    .map(|c| c["name"].as_str().unwrap_or("").to_owned())
    .collect();
    for name in ["ask", "cancel", "reset", "status", "mode", "model", "help"] {
        assert!(names.iter().any(|n| n == name), "/{name} in {names:?}");
    }

    // /ask in the channel: the bot posts the question and answers in a
    // thread opened from it.
    let asked = sim
        .run_command(
            chat.channel,
            &chat.alice,
            "ask",
            json!({ "prompt": "[[mode]] hello" }),
        )
        .unwrap();
    let answer = answered(&asked).await;
    assert!(answer.ephemeral(), "{answer:?}");
    let root = sim_wait(sim, TURN, "the /ask post", |_| {
        bot_messages(sim, chat.channel)
            .into_iter()
            .find(|m| m.content.contains("asked: [[mode]] hello"))
    })
    .await;
    chat.done(root.channel_id, root.id).await;
    let thread = root.id;
    assert!(
        chat.reply_texts(thread)
            .join("\n")
            .contains("mode: default"),
        "{:?}",
        chat.reply_texts(thread)
    );

    // /status in the thread.
    let status = answered(
        &sim.run_command(thread, &chat.alice, "status", json!({}))
            .unwrap(),
    )
    .await;
    let text = content(&status);
    assert!(status.ephemeral(), "{status:?}");
    for part in [
        "**Session**",
        "**Mode**: `default`",
        "`/review`",
        "**Session usage**",
        "**Usage in this thread**",
        "USD",
    ] {
        assert!(text.contains(part), "{part:?} in {text}");
    }

    let tokens = chat
        .h
        .metric("switchboard_agent_tokens_total{platform=\"discord\",direction=\"output\"}")
        .await;
    assert!(tokens.is_some_and(|t| t > 0.0), "{tokens:?}");
    let cost = chat
        .h
        .metric("switchboard_agent_cost_total{platform=\"discord\",currency=\"USD\"}")
        .await;
    assert!(cost.is_some_and(|c| c > 0.0), "{cost:?}");

    // The agent's own commands reach it as they are written.
    let own = chat.say(thread, "/review the last change");
    chat.done(thread, own).await;
    assert!(
        chat.reply_texts(thread)
            .join("\n")
            .contains("prompt: /review the last change"),
        "{:?}",
        chat.reply_texts(thread)
    );

    // /mode lists, then switches; the agent sees the new mode.
    let listed = answered(
        &sim.run_command(thread, &chat.alice, "mode", json!({}))
            .unwrap(),
    )
    .await;
    assert!(
        content(&listed).contains("`default` (current)"),
        "{listed:?}"
    );
    assert!(content(&listed).contains("`plan`"), "{listed:?}");
    let set = answered(
        &sim.run_command(thread, &chat.alice, "mode", json!({ "mode": "plan" }))
            .unwrap(),
    )
    .await;
    assert_eq!(content(&set), "Mode set to `plan`.", "{set:?}");
    let follow = chat.say(thread, "[[mode]] again");
    chat.done(thread, follow).await;
    assert!(chat.reply_texts(thread).join("\n").contains("mode: plan"));

    // Bob is not on the allowlist: told privately, nothing done.
    let bob = sim.user(8, "bob");
    let refused = answered(&sim.run_command(thread, &bob, "reset", json!({})).unwrap()).await;
    assert!(
        refused.ephemeral() && content(&refused).contains("cannot use"),
        "{refused:?}"
    );

    // /cancel while the agent is busy: answered within 3 s, the turn stops.
    let busy = chat.say(thread, "[[slow:200]][[long:5000]]");
    sim_wait(sim, TURN, "the slow answer started", |_| {
        bot_messages(sim, thread)
            .iter()
            .any(|m| m.content.contains("prompt: [[slow:200]]"))
            .then_some(())
    })
    .await;
    let cancelled = answered(
        &sim.run_command(thread, &chat.alice, "cancel", json!({}))
            .unwrap(),
    )
    .await;
    assert!(content(&cancelled).contains("Cancelling"), "{cancelled:?}");
    chat.done(thread, busy).await;
    assert!(
        chat.reply_texts(thread)
            .join("\n")
            .contains("Turn cancelled.")
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_switchboard_subcommands_answer_through_the_response_url() {
    let mut options = support::slack::options();
    options.agent_args = &MODES[1..];
    let chat = SlackChat::start(options).await;
    let sim = chat.sim();
    let channel = sim.channel_ids()[0].clone();
    let user = chat.alice.id.clone();
    let user = user.as_str();

    let asked = sim
        .run_slash_command(&channel, user, "/switchboard", "ask [[mode]] hello")
        .unwrap();
    let record = asked.settled(Duration::from_secs(5)).await.expect("acked");
    assert!(
        record
            .ack_latency
            .is_some_and(|l| l < Duration::from_secs(3)),
        "{record:?}"
    );
    let root = slack_wait(sim, TURN, "the /ask post", |s| {
        s.messages(&channel)
            .into_iter()
            .find(|m| m.bot_id.is_some() && m.text.contains("asked:"))
    })
    .await;
    chat.done(&root.ts).await;
    assert!(
        chat.reply_texts(&root.ts)
            .join("\n")
            .contains("mode: default")
    );

    // Slack runs commands in the channel: they mean the thread the user
    // last wrote in there.
    let status = sim
        .run_slash_command(&channel, user, "/switchboard", "status")
        .unwrap();
    status.settled(Duration::from_secs(5)).await.expect("acked");
    let answer = slack_wait(sim, Duration::from_secs(10), "the status answer", |s| {
        s.response_url_uses().into_iter().find(|u| {
            u.body["text"]
                .as_str()
                .is_some_and(|t| t.contains("Session"))
        })
    })
    .await;
    assert_eq!(answer.effect.as_deref(), Some("ephemeral"), "{answer:?}");

    sim.run_slash_command(&channel, user, "/switchboard", "mode plan")
        .unwrap();
    slack_wait(sim, Duration::from_secs(10), "the mode answer", |s| {
        s.response_url_uses()
            .into_iter()
            .find(|u| u.body["text"].as_str().is_some_and(|t| t.contains("plan")))
    })
    .await;
    let follow = chat.say(&root.ts, "[[mode]] again");
    chat.done(&follow).await;
    assert!(chat.reply_texts(&root.ts).join("\n").contains("mode: plan"));
    chat.h.stop().await;
}
