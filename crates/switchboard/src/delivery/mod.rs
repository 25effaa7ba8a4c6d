//! Deaf but connected: is the live connection delivering what the platform
//! holds? Heartbeats prove the link, not the delivery.
//!
//! - [`ledger`]: the newest message id each channel's live events brought.
//! - [`probe`]: the platform's own view (its REST API) of a channel's
//!   newest message, asked at the lowest priority.
//! - [`schedule`]: which channel is checked next, within the REST budget.
//! - [`reconcile`]: the loop comparing the two; a message the platform
//!   holds and the connection has not delivered within `canary.grace` is a
//!   missed dispatch, fetched and fed through the intake (the journal
//!   dedupes), counted, logged; the platform is suspect (unready) and
//!   `canary.max_misses` misses in a row renew its session.
//! - [`renewal`]: how a connection learns that it must start a new session.
//! - [`active`]: the optional active canary (a post that must come back).
//!
//! Nothing here knows a platform's protocol: the probes are in `chat/`.

pub mod active;
pub mod ledger;
pub mod probe;
pub mod reconcile;
pub mod renewal;
pub mod schedule;

pub use ledger::DeliveryLedger;
pub use probe::{LatestProbe, Probed};
pub use reconcile::Reconciler;
pub use renewal::{RenewalWatch, SessionRenewal};
