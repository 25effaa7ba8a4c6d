//! Liveness proven by the protocol, for one Socket Mode WebSocket: the
//! rules that call it a zombie.
//!
//! Pure bookkeeping over instants, fed by the link's read loop; it never
//! reads a clock or touches a socket. Rules, first match wins:
//! 1. no `hello` within `hello_deadline` of connecting -> zombie;
//! 2. a WebSocket ping unanswered (no pong) for `ping_deadline` -> zombie,
//!    even while other frames still arrive (a pong proves that Slack reads
//!    what we write, which our acks depend on);
//! 3. `ping_interval` after the previous ping (or the connect) -> send the
//!    next ping.
//!
//! So a connection that has gone deaf is found within
//! `ping_interval + ping_deadline`.

use std::time::Duration;

use tokio::time::Instant;

use super::SocketSettings;
use crate::chat::slack::cause::SlackCause;

/// What the read loop must do now.
#[derive(Debug, PartialEq)]
pub enum Action {
    Nothing,
    SendPing,
    Zombie(SlackCause),
}

#[derive(Debug)]
pub struct Liveness {
    settings: SocketSettings,
    connected_at: Instant,
    hello: bool,
    /// When the last ping went out (or the connection opened).
    last_ping_at: Instant,
    /// The ping still waiting for its pong.
    unanswered_since: Option<Instant>,
}

impl Liveness {
    pub fn new(settings: SocketSettings, now: Instant) -> Self {
        Self {
            settings,
            connected_at: now,
            hello: false,
            last_ping_at: now,
            unanswered_since: None,
        }
    }

    pub fn on_hello(&mut self) {
        self.hello = true;
    }

    pub fn on_ping_sent(&mut self, now: Instant) {
        self.last_ping_at = now;
        self.unanswered_since.get_or_insert(now);
    }

    pub fn on_pong(&mut self) {
        self.unanswered_since = None;
    }

    /// The next instant at which [`Liveness::check`] may have something to do.
    pub fn next_check(&self) -> Instant {
        let s = &self.settings;
        let mut next = match self.unanswered_since {
            Some(sent) => sent + s.ping_deadline,
            None => self.last_ping_at + s.ping_interval,
        };
        if !self.hello {
            next = next.min(self.connected_at + s.hello_deadline);
        }
        next
    }

    /// Apply the rules at `now`.
    pub fn check(&self, now: Instant) -> Action {
        let s = &self.settings;
        let since_connect = now.saturating_duration_since(self.connected_at);
        if !self.hello && since_connect >= s.hello_deadline {
            return Action::Zombie(SlackCause::HelloTimeout(since_connect));
        }
        if let Some(sent) = self.unanswered_since {
            let waited = now.saturating_duration_since(sent);
            if waited >= s.ping_deadline {
                return Action::Zombie(SlackCause::PongMissing { waited });
            }
            return Action::Nothing;
        }
        if now.saturating_duration_since(self.last_ping_at) >= s.ping_interval {
            return Action::SendPing;
        }
        Action::Nothing
    }
}

/// How long a frame write may take before the peer counts as gone.
pub fn write_deadline(settings: &SocketSettings) -> Duration {
    settings.ping_deadline
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn settings() -> SocketSettings {
        SocketSettings {
            hello_deadline: 3_000 * MS,
            ping_interval: 1_000 * MS,
            ping_deadline: 500 * MS,
            ..SocketSettings::default()
        }
    }

    #[test]
    fn no_hello_in_time_is_a_zombie() {
        let t0 = Instant::now();
        let mut live = Liveness::new(settings(), t0);
        assert_eq!(
            live.next_check(),
            t0 + 1_000 * MS,
            "the first ping comes first"
        );
        live.on_ping_sent(t0 + 1_000 * MS);
        live.on_pong();
        live.on_ping_sent(t0 + 2_000 * MS);
        live.on_pong();
        assert_eq!(live.next_check(), t0 + 3_000 * MS);
        assert_eq!(
            live.check(t0 + 3_000 * MS),
            Action::Zombie(SlackCause::HelloTimeout(3_000 * MS))
        );
        live.on_hello();
        assert_eq!(live.check(t0 + 3_000 * MS), Action::SendPing);
    }

    #[test]
    fn pings_go_out_every_interval_while_pongs_come_back() {
        let t0 = Instant::now();
        let mut live = Liveness::new(settings(), t0);
        live.on_hello();
        assert_eq!(live.check(t0 + 999 * MS), Action::Nothing);
        assert_eq!(live.check(t0 + 1_000 * MS), Action::SendPing);
        live.on_ping_sent(t0 + 1_000 * MS);
        assert_eq!(live.next_check(), t0 + 1_500 * MS, "the pong deadline");
        live.on_pong();
        assert_eq!(live.next_check(), t0 + 2_000 * MS, "the next ping");
        assert_eq!(live.check(t0 + 1_900 * MS), Action::Nothing);
        assert_eq!(live.check(t0 + 2_000 * MS), Action::SendPing);
    }

    #[test]
    fn an_unanswered_ping_is_a_zombie_at_its_deadline() {
        let t0 = Instant::now();
        let mut live = Liveness::new(settings(), t0);
        live.on_hello();
        live.on_ping_sent(t0 + 1_000 * MS);
        assert_eq!(live.check(t0 + 1_499 * MS), Action::Nothing);
        assert_eq!(
            live.check(t0 + 1_500 * MS),
            Action::Zombie(SlackCause::PongMissing { waited: 500 * MS })
        );
    }

    #[test]
    fn a_second_ping_does_not_reset_the_first_ones_deadline() {
        let t0 = Instant::now();
        let mut live = Liveness::new(
            SocketSettings {
                ping_deadline: 5_000 * MS,
                ..settings()
            },
            t0,
        );
        live.on_hello();
        live.on_ping_sent(t0 + 1_000 * MS);
        live.on_ping_sent(t0 + 2_000 * MS);
        assert_eq!(live.next_check(), t0 + 6_000 * MS);
        assert!(matches!(
            live.check(t0 + 6_000 * MS),
            Action::Zombie(SlackCause::PongMissing { .. })
        ));
    }
}
