//! switchboard: a broker between chat platforms and ACP coding agents that
//! never goes silently deaf.
//!
//! Module map (arrows point one way: `chat` and `supervisor` never import
//! `broker`; `supervisor` and `health` know nothing of any platform):
//! - [`config`]: the TOML file, `${VAR}` expansion, validation, secrets.
//! - [`cli`]: command-line parsing.
//! - [`check`]: `switchboard check [--agent] [--online]`: the agent command
//!   resolves, the agent completes `initialize`, the platforms take the tokens.
//! - [`app`]: `run(config, shutdown)`, wiring everything together.
//! - [`supervisor`]: the keep-a-connection-alive loop (backoff, fatal vs
//!   transient, shutdown) and the periodic summary line.
//! - [`health`]: live connection state read by admin, metrics and logs, and
//!   the pipeline behind them (intake progress and heartbeat, store failing,
//!   the latest catch-up of each platform, each platform's delivery).
//! - [`delivery`]: deaf-but-connected detection: what the live connection
//!   delivered per channel versus the platform's REST view, on a budget; a
//!   miss is fetched and handled, the platform turns suspect, repeated
//!   misses renew the session (ADR 15). Knows no platform protocol.
//! - [`metrics`]: Prometheus counters and scrape-time connection figures.
//! - [`admin`]: /livez /readyz /status /metrics.
//! - [`chat`]: the platform-independent chat model; [`chat::discord`] is the
//!   supervised gateway, its watchdog, close-code policy, events and REST
//!   (our own calls over reqwest: every 429 held and waited out, invalid
//!   requests counted; ADR 13);
//!   [`chat::PostKey`] is the idempotency key every post carries;
//!   [`chat::receipt`] the broker's word that a message is journaled;
//!   [`chat::interaction`] buttons to post and the clicks on them (each
//!   platform answers a click its own way behind `ClickResponder`);
//!   [`chat::slack`] the Socket Mode slots and Web API.
//! - [`agent`]: one ACP agent process = one session (bounded reads, group
//!   kill; what the session says about itself and the controls that change
//!   its mode and model); [`demo_agent`]: the built-in agent for the demo and tests.
//! - [`broker`]: conversation policy: intake, router, bridge, thread actors,
//!   turns, the session pool (slot leases), the streamed reply, and the
//!   permission prompts put to people (`permission_desk`, policy `ask`);
//!   with several instances, each thread's owner (`owners`, ADR 22)
//!   and the clicks and commands handed to it (`forwarding`).
//! - [`logging`]: text/JSON log set-up.
//! - [`store`]: persistence (SQLite by default, PostgreSQL with `store.url`):
//!   dedupe, threads, journal, cursors; instances, leases with fencing
//!   tokens, saved gateway sessions, threads' owners, wake-ups and the
//!   inputs forwarded to an owner.
//! - [`cluster`]: several instances of one bot: this instance's id and
//!   heartbeat, the leases it holds (renewed every ttl/3, given up before
//!   they can expire) and the fence their writes carry; the threads it
//!   owns, all renewed by one statement.
//! - [`demo`]: `switchboard demo`, the broker against a built-in simulator.

pub mod admin;
pub mod agent;
pub mod app;
pub mod broker;
pub mod chat;
pub mod check;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod delivery;
pub mod demo;
pub mod demo_agent;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod store;
pub mod supervisor;

pub use app::{RunError, run, run_reporting};

/// Install rustls's ring provider once per process (twilight's TLS needs a
/// process-wide provider; a second call is a no-op).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
