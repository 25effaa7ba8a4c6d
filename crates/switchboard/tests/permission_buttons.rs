//! Permission prompts as buttons through the real binary (policy `ask`,
//! the default): the demo agent (a real child process) asks before an edit
//! (`[[permission:edit]]`), the prompt appears in the thread with one
//! button per option, allow first; only the requester or an approver
//! decides (anyone else is told privately, the prompt stays open); a
//! forged button id is refused; the decision replaces the prompt (buttons
//! removed) and reaches the agent; no answer within `permission_timeout`
//! rejects; `!cancel` while a prompt is open answers it cancelled. On
//! Discord the click's callback comes within the 3 s deadline; on Slack
//! the interactive envelope is acked and the answer goes by chat.update /
//! chat.postEphemeral.

mod support;

use std::time::Duration;

use discord_sim::{InteractionHandle, SimMessage};
use serde_json::Value;
use support::Options;
use support::chat::{Chat, TURN};
use support::slack::{SlackChat, slack_wait};
use support::{bot_messages, sim_wait};

const APPROVER_ROLE: u64 = 555;

/// The bot's message in `thread` that carries buttons, once it is there.
async fn prompt_in(chat: &Chat, thread: u64) -> SimMessage {
    let found = chat
        .h
        .sim
        .wait_until(TURN, |_| {
            bot_messages(&chat.h.sim, thread)
                .into_iter()
                .find(|m| m.components.as_array().is_some_and(|rows| !rows.is_empty()))
        })
        .await;
    found.unwrap_or_else(|| {
        panic!(
            "no prompt with buttons in the thread; bot messages {:#?}; log {:#?}",
            bot_messages(&chat.h.sim, thread),
            chat.h.logs.all()
        )
    })
}

