//! The demo's terminal view of the simulated Slack channel: each thread the
//! bot answers in, and the bot's messages as they stream in (posts and
//! `chat.update` edits), the way a person watching the channel would see
//! them, and each Socket Mode connection switchboard opens.

use std::collections::{HashMap, HashSet};

use slack_sim::SlackSim;

use super::terminal;
use tokio_util::sync::CancellationToken;

/// What has been printed so far.
#[derive(Default)]
struct Printed {
    threads: HashSet<String>,
    /// Message ts -> the text printed for it.
    messages: HashMap<String, String>,
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
        let seen = printed.messages.entry(message.ts.clone()).or_default();
        if message.text == *seen {
            continue;
        }
        match message.text.strip_prefix(seen.as_str()) {
            Some(more) if !seen.is_empty() => terminal::more(more),
            _ => terminal::start(&format!("[bot] {}", message.text)),
        }
        *seen = message.text.clone();
    }
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
