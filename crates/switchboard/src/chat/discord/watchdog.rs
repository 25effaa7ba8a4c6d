//! Liveness proven by the protocol: the rules that call a connection a zombie.
//!
//! Pure bookkeeping over instants, fed by the gateway loop; it never reads a
//! clock or touches a socket. Rules, first match wins:
//! 1. not READY/RESUMED within `handshake_timeout` of connecting, or of the
//!    last moment the shard was seen waiting in the identify queue (a
//!    shard's turn to identify may be many 5 s windows away) -> zombie;
//! 2. a heartbeat (the library's or our probe) un-ACKed for a full heartbeat
//!    interval, or our probe un-ACKed for `ack_deadline` -> zombie, even while
//!    dispatches still arrive;
//! 3. nothing at all received for `probe_after` -> send a probe heartbeat now;
//! 4. nothing at all for `probe_after + ack_deadline` -> zombie (this also
//!    covers states in which no probe can be sent).

use std::time::Duration;

use tokio::time::Instant;

/// Longest sleep between checks, so that heartbeats the library sends on its
/// own timer are looked at soon after they go out.
const MAX_CHECK_GAP: Duration = Duration::from_secs(1);

#[derive(Clone, Copy, Debug)]
pub struct WatchdogConfig {
    pub probe_after: Duration,
    pub ack_deadline: Duration,
    pub handshake_timeout: Duration,
}

/// What the gateway loop must do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    Nothing,
    SendProbe,
    Zombie(Zombie),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Zombie {
    HandshakeTimeout(Duration),
    AckMissing { unacked_for: Duration },
    Silent { silent_for: Duration },
}

#[derive(Debug)]
pub struct Watchdog {
    config: WatchdogConfig,
    connected_at: Instant,
    active: bool,
    interval: Option<Duration>,
    last_frame_at: Instant,
    last_ack_at: Option<Instant>,
    /// The oldest heartbeat sent and not ACKed since. The library sends the
    /// next heartbeat exactly one interval after the last, so only the
    /// oldest one tells how long the gateway has been deaf to them.
    oldest_unacked: Option<Instant>,
    probe_sent_at: Option<Instant>,
}

impl Watchdog {
    pub fn new(config: WatchdogConfig, now: Instant) -> Self {
        Self {
            config,
            connected_at: now,
            active: false,
            interval: None,
            last_frame_at: now,
            last_ack_at: None,
            oldest_unacked: None,
            probe_sent_at: None,
        }
    }

    pub fn on_frame(&mut self, now: Instant) {
        self.last_frame_at = now;
    }

    pub fn on_ack(&mut self, now: Instant) {
        self.last_ack_at = Some(now);
        self.oldest_unacked = None;
        self.probe_sent_at = None;
    }

    /// Note when the library last sent a heartbeat (it sends them on its
    /// own timer); call on every loop turn.
    pub fn observe_heartbeat(&mut self, sent: Option<Instant>) {
        if let Some(sent) = sent
            && self.oldest_unacked.is_none()
            && !self.acked_since(sent)
        {
            self.oldest_unacked = Some(sent);
        }
    }

    pub fn on_hello(&mut self, interval: Duration) {
        self.interval = Some(interval);
    }

    /// Seen waiting for its turn in the identify queue: the handshake
    /// deadline counts from now (from the permit, not from the connect).
    pub fn on_identify_queued(&mut self, now: Instant) {
        if !self.active {
            self.connected_at = self.connected_at.max(now);
        }
    }

    pub fn on_active(&mut self) {
        self.active = true;
    }

    /// Whether READY or RESUMED has arrived on this connection.
    pub fn is_active(&self) -> bool {
        self.active
    }

    pub fn on_probe_sent(&mut self, now: Instant) {
        self.probe_sent_at = Some(now);
    }

    fn acked_since(&self, sent: Instant) -> bool {
        self.last_ack_at.is_some_and(|ack| ack >= sent)
    }

