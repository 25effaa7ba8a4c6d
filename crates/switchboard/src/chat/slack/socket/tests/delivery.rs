//! Hello and health, acks within a second, deduplication across
//! redeliveries and slots, and shutdown.

use super::*;

#[tokio::test]
async fn hello_makes_the_slot_healthy_and_pongs_keep_it_so() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (_run, health) = rig.run_once(0);
    rig.session_started().await;
    assert_eq!(health.state(), ConnectionState::Active);
    assert!(health.snapshot().is_healthy(), "{:?}", health.snapshot());
    assert_eq!(
        rig.identity.get().map(|i| i.user_id.clone()),
        Some(rig.sim.bot_user_id())
    );

    // Several ping intervals later the pongs have kept the last ACK fresh.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let snap = health.snapshot();
    assert!(snap.is_healthy(), "{snap:?}");
    assert!(
        snap.last_ack_age.unwrap() < Duration::from_millis(500),
        "{snap:?}"
    );
    assert!(
        snap.events_total >= 3,
        "hello and pongs are recorded: {snap:?}"
    );
    assert_eq!(rig.sim.opens().len(), 1);
    rig.no_more_events();
}

#[tokio::test]
async fn a_mention_is_acked_within_a_second_and_both_its_events_reach_the_broker() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (_run, _health) = rig.run_once(0);
    rig.session_started().await;
    rig.sim.user("U0ALICE", "alice");
    let ts = rig
        .sim
        .post_user_message(CHANNEL, "U0ALICE", "<@U0BOT> hello", None);

    // app_mention and message: two envelopes, two events, one message id
    // (the broker's journal dedupes by message id).
    let first = rig.next_message().await;
    let second = rig.next_message().await;
    assert_eq!(first.id, ids::message_id(CHANNEL, &ts));
    assert_eq!(second.id, first.id);
    assert!(first.mentions_bot && second.mentions_bot);
    assert_eq!(first.content, "<@U0BOT> hello");

    let acks = rig
        .wait_sim("both envelopes acked", |s| {
            (s.acks().len() >= 2).then(|| s.acks())
        })
        .await;
    for ack in &acks {
        let latency = ack.latency.expect("acked while awaited");
        assert!(latency < Duration::from_secs(1), "ack took {latency:?}");
    }
    assert!(rig.sim.unacked().is_empty());
    rig.no_more_events();
}

#[tokio::test]
async fn a_redelivered_envelope_is_acked_again_and_dropped() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (_run, _health) = rig.run_once(0);
    rig.session_started().await;
    let envelope = rig.deliver_message("1700000000.000100", "hi");
    assert_eq!(rig.next_message().await.content, "hi");
    rig.wait_sim("the first ack", |s| (s.acks().len() == 1).then_some(()))
        .await;

    assert_eq!(rig.sim.redeliver_last(), Some(envelope.clone()));
    rig.wait_sim("the redelivery acked", |s| {
        (s.acks().len() == 2).then_some(())
    })
    .await;
    let attempts: Vec<u32> = rig
        .sim
        .deliveries()
        .iter()
        .map(|d| d.retry_attempt)
        .collect();
    assert_eq!(attempts, [0, 1]);
    // The event goes to the broker before the ack: had the redelivery been
    // passed on, it would be queued by now.
    rig.no_more_events();
    assert!(rig.acks() == 2 && rig.sim.unacked().is_empty());
}

#[tokio::test]
async fn two_slots_ask_for_catch_up_once_and_share_deduplication() {
    let mut rig = Rig::start(SlackSimConfig {
        pick: ConnectionPick::RoundRobin,
        ..SlackSimConfig::default()
    })
    .await;
    let (_a, health_a) = rig.run_once(0);
    let (_b, health_b) = rig.run_once(1);
    rig.session_started().await;
    wait_health(&health_a, "active", is_active).await;
    wait_health(&health_b, "active", is_active).await;
    assert_eq!(rig.shared.live_slots(), 2);
    rig.no_more_events();

    // Round robin: the redelivery arrives on the other connection.
    rig.deliver_message("1700000000.000200", "spread");
    assert_eq!(rig.next_message().await.content, "spread");
    rig.sim.redeliver_last();
    let acks = rig
        .wait_sim("both deliveries acked", |s| {
            (s.acks().len() == 2).then(|| s.acks())
        })
        .await;
    assert_ne!(acks[0].connection_id, acks[1].connection_id, "{acks:?}");
    rig.no_more_events();
}

