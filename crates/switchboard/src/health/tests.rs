//! Health state, readiness and counters.

use super::*;

#[tokio::test(start_paused = true)]
async fn active_with_fresh_ack_is_healthy_and_goes_stale_after_two_intervals() {
    let health = ConnectionHealth::new("test", "c0");
    health.set_heartbeat_interval(Duration::from_millis(500));
    health.transition(ConnectionState::Active);
    assert!(health.snapshot().is_healthy());

    tokio::time::advance(Duration::from_millis(1_900)).await;
    assert!(health.snapshot().is_healthy(), "1.9 s < 2 x 0.5 s + 1 s");

    tokio::time::advance(Duration::from_millis(200)).await;
    let reason = health.snapshot().unhealthy_reason.expect("stale ACK");
    assert!(reason.contains("last heartbeat ACK"), "{reason}");

    health.record_ack(Instant::now());
    assert!(health.snapshot().is_healthy());
}

#[tokio::test(start_paused = true)]
async fn only_active_counts_as_healthy() {
    let health = ConnectionHealth::new("test", "c0");
    health.set_heartbeat_interval(Duration::from_secs(1));
    for state in [
        ConnectionState::Connecting,
        ConnectionState::Identifying,
        ConnectionState::Resuming,
        ConnectionState::BackingOff {
            attempt: 2,
            until: Instant::now(),
        },
        ConnectionState::Stopped,
        ConnectionState::FatallyClosed {
            cause: "close 4004".into(),
        },
    ] {
        health.transition(state.clone());
        let reason = health.snapshot().unhealthy_reason;
        assert!(reason.is_some(), "{state:?} must not be healthy");
        assert!(reason.unwrap().contains(state.name()));
    }
}

#[test]
fn fatally_closed_is_final() {
    let health = ConnectionHealth::new("slack", "socket-1");
    health.transition(ConnectionState::FatallyClosed {
        cause: "link_disabled".into(),
    });
    health.transition(ConnectionState::Stopped);
    health.transition(ConnectionState::Connecting);
    assert_eq!(
        health.state(),
        ConnectionState::FatallyClosed {
            cause: "link_disabled".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn readiness_names_each_unhealthy_connection() {
    let registry = HealthRegistry::default();
    assert!(
        registry.readiness().is_err(),
        "nothing configured is not ready"
    );
    let a = ConnectionHealth::new("discord", "shard-0");
    let b = ConnectionHealth::new("slack", "conn-0");
    registry.register(a.clone());
    registry.register(b.clone());
    a.set_heartbeat_interval(Duration::from_secs(1));
    a.transition(ConnectionState::Active);
    b.transition(ConnectionState::FatallyClosed {
        cause: "link_disabled".into(),
    });
    let reasons = registry.readiness().unwrap_err();
    assert_eq!(
        reasons,
        vec!["slack/conn-0: fatally_closed: link_disabled".to_owned()]
    );
}

#[tokio::test(start_paused = true)]
async fn counters_follow_transitions() {
    let health = ConnectionHealth::new("discord", "shard-0");
    health.transition(ConnectionState::Identifying);
    health.transition(ConnectionState::Resuming);
    health.transition(ConnectionState::Resuming);
    health.record_disconnect("close 4000");
    let snap = health.snapshot();
    assert_eq!(
        (
            snap.identifies_total,
            snap.resumes_total,
            snap.reconnects_total
        ),
        (1, 2, 1)
    );
    assert_eq!(snap.last_disconnect_cause.as_deref(), Some("close 4000"));
}