/// Every button of a message: (custom_id, label).
fn buttons(message: &SimMessage) -> Vec<(String, String)> {
    message
        .components
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["components"].as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["custom_id"].as_str().unwrap_or("").to_owned(),
                b["label"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn answered(click: &InteractionHandle) -> discord_sim::CallbackRecord {
    click
        .wait_response(Duration::from_secs(10))
        .await
        .expect("the click was answered")
}

fn message(chat: &Chat, thread: u64, id: u64) -> SimMessage {
    bot_messages(&chat.h.sim, thread)
        .into_iter()
        .find(|m| m.id == id)
        .expect("the prompt is still there")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_only_the_requester_or_an_approver_decides_and_the_decision_reaches_the_agent() {
    let chat = Chat::start(Options {
        discord: "allow_all_users = true\napprovers = { roles = [\"555\"] }",
        agent: "permission_policy = \"ask\"",
        ..Options::default()
    })
    .await;
    let sim = &chat.h.sim;
    let bob = sim.user(8, "bob");
    let carol = sim.user(9, "carol");
    sim.set_member_roles(carol.id, &[APPROVER_ROLE]);
    let thread = chat.ask("[[permission:edit]] add a usage section");
    let prompt = prompt_in(&chat, thread).await;
    assert!(
        prompt.content.contains("Permission needed") && prompt.content.contains("<@7>"),
        "the prompt names the tool and the requester: {}",
        prompt.content
    );
    let shown = buttons(&prompt);
    assert!(shown.len() >= 2, "one button per option: {shown:?}");
    assert!(
        shown[0].1.to_lowercase().contains("allow"),
        "allow first: {shown:?}"
    );

    // Bob is neither the requester nor an approver.
    let refused = sim
        .click_button(thread, prompt.id, &shown[0].0, &bob)
        .unwrap();
    let answer = answered(&refused).await;
    assert_eq!(answer.kind, 4, "a message of its own: {answer:?}");
    assert!(answer.ephemeral(), "only Bob sees it: {answer:?}");
    assert!(
        answer
            .content
            .as_deref()
            .is_some_and(|c| c.contains("Only <@7> or an approver")),
        "{answer:?}"
    );
    assert!(answer.after < Duration::from_secs(3), "{answer:?}");
    assert!(
        !buttons(&message(&chat, thread, prompt.id)).is_empty(),
        "still open after a refused click"
    );

    // A button id edited to another request does not verify.
    let forged_id = shown[0].0.replacen("sbp:1:", "sbp:2:", 1);
    let forged = sim
        .click_button_unchecked(thread, prompt.id, &forged_id, &chat.alice)
        .unwrap();
    let answer = answered(&forged).await;
    assert!(answer.ephemeral(), "{answer:?}");
    assert!(
        !buttons(&message(&chat, thread, prompt.id)).is_empty(),
        "a forged id decides nothing"
    );
    chat.h
        .logs
        .wait_message(
            Duration::from_secs(5),
            "a button id that does not verify for this thread was refused",
        )
        .await;

    // Carol holds the approver role.
    let decided = sim
        .click_button(thread, prompt.id, &shown[0].0, &carol)
        .unwrap();
    let answer = answered(&decided).await;
    assert_eq!(answer.kind, 7, "the prompt is updated in place: {answer:?}");
    assert!(answer.after < Duration::from_secs(3), "{answer:?}");
    assert_eq!(answer.components, Some(Value::Array(Vec::new())));
    let content = answer.content.unwrap_or_default();
    assert!(
        content.contains("by <@9> at") && content.contains("UTC"),
        "who decided and when: {content}"
    );
    chat.done(chat.channel, thread).await;

    // A stale click (the prompt was decided; a client still shows it)
    // decides nothing and is told so privately.
    let stale = sim
        .click_button_unchecked(thread, prompt.id, &shown[1].0, &chat.alice)
        .unwrap();
    let answer = answered(&stale).await;
    assert!(answer.ephemeral(), "{answer:?}");
    assert!(
        answer
            .content
            .as_deref()
            .is_some_and(|c| c.contains("no longer open")),
        "{answer:?}"
    );
    let replies = chat.reply_texts(thread).join("\n");
    assert!(
        replies.contains("permission: allow_once"),
        "the agent was allowed: {replies}"
    );
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_no_answer_within_the_timeout_rejects_and_cancel_closes_an_open_prompt() {
    let chat = Chat::start(Options {
        agent: "permission_policy = \"ask\"\npermission_timeout = \"2s\"",
        ..Options::default()
    })
    .await;
    let thread = chat.ask("[[permission:edit]] change the readme");
    let prompt = prompt_in(&chat, thread).await;
    chat.done(chat.channel, thread).await;
    let closed = message(&chat, thread, prompt.id);
    assert!(buttons(&closed).is_empty(), "buttons removed: {closed:?}");
    assert!(
        closed
            .content
            .contains("Rejected (no answer within 2 s) by switchboard"),
        "{}",
        closed.content
    );
    let replies = chat.reply_texts(thread).join("\n");
    assert!(replies.contains("permission: reject_once"), "{replies}");

    // A prompt still open when the user cancels is answered cancelled.
    let follow_up = chat.say(thread, "[[permission:edit]] try once more");
    let second = sim_wait(&chat.h.sim, TURN, "a second prompt", |_| {
        bot_messages(&chat.h.sim, thread)
            .into_iter()
            .find(|m| m.id != prompt.id && !buttons(m).is_empty())
    })
    .await;
    chat.say(thread, "!cancel");
    let cancelled = sim_wait(&chat.h.sim, TURN, "the prompt closed by !cancel", |_| {
        let m = message(&chat, thread, second.id);
        buttons(&m).is_empty().then_some(m)
    })
    .await;
    assert!(
        cancelled.content.contains("cancelled"),
        "{}",
        cancelled.content
    );
    chat.done(thread, follow_up).await;
    let replies = chat.reply_texts(thread).join("\n");
    assert!(replies.contains("Turn cancelled."), "{replies}");
    // The thread answers its next message.
    let next = chat.say(thread, "still there?");
    chat.done(thread, next).await;
    chat.h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_a_click_is_acked_refusals_are_ephemeral_and_the_decision_updates_the_prompt() {
    let mut options = support::slack::options();
    options.slack = "allow_all_users = true\napprovers = { groups = [\"S0APPROVE\"] }";
    options.agent = "permission_policy = \"ask\"";
    let chat = SlackChat::start(options).await;
    let sim = chat.sim();
    sim.user("U0BOB", "bob");
    sim.user("U0CAROL", "carol");
    sim.set_usergroup("S0APPROVE", &["U0CAROL"]);
    let root = chat.ask("[[permission:edit]] add a usage section");
    let prompt = slack_wait(sim, TURN, "a prompt with buttons", |_| {
        chat.replies(&root)
            .into_iter()
            .find(|m| m.blocks.iter().any(|b| b["type"] == "actions"))
    })
    .await;
    let action_ids = support::slack::button_ids(&prompt);
    assert!(action_ids.len() >= 2, "{:?}", prompt.blocks);
    let mention = format!("<@{}>", chat.alice.id);
    assert!(
        prompt.text.contains(&mention),
        "the requester is mentioned, not shown escaped: {}",
        prompt.text
    );

    let refused = sim
        .click_button(&prompt.channel, &prompt.ts, &action_ids[0], "U0BOB")
        .unwrap();
    let ephemeral = slack_wait(sim, Duration::from_secs(10), "the refusal", |_| {
        sim.ephemerals().into_iter().find(|e| e.user == "U0BOB")
    })
    .await;
    assert!(
        ephemeral.text.contains("or an approver"),
        "{}",
        ephemeral.text
    );
    let record = refused
        .settled(Duration::from_secs(5))
        .await
        .expect("acked");
    let latency = record.ack_latency.expect("acked in time");
    assert!(latency < Duration::from_secs(3), "{record:?}");

    sim.click_button(&prompt.channel, &prompt.ts, &action_ids[0], "U0CAROL")
        .unwrap();
    chat.done(&root).await;
    let updated = chat
        .replies(&root)
        .into_iter()
        .find(|m| m.ts == prompt.ts)
        .unwrap();
    assert!(
        !updated.blocks.iter().any(|b| b["type"] == "actions"),
        "buttons removed: {:?}",
        updated.blocks
    );
    assert!(updated.text.contains("U0CAROL"), "{}", updated.text);
    let replies = chat.reply_texts(&root).join("\n");
    assert!(replies.contains("permission: allow_once"), "{replies}");
    chat.h.stop().await;
}
