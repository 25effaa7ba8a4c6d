//! The demo's terminal view of the simulated Discord: threads as they are
//! opened and the bot's messages as they stream in (posts and edits), the
//! way a person watching the channel would see them.

use std::collections::{HashMap, HashSet};

use std::io::Write as _;

use discord_sim::DiscordSim;
use tokio_util::sync::CancellationToken;

/// What has been printed so far.
#[derive(Default)]
struct Printed {
    threads: HashSet<u64>,
    /// Message id -> the text printed for it.
    messages: HashMap<u64, String>,
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
    let bot = sim.bot_user().id;
    for thread in sim.threads() {
        if printed.threads.insert(thread.id) {
            println!("\n── thread opened: \"{}\" ──", thread.name);
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
                Some(more) if !seen.is_empty() => print!("{more}"),
                _ => print!("\n[bot] {}", message.content),
            }
            // Streamed text shows as it arrives, without waiting for a newline.
            let _ = std::io::stdout().flush();
            *seen = message.content.clone();
        }
    }
}
