//! Several instances of one bot on one PostgreSQL store (issue 14): this
//! instance's name and heartbeat ([`instance`]) and the leases it holds
//! ([`lease`]) and the threads it owns ([`thread_owners`]), each renewed in the background and given up, as far as
//! this process acts on it, before it can expire in the database.
//!
//! Owns the timing of leases (renew every third of the ttl, stop acting a
//! fifth of the ttl before the database would let another take it) and the
//! process side of fencing: a [`lease::HeldLease`] hands out the
//! [`crate::store::Fence`] its writes carry. It must never decide what to
//! lease (the Discord shard runner and the thread placement do) and never
//! touch a platform.

pub mod holder;
pub mod instance;
pub mod lease;
pub mod thread_owners;

pub use holder::HolderSlot;
pub use instance::{Heartbeat, default_instance_id};
pub use lease::{ActingGuard, HeldLease, LeaseTiming};
pub use thread_owners::{OwnerChanges, ThreadOwners};
