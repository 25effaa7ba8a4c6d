//! How Slack messages and threads are named for the broker.
//!
//! A Slack `ts` is unique only inside its channel, so a message's id is
//! `channel:ts` (e.g. `C0123456789:1700000000.000100`). A thread is keyed by
//! its root message's id, the same invariant Discord has (a thread started
//! from a message has that message's id): a reply in a thread is a
//! `ChatMessage` whose `channel_id` is the root's id and whose
//! `parent_channel_id` is the real channel. Every Slack id the broker holds
//! can therefore be turned back into (channel, ts) with [`split`].

/// The id of the message `ts` in `channel`.
pub fn message_id(channel: &str, ts: &str) -> String {
    format!("{channel}:{ts}")
}

/// `(channel, ts)` of a message id made by [`message_id`].
pub fn split(id: &str) -> Option<(&str, &str)> {
    let (channel, ts) = id.split_once(':')?;
    (!channel.is_empty() && !ts.is_empty()).then_some((channel, ts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip() {
        let id = message_id("C0123456789", "1700000000.000100");
        assert_eq!(id, "C0123456789:1700000000.000100");
        assert_eq!(split(&id), Some(("C0123456789", "1700000000.000100")));
        assert_eq!(split("C0123456789"), None);
        assert_eq!(split(":1.2"), None);
    }
}
