//! The demo's terminal view of the simulated Discord: threads as they are
//! opened and the bot's messages as they stream in (posts and edits), the
//! way a person watching the channel would see them (buttons as numbered
//! choices, the demo user's mention as `@you`), and switchboard's gateway
//! sessions as the simulated Discord sees them (new or resumed).

use std::collections::{HashMap, HashSet};

use discord_sim::{DiscordSim, ReadyKind, SimMessage};

use super::buttons::{discord_buttons, with_choices};
use super::discord::DEMO_USER_ID;
use super::terminal;
use tokio_util::sync::CancellationToken;

/// What has been printed so far.
#[derive(Default)]
struct Printed {
    threads: HashSet<u64>,
    /// Message id -> the text printed for it.
    messages: HashMap<u64, String>,
    /// The message printed last: only its growth continues the block.
    last: Option<u64>,
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
            let shown = shown_text(&message);
            let seen = printed.messages.entry(message.id).or_default();
            if shown == *seen {
                continue;
            }
            let continues = printed.last == Some(message.id);
            terminal::bot_message(seen, &shown, continues);
            *seen = shown;
            printed.last = Some(message.id);
        }
    }
}

/// A bot message as the terminal shows it: the demo user's mention as
/// `@you`, buttons as numbered choices.
fn shown_text(message: &SimMessage) -> String {
    let text = message
        .content
        .replace(&format!("<@{DEMO_USER_ID}>"), "@you");
    with_choices(&text, &discord_buttons(&message.components))
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