    /// Apply the rules at `now`. `can_probe` is whether the session accepts
    /// commands.
    pub fn check(&self, now: Instant, can_probe: bool) -> Action {
        let c = &self.config;
        if !self.active && now - self.connected_at >= c.handshake_timeout {
            return Action::Zombie(Zombie::HandshakeTimeout(now - self.connected_at));
        }
        if let (Some(sent), Some(interval)) = (self.oldest_unacked, self.interval)
            && now - sent >= interval
        {
            return Action::Zombie(Zombie::AckMissing {
                unacked_for: now - sent,
            });
        }
        if let Some(probe) = self.probe_sent_at
            && now - probe >= c.ack_deadline
        {
            return Action::Zombie(Zombie::AckMissing {
                unacked_for: now - probe,
            });
        }
        let silent_for = now - self.last_frame_at;
        if silent_for >= c.probe_after + c.ack_deadline {
            return Action::Zombie(Zombie::Silent { silent_for });
        }
        if silent_for >= c.probe_after && self.probe_sent_at.is_none() && can_probe {
            return Action::SendProbe;
        }
        Action::Nothing
    }

    /// The latest instant at which [`Self::check`] must run again.
    pub fn next_check(&self, now: Instant) -> Instant {
        let c = &self.config;
        let mut at = now + MAX_CHECK_GAP.min(self.interval.map_or(MAX_CHECK_GAP, |i| i / 4));
        let mut consider = |t: Instant| at = at.min(t);
        if !self.active {
            consider(self.connected_at + c.handshake_timeout);
        }
        if let (Some(sent), Some(interval)) = (self.oldest_unacked, self.interval) {
            consider(sent + interval);
        }
        match self.probe_sent_at {
            Some(probe) => consider(probe + c.ack_deadline),
            None => consider(self.last_frame_at + c.probe_after),
        }
        consider(self.last_frame_at + c.probe_after + c.ack_deadline);
        at.max(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn dog(now: Instant) -> Watchdog {
        let config = WatchdogConfig {
            probe_after: 10_000 * MS,
            ack_deadline: 5_000 * MS,
            handshake_timeout: 15_000 * MS,
        };
        let mut dog = Watchdog::new(config, now);
        dog.on_hello(500 * MS);
        dog
    }

    #[test]
    fn a_heartbeat_unacked_for_one_interval_is_a_zombie_even_with_traffic() {
        let t0 = Instant::now();
        let mut d = dog(t0);
        d.on_active();
        let sent = t0 + 100 * MS;
        d.observe_heartbeat(Some(sent));
        for step in 1..5 {
            d.on_frame(sent + step * 100 * MS); // dispatches keep arriving
        }
        assert_eq!(d.check(sent + 499 * MS, true), Action::Nothing);
        // The library's next heartbeat goes out on time; the oldest counts.
        d.observe_heartbeat(Some(sent + 500 * MS));
        assert_eq!(
            d.check(sent + 500 * MS, true),
            Action::Zombie(Zombie::AckMissing {
                unacked_for: 500 * MS
            })
        );
        d.on_ack(sent + 520 * MS);
        assert_eq!(d.check(sent + 900 * MS, true), Action::Nothing);
    }

    #[test]
    fn a_heartbeat_acked_before_it_was_observed_is_not_counted() {
        let t0 = Instant::now();
        let mut d = dog(t0);
        d.on_active();
        d.on_ack(t0 + 30 * MS);
        d.observe_heartbeat(Some(t0 + 10 * MS));
        assert_eq!(d.check(t0 + 2_000 * MS, true), Action::Nothing);
        assert_eq!(d.next_check(t0 + 2_000 * MS), t0 + 2_125 * MS);
    }

    #[test]
    fn silence_triggers_one_probe_then_a_zombie_when_it_goes_unanswered() {
        let t0 = Instant::now();
        let mut d = dog(t0);
        d.on_hello(41_250 * MS);
        d.on_active();
        assert_eq!(d.check(t0 + 9_999 * MS, true), Action::Nothing);
        assert_eq!(d.check(t0 + 10_000 * MS, true), Action::SendProbe);
        d.on_probe_sent(t0 + 10_000 * MS);
        assert_eq!(
            d.check(t0 + 12_000 * MS, true),
            Action::Nothing,
            "one probe, not a stream"
        );
        assert_eq!(
            d.check(t0 + 15_000 * MS, true),
            Action::Zombie(Zombie::AckMissing {
                unacked_for: 5_000 * MS
            })
        );
    }

    #[test]
    fn an_answered_probe_clears_and_silence_is_measured_afresh() {
        let t0 = Instant::now();
        let mut d = dog(t0);
        d.on_hello(41_250 * MS);
        d.on_active();
        d.on_probe_sent(t0 + 10_000 * MS);
        d.on_frame(t0 + 10_050 * MS);
        d.on_ack(t0 + 10_050 * MS);
        assert_eq!(d.check(t0 + 16_000 * MS, true), Action::Nothing);
        assert_eq!(d.check(t0 + 20_050 * MS, true), Action::SendProbe);
    }

    #[test]
    fn without_a_session_silence_still_ends_the_connection() {
        let t0 = Instant::now();
        let d = dog(t0);
        assert_eq!(
            d.check(t0 + 10_000 * MS, false),
            Action::Nothing,
            "cannot probe yet"
        );
        assert_eq!(
            d.check(t0 + 15_000 * MS, false),
            Action::Zombie(Zombie::HandshakeTimeout(15_000 * MS))
        );
    }

    #[test]
    fn handshake_must_finish_in_time() {
        let t0 = Instant::now();
        let mut d = dog(t0);
        for step in 1..150 {
            d.on_frame(t0 + step * 100 * MS);
            d.on_ack(t0 + step * 100 * MS);
        }
        assert_eq!(
            d.check(t0 + 15_000 * MS, false),
            Action::Zombie(Zombie::HandshakeTimeout(15_000 * MS))
        );
        d.on_active();
        assert_eq!(d.check(t0 + 15_000 * MS, true), Action::Nothing);
    }

    #[test]
    fn time_waiting_in_the_identify_queue_is_not_handshake_time() {
        let t0 = Instant::now();
        let mut d = dog(t0);
        for step in 1..=200 {
            d.on_frame(t0 + step * 100 * MS);
            d.on_ack(t0 + step * 100 * MS);
        }
        d.on_identify_queued(t0 + 20_000 * MS);
        assert_eq!(d.check(t0 + 20_000 * MS, false), Action::Nothing);
        assert_eq!(
            d.check(t0 + 35_000 * MS, false),
            Action::Zombie(Zombie::HandshakeTimeout(15_000 * MS)),
            "the deadline runs again from the permit"
        );
    }

    #[test]
    fn next_check_is_never_later_than_the_first_rule_that_can_fire() {
        let t0 = Instant::now();
        let mut d = dog(t0);
        d.on_active();
        // 500 ms interval: checks at least every 125 ms.
        d.observe_heartbeat(Some(t0 + 10 * MS));
        assert_eq!(d.next_check(t0 + 20 * MS), t0 + 145 * MS);
        // The un-ACKed heartbeat's deadline when it is sooner than the gap.
        assert_eq!(d.next_check(t0 + 450 * MS), t0 + 510 * MS);
        d.on_ack(t0 + 20 * MS);
        // Long interval: the probe deadline when it comes before the 1 s gap.
        d.on_hello(41_250 * MS);
        assert_eq!(d.next_check(t0 + 9_500 * MS), t0 + 10_000 * MS);
        assert_eq!(d.next_check(t0 + 2_000 * MS), t0 + 3_000 * MS);
        // Overdue rules ask for a check now, never in the past.
        assert_eq!(d.next_check(t0 + 20_000 * MS), t0 + 20_000 * MS);
    }
}
