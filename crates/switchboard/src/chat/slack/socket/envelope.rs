//! One Socket Mode envelope -> at most one [`ChatEvent`] for the broker.
//!
//! `events_api` envelopes carrying a `message` or `app_mention` event are
//! mapped with [`events::chat_message`] and handed to the inbound channel
//! (unbounded: handing over is recording, nothing waits on an agent). A
//! redelivery, on this connection or another, is recognised by its
//! `payload.event_id` and dropped. A delivered message is acked only once
//! the broker has journaled it (the [`ReceiptWait`] returned with
//! `Delivered`): a crash before that leaves it un-acked, and Slack
//! redelivers it. Every other envelope is acked at once: un-acked, it would
//! only come back. Deduplication by message id (one mention arrives both as
//! `app_mention` and as `message`) is the broker's journal's job.

use serde_json::Value;

use super::frames::Envelope;
use super::slots::SlotsShared;
use crate::chat::receipt::{Receipt, ReceiptWait};
use crate::chat::slack::events;
use crate::chat::slack::web::BotIdentity;
use crate::chat::{ChatEvent, InboundSender};

/// What became of one envelope.
#[derive(Debug)]
pub enum Handled {
    /// A `ChatEvent::Message` went to the broker: ack once this resolves
    /// `true` (the message is journaled).
    Delivered(ReceiptWait),
    /// Its event_id was seen before (a redelivery).
    Duplicate,
    /// Nothing for the broker: `why` says what it was.
    Ignored { why: String },
}

/// Hand the envelope's event to the broker unless it is a redelivery or
/// not a new user-visible message.
pub fn handle(
    env: &Envelope,
    identity: &BotIdentity,
    slots: &SlotsShared,
    inbound: &InboundSender,
) -> Handled {
    if env.kind != "events_api" {
        return Handled::Ignored {
            why: format!("{} envelope", env.kind),
        };
    }
    if let Some(event_id) = env.event_id()
        && !slots.first_sighting(event_id)
    {
        return Handled::Duplicate;
    }
    let Some(event) = env.event() else {
        return Handled::Ignored {
            why: "events_api envelope without an event".to_owned(),
        };
    };
    let kind = event.get("type").and_then(Value::as_str).unwrap_or("");
    if !matches!(kind, "message" | "app_mention") {
        return Handled::Ignored {
            why: format!("{kind:?} event"),
        };
    }
    let Some(channel) = event.get("channel").and_then(Value::as_str) else {
        return Handled::Ignored {
            why: format!("{kind} event without a channel"),
        };
    };
    match events::chat_message(channel, event, identity, false) {
        Some(message) => {
            let (receipt, wait) = Receipt::pair();
            // The receiver only goes away on shutdown (the receipt then
            // drops: not acked, Slack redelivers to the next connection).
            let _ = inbound.send(ChatEvent::Message(Box::new(message), receipt));
            Handled::Delivered(wait)
        }
        None => Handled::Ignored {
            why: format!(
                "{kind} event that is not a new message (subtype {:?})",
                event.get("subtype").and_then(Value::as_str).unwrap_or("")
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::chat::inbound_channel;

    fn identity() -> BotIdentity {
        BotIdentity {
            user_id: "U0BOT".into(),
            bot_id: Some("B0BOT".into()),
            team_id: "T1".into(),
        }
    }

    fn envelope(kind: &str, event_id: &str, event: Value) -> Envelope {
        Envelope {
            envelope_id: format!("env-{event_id}"),
            kind: kind.into(),
            retry_attempt: 0,
            payload: json!({ "event_id": event_id, "event": event }),
        }
    }

    fn message(ts: &str) -> Value {
        json!({ "type": "message", "channel": "C1", "user": "U1", "text": "<@U0BOT> hi", "ts": ts })
    }

    #[test]
    fn a_message_is_delivered_once_per_event_id() {
        let (tx, mut rx) = inbound_channel();
        let slots = SlotsShared::default();
        let env = envelope("events_api", "Ev1", message("1.000001"));
        assert!(matches!(
            handle(&env, &identity(), &slots, &tx),
            Handled::Delivered(_)
        ));
        let Ok(ChatEvent::Message(m, _)) = rx.try_recv() else {
            panic!("a message event")
        };
        assert_eq!(m.id, "C1:1.000001");
        assert!(m.mentions_bot);
        assert!(matches!(
            handle(&env, &identity(), &slots, &tx),
            Handled::Duplicate
        ));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn the_app_mention_of_a_message_is_delivered_too_under_its_own_event_id() {
        let (tx, mut rx) = inbound_channel();
        let slots = SlotsShared::default();
        let mut mention = message("1.000002");
        mention["type"] = json!("app_mention");
        let pair = [
            envelope("events_api", "Ev2", mention),
            envelope("events_api", "Ev3", message("1.000002")),
        ];
        for env in &pair {
            assert!(matches!(
                handle(env, &identity(), &slots, &tx),
                Handled::Delivered(_)
            ));
        }
        let ids: Vec<String> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|e| match e {
                ChatEvent::Message(m, _) => m.id,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(ids, ["C1:1.000002", "C1:1.000002"]);
    }

    #[test]
    fn what_is_not_a_new_message_is_ignored() {
        let (tx, mut rx) = inbound_channel();
        let slots = SlotsShared::default();
        let mut edit = message("1.000003");
        edit["subtype"] = json!("message_changed");
        let cases = [
            envelope("slash_commands", "Ev4", message("1.000004")),
            envelope("events_api", "Ev5", json!({ "type": "reaction_added" })),
            envelope("events_api", "Ev6", edit),
            envelope(
                "events_api",
                "Ev7",
                json!({ "type": "message", "ts": "1.5" }),
            ),
        ];
        for env in &cases {
            let handled = handle(env, &identity(), &slots, &tx);
            assert!(
                matches!(handled, Handled::Ignored { .. }),
                "{env:?}: {handled:?}"
            );
        }
        assert!(rx.try_recv().is_err());
    }
}