#[tokio::test]
async fn shutdown_closes_with_1000_at_once() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (run, _health) = rig.run_once(0);
    rig.session_started().await;
    let started = Instant::now();
    rig.stop.cancel();
    let end = timeout(Duration::from_secs(2), run)
        .await
        .expect("stops")
        .expect("no panic");
    assert!(matches!(end, RunEnd::Shutdown), "{end:?}");
    assert!(started.elapsed() < Duration::from_millis(1_600));
    let record = rig
        .wait_sim("the connection closed", |s| {
            s.connections()
                .first()
                .filter(|c| c.closed_at.is_some())
                .cloned()
        })
        .await;
    assert!(record.closed_by_client, "{record:?}");
    assert_eq!(record.client_close_code, Some(1000));
    assert_eq!(rig.shared.live_slots(), 0);
}

#[tokio::test]
async fn a_message_is_acked_only_once_the_broker_has_journaled_it() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (_run, _health) = rig.run_once(0);
    rig.session_started().await;
    let envelope = rig.deliver_message("1700000000.000300", "keep me");
    let (message, receipt) = rig.next_message_unsettled().await;
    assert_eq!(message.content, "keep me");
    // Not journaled yet: no ack, and the link stays up meanwhile.
    let links_before = rig.sim.connections().len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.acks(), 0, "acked before the journal write");
    assert_eq!(rig.sim.unacked(), vec![envelope.clone()]);
    assert_eq!(rig.sim.connections().len(), links_before);

    receipt.settle(true);
    let acks = rig
        .wait_sim("the ack after the journal", |s| {
            (!s.acks().is_empty()).then(|| s.acks())
        })
        .await;
    assert_eq!(acks[0].envelope_id, envelope);
    assert!(rig.sim.unacked().is_empty());
}

#[tokio::test]
async fn a_message_that_could_not_be_journaled_is_left_for_slack_to_redeliver_and_taken_again() {
    let config = SlackSimConfig {
        // Slack redelivers an envelope not acked in time.
        ack_timeout: Duration::from_millis(400),
        ..SlackSimConfig::default()
    };
    let mut rig = Rig::start(config).await;
    let (_run, _health) = rig.run_once(0);
    rig.session_started().await;
    let envelope = rig.deliver_message("1700000000.000400", "store is down");
    let (_, receipt) = rig.next_message_unsettled().await;
    receipt.settle(false);

    // The redelivery is not dropped as a duplicate event id: the broker
    // gets the message again, and this time it is journaled and acked.
    let (again, receipt) = rig.next_message_unsettled().await;
    assert_eq!(again.content, "store is down");
    receipt.settle(true);
    let acks = rig
        .wait_sim("the redelivery acked", |s| {
            (!s.acks().is_empty()).then(|| s.acks())
        })
        .await;
    assert_eq!(acks.len(), 1);
    assert_eq!(acks[0].envelope_id, envelope);
    let attempts: Vec<u32> = rig
        .sim
        .deliveries()
        .iter()
        .map(|d| d.retry_attempt)
        .collect();
    assert_eq!(attempts, [0, 1], "delivered, then redelivered once");
}

#[tokio::test]
async fn a_receipt_dropped_without_a_word_leaves_the_envelope_unacked() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let (_run, _health) = rig.run_once(0);
    rig.session_started().await;
    let envelope = rig.deliver_message("1700000000.000500", "dropped");
    let (_, receipt) = rig.next_message_unsettled().await;
    drop(receipt);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rig.acks(), 0);
    assert_eq!(rig.sim.unacked(), vec![envelope]);
}
