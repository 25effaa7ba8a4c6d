//! Fatal Slack causes: Socket Mode turned off (`link_disabled`) and a
//! refused token (`invalid_auth`, naming which one). With Slack alone the
//! process exits 1 with one ERROR line saying the cause and the fix; with
//! Discord too, only Slack stops: Discord keeps answering, /status shows
//! Slack `fatally_closed` and /readyz answers 503 naming Slack.

mod support;

use std::time::Duration;

use serde_json::Value;
use slack_sim::{DisconnectReason, SlackSim, SlackSimConfig, TokenKind};
use support::chat::TURN;
use support::slack;
use support::{Harness, Options, Platforms, wait_reaction};
use tokio::time::Instant;

const SECOND: Duration = Duration::from_secs(1);

/// A way Slack can refuse the app, and what the ERROR line must then say.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    /// `disconnect: link_disabled` on the live connections.
    LinkDisabledMessage,
    /// `apps.connections.open` answers `link_disabled` from the start.
    LinkDisabledAtOpen,
    /// The app-level token is refused (`invalid_auth`) from the start.
    AppTokenInvalid,
    /// The bot token is refused (`invalid_auth`) from the start.
    BotTokenInvalid,
    /// The app-level token is revoked while connected; the next
    /// `apps.connections.open` is refused.
    AppTokenRevokedWhileConnected,
}

impl Refusal {
    /// Applied before switchboard starts.
    fn before_start(self, sim: &SlackSim) {
        match self {
            Refusal::LinkDisabledAtOpen => sim.set_link_disabled(true),
            Refusal::AppTokenInvalid => sim.set_token_valid(TokenKind::App, false),
            Refusal::BotTokenInvalid => sim.set_token_valid(TokenKind::Bot, false),
            Refusal::LinkDisabledMessage | Refusal::AppTokenRevokedWhileConnected => {}
        }
    }

    fn while_connected(self) -> bool {
        matches!(
            self,
            Refusal::LinkDisabledMessage | Refusal::AppTokenRevokedWhileConnected
        )
    }

    /// Applied once every connection is live.
    fn while_running(self, sim: &SlackSim) {
        match self {
            Refusal::LinkDisabledMessage => sim.send_disconnect(DisconnectReason::LinkDisabled),
            Refusal::AppTokenRevokedWhileConnected => {
                sim.set_token_valid(TokenKind::App, false);
                sim.drop_connections();
            }
            _ => {}
        }
    }

    /// The ERROR line names the cause and the fix (and not the other
    /// token).
    fn check(self, error: &Value) {
        let text = error["message"].as_str().unwrap();
        assert_eq!(error["platform"], "slack", "{error}");
        match self {
            Refusal::LinkDisabledMessage | Refusal::LinkDisabledAtOpen => {
                assert!(text.contains("link_disabled"), "{text}");
                assert!(
                    text.contains("turn on Socket Mode"),
                    "says how to fix it: {text}"
                );
            }
            Refusal::AppTokenInvalid | Refusal::AppTokenRevokedWhileConnected => {
                assert!(text.contains("slack.app_token"), "names the token: {text}");
                assert!(text.contains("invalid_auth"), "{text}");
                assert!(!text.contains("slack.bot_token"), "only that token: {text}");
            }
            Refusal::BotTokenInvalid => {
                assert!(text.contains("slack.bot_token"), "names the token: {text}");
                assert!(text.contains("invalid_auth"), "{text}");
                assert!(!text.contains("slack.app_token"), "only that token: {text}");
            }
        }
    }
}

fn error_lines(h: &Harness) -> Vec<Value> {
    h.logs
        .json()
        .into_iter()
        .filter(|v| v["level"] == "ERROR")
        .collect()
}

