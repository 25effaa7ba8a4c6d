//! A session renewal asked by the delivery check: every slot drops its
//! (deaf) links and opens a fresh connection, and exactly one new session
//! is announced, so catch-up runs once.

use crate::delivery::SessionRenewal;

use super::*;

#[tokio::test]
async fn a_renewal_reconnects_every_slot_and_announces_one_new_session() {
    let mut rig = Rig::start(SlackSimConfig::default()).await;
    let renewal = SessionRenewal::default();
    let config = SupervisorConfig {
        backoff_initial: Duration::from_millis(50),
        ..SupervisorConfig::default()
    };
    let mut healths = Vec::new();
    for slot in 0..2 {
        let (socket, health) = rig.slot(slot);
        let socket = socket.with_renewal(renewal.watch());
        tokio::spawn(supervise(socket, health.clone(), config, rig.stop.clone()));
        healths.push(health);
    }
    rig.session_started().await;
    let first = rig
        .wait_sim("both slots connected", |s| {
            let live = s.live_connections();
            (live.len() == 2).then_some(live)
        })
        .await;
    rig.no_more_events();

    renewal.request();
    let renewed = rig
        .wait_sim("two fresh connections, the old ones closed", |s| {
            let live = s.live_connections();
            (live.len() == 2 && live.iter().all(|id| !first.contains(id))).then_some(live)
        })
        .await;
    assert_eq!(rig.sim.opens().len(), 4, "one apps.connections.open each");
    rig.session_started().await;
    for health in &healths {
        wait_health(health, "active again", is_active).await;
        let last = health.snapshot().last_disconnect_cause.clone();
        assert!(
            last.as_deref()
                .is_some_and(|c| c.starts_with("events not delivered")),
            "{last:?}"
        );
    }
    // Still delivering over the fresh connections; no second announcement.
    rig.deliver_message("1700000000.000500", "heard again");
    assert_eq!(rig.next_message().await.content, "heard again");
    rig.no_more_events();
    assert_eq!(rig.sim.live_connections(), renewed);
}
