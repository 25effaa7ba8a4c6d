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

/// The id one microsecond before message `id` in its channel (a `ts` is
/// the time the message was posted, to the microsecond, and unique in its
/// channel): reading after it starts with the message itself. `None` for
/// an id that is not `channel:seconds.micros`.
pub fn just_before(id: &str) -> Option<String> {
    let (channel, ts) = split(id)?;
    let (seconds, fraction) = ts.split_once('.').unwrap_or((ts, ""));
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits(seconds) || !(fraction.is_empty() || digits(fraction)) || fraction.len() > 6 {
        return None;
    }
    let micros: u64 = format!("{fraction:0<6}").parse().ok()?;
    let at = seconds.parse::<u64>().ok()?.checked_mul(1_000_000)? + micros;
    let before = at.checked_sub(1)?;
    Some(message_id(
        channel,
        &format!("{}.{:06}", before / 1_000_000, before % 1_000_000),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn just_before_is_one_microsecond_earlier() {
        assert_eq!(
            just_before("C1:1700000000.000100").as_deref(),
            Some("C1:1700000000.000099")
        );
        assert_eq!(
            just_before("C1:1700000000.000000").as_deref(),
            Some("C1:1699999999.999999")
        );
        assert_eq!(
            just_before("C1:1700000000.5").as_deref(),
            Some("C1:1700000000.499999")
        );
        assert_eq!(just_before("C1:0.000000"), None);
        assert_eq!(just_before("C1:12a.000001"), None);
        assert_eq!(just_before("C1"), None);
    }

    #[test]
    fn ids_round_trip() {
        let id = message_id("C0123456789", "1700000000.000100");
        assert_eq!(id, "C0123456789:1700000000.000100");
        assert_eq!(split(&id), Some(("C0123456789", "1700000000.000100")));
        assert_eq!(split("C0123456789"), None);
        assert_eq!(split(":1.2"), None);
    }
}
