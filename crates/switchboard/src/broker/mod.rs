//! Conversation policy. Today: the intake, which drops duplicate deliveries
//! and counts distinct messages. Talks to platforms only through `chat`.

pub mod dedupe;
pub mod intake;
