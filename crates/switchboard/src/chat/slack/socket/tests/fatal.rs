//! What stops the slot for good (Socket Mode off, refused tokens) and
//! what does not (a refused open).

use super::*;

#[tokio::test]
async fn link_disabled_is_fatal_and_says_how_to_fix_it() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (run, health) = rig.supervise(0);
    rig.session_started().await;
    rig.sim
        .send_disconnect(slack_sim::DisconnectReason::LinkDisabled);
    let fatal = timeout(WAIT, run)
        .await
        .expect("stops")
        .expect("no panic")
        .expect_err("fatal");
    assert!(fatal.cause.contains("link_disabled"), "{fatal}");
    assert!(fatal.fix.contains("turn on Socket Mode"), "{fatal}");
    assert!(matches!(
        health.state(),
        ConnectionState::FatallyClosed { .. }
    ));

    // Opening while Socket Mode is off is fatal the same way.
    let (run, _health) = rig.run_once(1);
    let (cause, _) = ended(run, WAIT).await;
    assert_eq!(cause, SlackCause::LinkDisabled);
}

#[tokio::test]
async fn a_refused_app_token_is_fatal_and_named() {
    let rig = Rig::start(SlackSimConfig::default()).await;
    rig.sim.set_token_valid(slack_sim::TokenKind::App, false);
    let (run, _health) = rig.supervise(0);
    let fatal = timeout(WAIT, run)
        .await
        .expect("stops")
        .expect("no panic")
        .expect_err("fatal");
    assert!(fatal.cause.contains("slack.app_token"), "{fatal}");
    assert!(fatal.fix.contains("App-Level Tokens"), "{fatal}");
    assert!(
        !fatal.to_string().contains(&rig.sim.app_token()),
        "never the token itself"
    );
}

#[tokio::test]
async fn a_refused_bot_token_is_fatal_and_named() {
    let rig = Rig::start(SlackSimConfig::default()).await;
    rig.sim.set_token_valid(slack_sim::TokenKind::Bot, false);
    let (run, _health) = rig.run_once(0);
    let (cause, _) = ended(run, WAIT).await;
    assert!(
        matches!(
            cause,
            SlackCause::TokenRefused {
                token: TokenKind::Bot,
                ..
            }
        ),
        "{cause:?}"
    );
    let Verdict::Fatal { fix } = cause.verdict() else {
        panic!("fatal")
    };
    assert!(fix.contains("slack.bot_token"), "{fix}");
    assert!(
        rig.sim.opens().is_empty(),
        "no connection without knowing who we are"
    );
}

#[tokio::test]
async fn a_refused_open_is_transient() {
    let rig = Rig::start(SlackSimConfig::default()).await;
    rig.sim.set_refuse_open(true);
    let (run, _health) = rig.run_once(0);
    let (cause, _) = ended(run, WAIT).await;
    assert!(matches!(cause, SlackCause::WebApi(_)), "{cause:?}");
    assert_eq!(cause.verdict(), Verdict::Transient);
}
