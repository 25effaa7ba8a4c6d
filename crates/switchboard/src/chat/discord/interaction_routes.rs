//! A Discord interaction handed to the instance that owns its thread (ADR
//! 22): the route another instance needs to answer it (the interaction's
//! id, the application's, its token and, for a click, the member's roles),
//! and the answer rebuilt from that route there.
//!
//! The hearing instance defers the interaction before it hands it over
//! (`hand_off`), so the answer rebuilt here always goes through the
//! interaction's webhook (valid 15 minutes). The route holds the
//! interaction's token: it is written to the shared store's
//! `forwarded_inputs` only, never logged. Owns only this translation; it
//! never decides who may click or run what.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::interactions::{Callback, ClickReply, CommandReply, InteractionReply};
use super::rest::DiscordRest;
use crate::chat::{ClickAnswer, CommandAnswer};

/// The route of a click's interaction, with the member's roles (the
/// approver groups are checked against them where it is answered).
pub(super) fn click_route(click: &ClickReply) -> Value {
    let mut route = command_route(&click.reply);
    route["roles"] = json!(click.roles);
    route
}

/// The route of an interaction: enough to answer it through its webhook.
pub(super) fn command_route(reply: &InteractionReply) -> Value {
    json!({
        "interaction_id": reply.interaction_id.to_string(),
        "application_id": reply.application_id.to_string(),
        "token": reply.token,
    })
}

/// The deferred interaction a route names; `None` if it names none.
fn deferred_reply(rest: &DiscordRest, route: &Value) -> Option<InteractionReply> {
    let id = |key: &str| route.get(key)?.as_str()?.parse::<u64>().ok();
    Some(InteractionReply {
        rest: rest.clone(),
        interaction_id: id("interaction_id")?,
        application_id: id("application_id")?,
        token: route.get("token")?.as_str()?.to_owned(),
        state: Mutex::new(Callback::Deferred),
    })
}

/// The answer to a click another instance heard and deferred; `None` if
/// `route` is not a click's.
pub fn click_answer_from_route(rest: &DiscordRest, route: &Value) -> Option<ClickAnswer> {
    let reply = deferred_reply(rest, route)?;
    let roles = route
        .get("roles")?
        .as_array()?
        .iter()
        .filter_map(|role| role.as_str().map(str::to_owned))
        .collect();
    Some(ClickAnswer::new(Arc::new(ClickReply { reply, roles })))
}

/// The answer to a command another instance heard and deferred; `None` if
/// `route` is not an interaction's.
pub fn command_answer_from_route(rest: &DiscordRest, route: &Value) -> Option<CommandAnswer> {
    let reply = deferred_reply(rest, route)?;
    Some(CommandAnswer::new(Arc::new(CommandReply { reply })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest() -> DiscordRest {
        let token = crate::config::Secret::new("token".to_owned());
        DiscordRest::new(&token, "http://127.0.0.1:9/api/v10")
    }

    fn reply() -> InteractionReply {
        InteractionReply {
            rest: rest(),
            interaction_id: 11,
            application_id: 22,
            token: "interaction-token".to_owned(),
            state: Mutex::new(Callback::Open),
        }
    }

    #[tokio::test]
    async fn a_click_route_rebuilds_a_deferred_answer_with_the_members_roles() {
        let click = ClickReply {
            reply: reply(),
            roles: vec!["R1".to_owned(), "R2".to_owned()],
        };
        let route = click_route(&click);
        assert_eq!(route["interaction_id"], "11");
        assert_eq!(route["application_id"], "22");
        let answer = click_answer_from_route(&rest(), &route).expect("a click's route");
        assert_eq!(answer.user_groups(&[]).await, ["R1", "R2"]);
        answer.forwarded();
        assert!(command_answer_from_route(&rest(), &route).is_some());
    }

    #[test]
    fn a_route_that_names_no_interaction_is_refused() {
        for route in [
            json!({}),
            json!({"interaction_id": "x", "application_id": "22", "token": "t", "roles": []}),
            json!({"interaction_id": "11", "application_id": "22", "roles": []}),
            json!({"channel": "C1", "message_ts": "1.2"}),
        ] {
            assert!(
                click_answer_from_route(&rest(), &route).is_none(),
                "{route}"
            );
            assert!(
                command_answer_from_route(&rest(), &route).is_none(),
                "{route}"
            );
        }
        let route = command_route(&reply());
        assert!(
            click_answer_from_route(&rest(), &route).is_none(),
            "a command's route has no roles"
        );
    }
}
