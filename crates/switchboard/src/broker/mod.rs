//! Conversation policy: the intake (dedupe, routing), one actor per thread,
//! the session pool and the streamed replies. Talks to platforms only
//! through `chat` and to agents only through `agent`.

pub mod bridge;
pub mod catch_up;
pub mod durable;
mod forwarding;
pub mod intake;
pub mod owners;
pub mod permission_desk;
pub mod permission_prompt;
pub mod pool;
pub mod queue_cap;
pub mod recovery;
mod refused;
pub mod reply;
pub mod router;
pub mod slash;
pub mod status;
mod store_back;
pub mod store_watch;
pub mod test_faults;
pub mod thread;
pub mod thread_panel;
pub mod turn;
mod turned_away;
