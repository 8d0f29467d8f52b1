//! Which lane a thread's writes take. Background work (the delivery queue's
//! fan-outs and deliveries) writes a lot and can wait; a request's write is what a
//! client waits for. A backend with one writer (SQLite) serves the request lane
//! first and gives background writes short slices, so a post never queues behind
//! thousands of queued notices. The lane belongs to the thread, set once where a
//! runtime's threads start (`worker::background`), so no call site passes it.

use std::cell::Cell;

/// Whose writes these are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteLane {
    /// A request, or anything a person waits for (the default).
    Request,
    /// Work that tolerates seconds of delay.
    Background,
}

thread_local! {
    static LANE: Cell<WriteLane> = const { Cell::new(WriteLane::Request) };
}

/// Marks the calling thread's writes as `lane`'s.
pub fn set_thread_lane(lane: WriteLane) {
    LANE.with(|l| l.set(lane));
}

/// The calling thread's lane.
pub fn thread_lane() -> WriteLane {
    LANE.with(Cell::get)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_is_in_the_request_lane_until_marked() {
        assert_eq!(thread_lane(), WriteLane::Request);
        std::thread::spawn(|| {
            set_thread_lane(WriteLane::Background);
            assert_eq!(thread_lane(), WriteLane::Background);
        })
        .join()
        .unwrap();
        assert_eq!(thread_lane(), WriteLane::Request);
    }
}
