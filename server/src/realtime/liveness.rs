//! The clocks of one connection: the handshake deadline and the heartbeat.
//!
//! Only the idle clock restarts when a frame arrives (a client that talks is alive,
//! Meteor's rule). The handshake deadline is absolute from the socket's opening,
//! and once the server has pinged, only the answering pong stops the countdown
//! (Rocket.Chat's DDP streamer does the same): otherwise a client sending junk every
//! second would keep a socket open forever without ever connecting or answering.

use std::time::Duration;

use tokio::time::Instant;

/// What passed when the current deadline did.
#[derive(Debug, PartialEq, Eq)]
pub enum Expired {
    /// No `connect` arrived in time.
    Handshake,
    /// The client was silent for a heartbeat interval: ping it.
    Ping,
    /// The ping went unanswered.
    Heartbeat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Handshake,
    Idle,
    AwaitingPong,
}

pub struct Liveness {
    phase: Phase,
    deadline: Instant,
    interval: Duration,
    timeout: Duration,
}

impl Liveness {
    /// A socket opened at `now` must complete the handshake by `now + connect`.
    pub fn new(now: Instant, connect: Duration, interval: Duration, timeout: Duration) -> Self {
        Liveness {
            phase: Phase::Handshake,
            deadline: now + connect,
            interval,
            timeout,
        }
    }

    /// When the reader must stop waiting for the next frame.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The DDP handshake completed: the heartbeat starts.
    pub fn connected(&mut self, now: Instant) {
        self.idle_from(now);
    }

    /// Any frame arrived. Restarts the idle clock only.
    pub fn frame(&mut self, now: Instant) {
        if self.phase == Phase::Idle {
            self.idle_from(now);
        }
    }

    /// The answer to the server's ping arrived.
    pub fn pong(&mut self, now: Instant) {
        if self.phase != Phase::Handshake {
            self.idle_from(now);
        }
    }

    /// The deadline passed; says what to do and moves to the next phase.
    pub fn expired(&mut self, now: Instant) -> Expired {
        match self.phase {
            Phase::Handshake => Expired::Handshake,
            Phase::Idle => {
                self.phase = Phase::AwaitingPong;
                self.deadline = now + self.timeout;
                Expired::Ping
            }
            Phase::AwaitingPong => Expired::Heartbeat,
        }
    }

    fn idle_from(&mut self, now: Instant) {
        self.phase = Phase::Idle;
        self.deadline = now + self.interval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNECT: Duration = Duration::from_secs(30);
    const INTERVAL: Duration = Duration::from_secs(15);
    const TIMEOUT: Duration = Duration::from_secs(10);

    fn clock(t0: Instant) -> Liveness {
        Liveness::new(t0, CONNECT, INTERVAL, TIMEOUT)
    }

    #[test]
    fn frames_before_connect_do_not_move_the_handshake_deadline() {
        let t0 = Instant::now();
        let mut c = clock(t0);
        for s in 1..40 {
            c.frame(t0 + Duration::from_secs(s));
            c.pong(t0 + Duration::from_secs(s));
            assert_eq!(c.deadline(), t0 + CONNECT);
        }
        assert_eq!(c.expired(t0 + CONNECT), Expired::Handshake);
    }

    #[test]
    fn frames_keep_an_idle_client_from_being_pinged() {
        let t0 = Instant::now();
        let mut c = clock(t0);
        c.connected(t0);
        assert_eq!(c.deadline(), t0 + INTERVAL);
        c.frame(t0 + Duration::from_secs(10));
        assert_eq!(c.deadline(), t0 + Duration::from_secs(25));
        assert_eq!(c.expired(t0 + Duration::from_secs(25)), Expired::Ping);
        assert_eq!(c.deadline(), t0 + Duration::from_secs(35));
    }

    #[test]
    fn only_the_pong_answers_a_ping() {
        let t0 = Instant::now();
        let mut c = clock(t0);
        c.connected(t0);
        assert_eq!(c.expired(t0 + INTERVAL), Expired::Ping);
        let pinged_until = c.deadline();
        for ms in (100..10_000).step_by(100) {
            c.frame(t0 + INTERVAL + Duration::from_millis(ms));
        }
        assert_eq!(
            c.deadline(),
            pinged_until,
            "other frames do not answer a ping"
        );
        assert_eq!(c.expired(pinged_until), Expired::Heartbeat);

        let mut c = clock(t0);
        c.connected(t0);
        assert_eq!(c.expired(t0 + INTERVAL), Expired::Ping);
        let answered = t0 + INTERVAL + Duration::from_secs(1);
        c.pong(answered);
        assert_eq!(c.deadline(), answered + INTERVAL);
        assert_eq!(c.expired(answered + INTERVAL), Expired::Ping);
    }
}
