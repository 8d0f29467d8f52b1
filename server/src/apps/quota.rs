//! Per-app write rates: how many messages, rooms, direct conversations, notices and
//! jobs one app may create per minute. A command or job runs for seconds and may
//! make thousands of host calls; without these, one call could post thousands of
//! messages or create thousands of rooms. Counted in fixed one-minute windows, per
//! app and per server instance.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::limits::AppLimits;

const WINDOW: Duration = Duration::from_secs(60);

/// A write an app's rate is counted for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    Messages,
    Rooms,
    DirectRooms,
    Notifications,
    Jobs,
}

const ALL: [Quota; 5] = [
    Quota::Messages,
    Quota::Rooms,
    Quota::DirectRooms,
    Quota::Notifications,
    Quota::Jobs,
];

impl Quota {
    /// The name carried by `limit-exceeded` (and the log's message).
    pub fn name(self) -> &'static str {
        match self {
            Quota::Messages => "messages-per-minute",
            Quota::Rooms => "rooms-per-minute",
            Quota::DirectRooms => "direct-rooms-per-minute",
            Quota::Notifications => "notifications-per-minute",
            Quota::Jobs => "jobs-per-minute",
        }
    }

    /// What is counted, for the log.
    pub fn what(self) -> &'static str {
        match self {
            Quota::Messages => "messages sent or edited",
            Quota::Rooms => "rooms",
            Quota::DirectRooms => "direct conversations",
            Quota::Notifications => "notifications",
            Quota::Jobs => "scheduled jobs",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn limit(self, limits: &AppLimits) -> u32 {
        match self {
            Quota::Messages => limits.messages_per_minute,
            Quota::Rooms => limits.rooms_per_minute,
            Quota::DirectRooms => limits.direct_rooms_per_minute,
            Quota::Notifications => limits.notifications_per_minute,
            Quota::Jobs => limits.jobs_per_minute,
        }
    }
}

/// Why a write was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Refused {
    pub quota: Quota,
    pub limit: u32,
    /// The first refusal of this window: the one to log (the rest would flood it).
    pub first: bool,
}

#[derive(Clone, Copy)]
struct Window {
    start: Instant,
    count: u32,
    refused: u32,
}

/// One app's counters.
pub struct Rates {
    limits: [u32; ALL.len()],
    windows: Mutex<[Window; ALL.len()]>,
}

impl Rates {
    pub fn new(limits: &AppLimits) -> Rates {
        let now = Instant::now();
        Rates {
            limits: ALL.map(|q| q.limit(limits)),
            windows: Mutex::new(
                [Window {
                    start: now,
                    count: 0,
                    refused: 0,
                }; ALL.len()],
            ),
        }
    }

    /// Counts one write of `quota`, or refuses it when the minute's allowance is
    /// spent.
    pub fn take(&self, quota: Quota) -> Result<(), Refused> {
        self.take_at(quota, Instant::now())
    }

    fn take_at(&self, quota: Quota, now: Instant) -> Result<(), Refused> {
        let limit = self.limits[quota.index()];
        let mut windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = &mut windows[quota.index()];
        if now.saturating_duration_since(w.start) >= WINDOW {
            *w = Window {
                start: now,
                count: 0,
                refused: 0,
            };
        }
        if w.count < limit {
            w.count += 1;
            return Ok(());
        }
        w.refused = w.refused.saturating_add(1);
        Err(Refused {
            quota,
            limit,
            first: w.refused == 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rates(messages: u32) -> Rates {
        Rates::new(&AppLimits {
            messages_per_minute: messages,
            rooms_per_minute: 1,
            ..AppLimits::default()
        })
    }

    #[test]
    fn refuses_past_the_limit_and_reports_once_per_window() {
        let r = rates(3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(r.take_at(Quota::Messages, t0), Ok(()));
        }
        let first = r.take_at(Quota::Messages, t0).unwrap_err();
        assert_eq!(
            first,
            Refused {
                quota: Quota::Messages,
                limit: 3,
                first: true
            }
        );
        assert!(!r.take_at(Quota::Messages, t0).unwrap_err().first);
        // Other kinds are counted apart.
        assert_eq!(r.take_at(Quota::Rooms, t0), Ok(()));
        assert!(r.take_at(Quota::Rooms, t0).is_err());
        assert_eq!(r.take_at(Quota::Notifications, t0), Ok(()));
        // A minute later the allowance is back, and the next refusal is reported.
        let t1 = t0 + WINDOW;
        for _ in 0..3 {
            assert_eq!(r.take_at(Quota::Messages, t1), Ok(()));
        }
        assert!(r.take_at(Quota::Messages, t1).unwrap_err().first);
    }

    #[test]
    fn a_zero_limit_refuses_everything() {
        let r = rates(0);
        assert!(r.take_at(Quota::Messages, Instant::now()).is_err());
    }
}
