//! Wiring Slack: `connections` supervised Socket Mode slots sharing one
//! event dedupe, the bot's identity and one session renewal, and the Web
//! API (outbound, history, and the delivery check's probe), handed to the
//! broker side.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::conversations::{PlatformSide, Wired, wire_conversations};
use super::{PlatformTasks, Wiring};
use crate::chat::Platform;
use crate::chat::slack::cause::SlackCause;
use crate::chat::slack::history::SlackHistory;
use crate::chat::slack::outbound::SlackOutbound;
use crate::chat::slack::probe::SlackProbe;
use crate::chat::slack::socket::{
    SlackSocket, SlotsShared, SocketSettings, click_answer_from_route, command_answer_from_route,
};
use crate::chat::slack::web::{SharedIdentity, SlackWeb, TokenKind};
use crate::config::SlackConfig;
use crate::delivery::SessionRenewal;
use crate::delivery::active::CanaryPoster;
use crate::health::ConnectionHealth;
use crate::supervisor::fatal_error;

/// Build and start everything Slack needs. Its connections stop with
/// `platform_stop` (cancelled when one of its tasks ends fatally).
pub(super) async fn wire(
    w: &Wiring<'_>,
    slack: &SlackConfig,
    platform_stop: &CancellationToken,
    platforms: &mut PlatformTasks,
) -> Wired {
    let web = SlackWeb::new(
        &slack.api_url,
        slack.bot_token.clone(),
        slack.app_token.clone(),
    );
    let identity = SharedIdentity::default();
    let refused = SlackCause::TokenRefused {
        token: TokenKind::Bot,
        code: "invalid_auth".to_owned(),
    };
    // One renewal for the platform: every slot watches it, and the first
    // slot live again announces the new session.
    let renewal = SessionRenewal::default();
    let probe = Arc::new(SlackProbe::new(web.clone()));
    let side = PlatformSide {
        platform: Platform::Slack,
        store: w.store.clone(),
        outbound: Arc::new(SlackOutbound::new(web.clone())),
        history: Arc::new(SlackHistory::new(web.clone(), identity.clone())),
        gating: slack.gating.clone(),
        reactions: slack.reactions.clone(),
        unauthorized: fatal_error("slack", &refused).expect("a refused token is fatal"),
        probe: Some(probe.clone()),
        renewal: renewal.clone(),
        check_calls_per_minute: w.config.canary.slack_calls_per_minute,
        canary: w
            .config
            .canary
            .slack_channel
            .clone()
            .map(|channel| (channel, probe as Arc<dyn CanaryPoster>)),
        heard_in_part: true,
        answer_forwarded_click: Some({
            let web = web.clone();
            Arc::new(move |route| click_answer_from_route(&web, route))
        }),
        answer_forwarded_command: Some({
            let web = web.clone();
            Arc::new(move |route| command_answer_from_route(&web, route))
        }),
    };
    let wired = wire_conversations(w, side, platforms).await;
    let shared = SlotsShared::default();
    // The platform-independent liveness knobs of [supervisor]: silence
    // before a probe (here: the ping interval), how long the probe may go
    // unanswered, and how long a new connection may take to be live.
    let settings = SocketSettings {
        hello_deadline: w.config.supervisor.handshake_timeout,
        ping_interval: w.config.supervisor.probe_after,
        ping_deadline: w.config.supervisor.ack_deadline,
        open_deadline: w.config.supervisor.handshake_timeout,
    };
    for slot in 0..slack.connections {
        let health = ConnectionHealth::new("slack", format!("socket-{slot}"));
        w.health.register(health.clone());
        let socket = SlackSocket::new(
            slot,
            web.clone(),
            identity.clone(),
            shared.clone(),
            health.clone(),
            w.inbound.clone(),
            settings,
        )
        .with_renewal(renewal.watch());
        w.supervise(socket, health, platform_stop, platforms);
    }
    wired
}
