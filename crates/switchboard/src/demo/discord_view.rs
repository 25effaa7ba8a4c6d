//! The demo's terminal view of the simulated Discord: threads as they are
//! opened and the bot's messages as they stream in (posts and edits), the
//! way a person watching the channel would see them, and switchboard's
//! gateway sessions as the simulated Discord sees them (new or resumed).

use std::collections::{HashMap, HashSet};

use discord_sim::{DiscordSim, ReadyKind};

use super::terminal;
use tokio_util::sync::CancellationToken;

/// What has been printed so far.
#[derive(Default)]
struct Printed {
    threads: HashSet<u64>,
    /// Message id -> the text printed for it.
    messages: HashMap<u64, String>,
    /// READY / RESUMED dispatches already reported.
    sessions: usize,
}

/// Print changes until `shutdown`.
pub async fn watch(sim: DiscordSim, placeholder: String, shutdown: CancellationToken) {
    let mut printed = Printed::default();
    loop {
        let changed = sim.changed();
        print_changes(&sim, &placeholder, &mut printed);
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = changed => {}
        }
    }
}

fn print_changes(sim: &DiscordSim, placeholder: &str, printed: &mut Printed) {
    print_sessions(sim, printed);
    let bot = sim.bot_user().id;
    for thread in sim.threads() {
        if printed.threads.insert(thread.id) {
            terminal::line(&format!("\n── thread opened: \"{}\" ──", thread.name));
        }
        for message in sim.messages(thread.id) {
            if message.author.id != bot || message.content == placeholder {
                continue;
            }
            let seen = printed.messages.entry(message.id).or_default();
            if message.content == *seen {
                continue;
            }
            match message.content.strip_prefix(seen.as_str()) {
                Some(more) if !seen.is_empty() => terminal::more(more),
                _ => terminal::start(&format!("[bot] {}", message.content)),
            }
            *seen = message.content.clone();
        }
    }
}

/// One line per READY (a new gateway session) and per RESUMED.
fn print_sessions(sim: &DiscordSim, printed: &mut Printed) {
    let sent = sim.ready_sent();
    for record in sent.iter().skip(printed.sessions) {
        terminal::line(match record.kind {
            ReadyKind::Ready => "· switchboard opened a gateway session",
            ReadyKind::Resumed => {
                "· switchboard resumed its gateway session (missed events are replayed)"
            }
        });
    }
    printed.sessions = printed.sessions.max(sent.len());
}
