//! Which lane a thread's store work takes. Background work (the delivery queue's
//! fan-outs and deliveries) reads and writes a lot and can wait; a request's is
//! what a client waits for. A backend with one writer and a few readers (SQLite)
//! serves the request lane first: background writes get short slices, background
//! reads some of the connections, so a post never queues behind thousands of
//! queued notices. The lane belongs to the thread, set once where a
//! runtime's threads start (`worker::background`), so no call site passes it.

use std::cell::Cell;

/// Whose store work this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    /// A request, or anything a person waits for (the default).
    Request,
    /// Work that tolerates seconds of delay.
    Background,
}

thread_local! {
    static LANE: Cell<Lane> = const { Cell::new(Lane::Request) };
}

/// Marks the calling thread's store work as `lane`'s.
pub fn set_thread_lane(lane: Lane) {
    LANE.with(|l| l.set(lane));
}

/// The calling thread's lane.
pub fn thread_lane() -> Lane {
    LANE.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_in_the_request_lane_until_marked() {
        assert_eq!(thread_lane(), Lane::Request);
        std::thread::spawn(|| {
            set_thread_lane(Lane::Background);
            assert_eq!(thread_lane(), Lane::Background);
        })
        .join()
        .unwrap();
        assert_eq!(thread_lane(), Lane::Request);
    }
}
