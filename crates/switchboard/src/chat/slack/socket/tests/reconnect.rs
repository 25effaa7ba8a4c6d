//! Connections that end: the warning handover, refresh_requested, dropped
//! and half-open sockets, a missing hello, one slot of two reconnecting.

use super::*;

#[tokio::test]
async fn a_warning_opens_the_replacement_before_the_old_connection_closes() {
    let mut rig = Rig::start(SlackSimConfig {
        disconnect_warning_delay: Duration::from_millis(1_000),
        ..SlackSimConfig::default()
    })
    .await;
    let (run, health) = rig.run_once(0);
    rig.session_started().await;
    let old = rig.sim.live_connections()[0];

    rig.sim
        .send_disconnect(slack_sim::DisconnectReason::Warning);
    // Sent in between: only the warned connection is there to carry it.
    rig.deliver_message("1700000000.000300", "in between");
    assert_eq!(rig.next_message().await.content, "in between");
    let new = rig
        .wait_sim("the replacement connection", |s| {
            s.live_connections().into_iter().find(|id| *id != old)
        })
        .await;

    rig.wait_sim("the old connection closed by Slack", |s| {
        s.connections()
            .iter()
            .find(|c| c.id == old && c.closed_at.is_some())
            .cloned()
    })
    .await;
    let records = rig.sim.connections();
    let old_rec = records.iter().find(|c| c.id == old).unwrap();
    let new_rec = records.iter().find(|c| c.id == new).unwrap();
    assert!(
        new_rec.opened_at < old_rec.closed_at.unwrap(),
        "{records:?}"
    );
    assert!(
        !old_rec.closed_by_client && !old_rec.aborted,
        "we read the old one to its end: {old_rec:?}"
    );

    // The run carries on over the replacement.
    rig.deliver_message("1700000000.000400", "after");
    assert_eq!(rig.next_message().await.content, "after");
    assert!(!run.is_finished());
    assert!(is_active(&health) && health.snapshot().is_healthy());
    assert_eq!(rig.sim.opens().len(), 2);
    rig.wait_sim("every envelope acked", |s| {
        s.unacked().is_empty().then_some(())
    })
    .await;
    rig.no_more_events();
}

#[tokio::test]
async fn refresh_requested_reconnects_at_once() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (_run, health) = rig.supervise(0);
    rig.session_started().await;
    let old = rig.sim.live_connections()[0];

    rig.sim
        .send_disconnect(slack_sim::DisconnectReason::RefreshRequested);
    // The only slot was down: the broker is asked to catch up again.
    rig.session_started().await;
    assert_eq!(health.snapshot().reconnects_total, 1);
    let cause = health.snapshot().last_disconnect_cause.unwrap();
    assert!(cause.contains("refresh_requested"), "{cause}");
    assert!(rig.sim.live_connections().iter().all(|id| *id != old));
    assert_eq!(rig.sim.opens().len(), 2);
}

#[tokio::test]
async fn a_dropped_connection_ends_the_run_as_transient() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (run, _health) = rig.run_once(0);
    rig.session_started().await;
    rig.sim.drop_connections();
    let (cause, healthy_for) = ended(run, Duration::from_secs(1)).await;
    assert!(matches!(cause, SlackCause::Dropped(_)), "{cause:?}");
    assert_eq!(cause.verdict(), Verdict::Transient);
    assert!(healthy_for > Duration::ZERO);
}

#[tokio::test]
async fn a_half_open_connection_is_dropped_within_the_ping_deadline_and_nothing_is_lost() {
    let mut rig = Rig::start(SlackSimConfig {
        pick: ConnectionPick::Newest,
        ..SlackSimConfig::default()
    })
    .await;
    let (_run, health) = rig.supervise(0);
    rig.session_started().await;

    rig.sim.silence_current_connections();
    let silenced_at = Instant::now();
    let envelope = rig.deliver_message("1700000000.000500", "into the void");
    wait_health(&health, "reconnected", |h| {
        h.snapshot().reconnects_total == 1
    })
    .await;
    let s = settings();
    let bound = s.ping_interval + s.ping_deadline + Duration::from_millis(300);
    assert!(
        silenced_at.elapsed() < bound,
        "zombie found after {:?}",
        silenced_at.elapsed()
    );
    let cause = health.snapshot().last_disconnect_cause.unwrap();
    assert!(cause.contains("ping unanswered"), "{cause}");

    // Slack redelivers the swallowed envelope on the new connection.
    let message = timeout(Duration::from_secs(8), rig.events.recv())
        .await
        .expect("redelivered in time");
    assert!(
        matches!(message, Some(ChatEvent::SessionStarted { .. })),
        "{message:?}"
    );
    let message = timeout(Duration::from_secs(8), rig.events.recv())
        .await
        .expect("redelivered in time");
    let Some(ChatEvent::Message(message, receipt)) = message else {
        panic!("{message:?}")
    };
    receipt.settle(true);
    assert_eq!(message.content, "into the void");
    let deliveries: Vec<(u32, bool)> = rig
        .sim
        .deliveries()
        .iter()
        .filter(|d| d.envelope_id == envelope)
        .map(|d| (d.retry_attempt, d.dropped))
        .collect();
    assert_eq!(deliveries, [(0, true), (1, false)]);
    rig.wait_sim("the redelivery acked", |s| {
        s.unacked().is_empty().then_some(())
    })
    .await;
    rig.no_more_events();
}

#[tokio::test]
async fn no_hello_in_time_ends_the_run() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    // Pings late enough that only the hello deadline can fire.
    rig.settings.hello_deadline = Duration::from_millis(400);
    rig.settings.ping_interval = Duration::from_secs(5);
    rig.sim.set_silent(true);
    let started = Instant::now();
    let (run, health) = rig.run_once(0);
    let (cause, healthy_for) = ended(run, WAIT).await;
    assert!(matches!(cause, SlackCause::HelloTimeout(_)), "{cause:?}");
    assert_eq!(cause.verdict(), Verdict::Transient);
    assert_eq!(healthy_for, Duration::ZERO);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_millis(900),
        "{took:?}"
    );
    assert_eq!(health.state(), ConnectionState::Identifying);
}

#[tokio::test]
async fn one_slot_reconnecting_while_another_is_live_needs_no_catch_up() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (_a, health_a) = rig.supervise(0);
    let (_b, health_b) = rig.supervise(1);
    rig.session_started().await;
    wait_health(&health_a, "active", is_active).await;
    wait_health(&health_b, "active", is_active).await;

    let first = rig.sim.live_connections()[0];
    rig.sim
        .send_disconnect_to(first, slack_sim::DisconnectReason::RefreshRequested);
    rig.wait_sim("the replacement connection", |s| {
        (s.live_connections().len() == 2 && s.opens().len() == 3).then_some(())
    })
    .await;
    let settled = |_: &ConnectionHealth| {
        let reconnects =
            health_a.snapshot().reconnects_total + health_b.snapshot().reconnects_total;
        reconnects == 1 && is_active(&health_a) && is_active(&health_b)
    };
    wait_health(&health_a, "reconnected", settled).await;
    assert_eq!(rig.shared.live_slots(), 2);
    rig.no_more_events();
}
