//! The demo's terminal view of the simulated Slack channel: each thread the
//! bot answers in, and the bot's messages as they stream in (posts and
//! `chat.update` edits), the way a person watching the channel would see
//! them (buttons as numbered choices, the demo user's mention as `@you`),
//! and each Socket Mode connection switchboard opens.

use std::collections::{HashMap, HashSet};

use slack_sim::{SlackMessage, SlackSim};

use super::buttons::{slack_buttons, with_choices};
use super::slack::DEMO_USER_ID;
use super::terminal;
use crate::chat::slack::events::unescape;
use tokio_util::sync::CancellationToken;

/// What has been printed so far.
#[derive(Default)]
struct Printed {
    threads: HashSet<String>,
    /// Message ts -> the text printed for it.
    messages: HashMap<String, String>,
    /// The message printed last: only its growth continues the block.
    last: Option<String>,
    /// Socket Mode connections already reported open.
    links: usize,
}

/// Print changes until `shutdown`.
pub async fn watch(
    sim: SlackSim,
    channel: String,
    placeholder: String,
    shutdown: CancellationToken,
) {
    let mut printed = Printed::default();
    loop {
        let changed = sim.changed();
        print_changes(&sim, &channel, &placeholder, &mut printed);
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = changed => {}
        }
    }
}

fn print_changes(sim: &SlackSim, channel: &str, placeholder: &str, printed: &mut Printed) {
    print_links(sim, printed);
    let messages = sim.messages(channel);
    for message in &messages {
        let Some(root) = &message.thread_ts else {
            continue;
        };
        if message.bot_id.is_none() || message.text == placeholder {
            continue;
        }
        if printed.threads.insert(root.clone()) {
            let title = messages
                .iter()
                .find(|m| m.ts == *root)
                .map_or("", |m| m.text.as_str());
            terminal::line(&format!("\n── thread of \"{title}\" ──"));
        }
        let shown = shown_text(message);
        let seen = printed.messages.entry(message.ts.clone()).or_default();
        if shown == *seen {
            continue;
        }
        let continues = printed.last.as_ref() == Some(&message.ts);
        terminal::bot_message(seen, &shown, continues);
        *seen = shown;
        printed.last = Some(message.ts.clone());
    }
}

/// A bot message as a Slack client shows it: the demo user's mention as
/// `@you`, Slack's `&lt; &gt; &amp;` as the characters, buttons as
/// numbered choices.
fn shown_text(message: &SlackMessage) -> String {
    let text = message.text.replace(&format!("<@{DEMO_USER_ID}>"), "@you");
    with_choices(&unescape(&text), &slack_buttons(&message.blocks))
}

/// One line per Socket Mode connection switchboard opened.
fn print_links(sim: &SlackSim, printed: &mut Printed) {
    let opened: Vec<u64> = sim
        .connections()
        .iter()
        .filter(|c| !c.refused)
        .map(|c| c.id)
        .collect();
    for id in opened.iter().skip(printed.links) {
        terminal::line(&format!("· switchboard opened Socket Mode connection {id}"));
    }
    printed.links = printed.links.max(opened.len());
}