/// Start switchboard on a slack-sim refused as `refusal` says.
async fn start_refused(refusal: Refusal, platforms: Platforms) -> Harness {
    let sim = SlackSim::start(SlackSimConfig::default())
        .await
        .expect("slack-sim starts");
    refusal.before_start(&sim);
    let options = Options {
        platforms,
        ..slack::options()
    };
    let h = Harness::start_with_slack_sim(sim, options).await;
    if refusal.while_connected() {
        slack::wait_live(&h, 2, 10 * SECOND).await;
        refusal.while_running(h.slack());
    }
    h
}

/// Slack alone: exit 1 within 5 s with exactly one ERROR line.
async fn slack_alone_exits(refusal: Refusal) {
    let mut h = start_refused(refusal, Platforms::Slack).await;
    let at = Instant::now();
    let status = h.wait_exit(5 * SECOND).await;
    assert_eq!(status.code(), Some(1), "a fatal cause exits 1: {status:?}");
    assert!(at.elapsed() < 5 * SECOND);
    let errors = error_lines(&h);
    assert_eq!(errors.len(), 1, "exactly one ERROR line: {errors:#?}");
    refusal.check(&errors[0]);
    h.assert_token_never_shown().await;
}

/// Discord and Slack: Slack stops with one ERROR line, Discord answers.
async fn only_slack_stops(refusal: Refusal) {
    let h = start_refused(refusal, Platforms::Both).await;
    h.wait_ready().await;
    let error = h
        .logs
        .wait_for(10 * SECOND, |v| v["level"] == "ERROR")
        .await;
    refusal.check(&error);

    // Discord keeps answering.
    let channel = h.sim.channel_ids()[0];
    let bob = h.sim.user(7, "bob");
    let asked = h.sim.inject_message(
        channel,
        &bob,
        &format!("<@{}> are you still there?", h.sim.bot_user().id),
    );
    wait_reaction(&h.sim, channel, asked, "✅", TURN).await;
    let reply: String = support::bot_messages(&h.sim, asked)
        .into_iter()
        .map(|m| m.content)
        .collect();
    assert!(reply.contains("prompt: are you still there?"), "{reply}");

    let (status, body) = h.get_json("/readyz").await;
    assert_eq!(status, 503, "{body}");
    let reason = body["reason"].as_str().unwrap();
    assert!(reason.contains("slack"), "names Slack: {body}");
    assert!(!reason.contains("discord"), "Discord is fine: {body}");
    let (_, status) = h.get_json("/status").await;
    let connections = status["connections"].as_array().unwrap();
    let slack: Vec<&Value> = connections
        .iter()
        .filter(|c| c["platform"] == "slack")
        .collect();
    assert!(!slack.is_empty(), "{status}");
    for connection in slack {
        assert_eq!(connection["state"], "fatally_closed", "{status}");
        let cause = connection["fatal_cause"].as_str().unwrap_or("");
        assert!(!cause.is_empty(), "the cause is shown: {status}");
    }
    let discord = connections
        .iter()
        .find(|c| c["platform"] == "discord")
        .expect("Discord's connection");
    assert_eq!(discord["state"], "active", "{status}");
    assert_eq!(error_lines(&h).len(), 1, "one ERROR line");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_disabled_while_connected_exits_1_saying_how_to_turn_socket_mode_on() {
    slack_alone_exits(Refusal::LinkDisabledMessage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_disabled_at_start_exits_1() {
    slack_alone_exits(Refusal::LinkDisabledAtOpen).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_app_token_exits_1_naming_the_app_token() {
    slack_alone_exits(Refusal::AppTokenInvalid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_bot_token_exits_1_naming_the_bot_token() {
    slack_alone_exits(Refusal::BotTokenInvalid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_token_revoked_while_connected_exits_1_naming_it() {
    slack_alone_exits(Refusal::AppTokenRevokedWhileConnected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_discord_too_link_disabled_stops_only_slack() {
    only_slack_stops(Refusal::LinkDisabledMessage).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_discord_too_an_invalid_token_stops_only_slack() {
    only_slack_stops(Refusal::AppTokenInvalid).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_discord_too_a_refused_bot_token_stops_only_slack() {
    only_slack_stops(Refusal::BotTokenInvalid).await;
}
