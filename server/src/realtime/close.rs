//! How the server ends a websocket: an RFC 6455 close code and a short reason, one
//! code per cause, so a client (and an operator reading the log) can tell a
//! shutdown from a timeout, an oversized frame or an abusive client.
//!
//! The codes follow Rocket.Chat's DDP streamer where it has one (4000 for
//! timeouts, 1013 for slow consumers, 1002/1007 for bad websocket data) and RFC
//! 6455 otherwise.

/// The client asked to close, or the DDP version is not one we speak.
pub const NORMAL: u16 = 1000;
/// The server is shutting down.
pub const GOING_AWAY: u16 = 1001;
/// The client broke the websocket protocol itself.
pub const PROTOCOL: u16 = 1002;
/// A text frame that is not UTF-8.
pub const INVALID_DATA: u16 = 1007;
/// Protocol abuse: the client keeps sending what DDP does not allow.
pub const POLICY: u16 = 1008;
/// A message above the size limit.
pub const TOO_BIG: u16 = 1009;
/// Something failed inside the server.
pub const INTERNAL: u16 = 1011;
/// Overload: the client could not keep up, or events were lost; reconnect later.
pub const AGAIN: u16 = 1013;
/// Rocket.Chat's `TIMEOUT`: no `connect` in time, or a heartbeat went unanswered.
pub const TIMEOUT: u16 = 4000;

/// RFC 6455 allows 123 bytes of reason in a close frame.
const MAX_REASON_BYTES: usize = 123;

/// A close the server sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: String,
}

impl Close {
    /// `reason` is cut (at a character boundary) to what a close frame can carry.
    pub fn new(code: u16, reason: impl Into<String>) -> Close {
        let mut reason = reason.into();
        if reason.len() > MAX_REASON_BYTES {
            let mut end = MAX_REASON_BYTES;
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            reason.truncate(end);
        }
        Close { code, reason }
    }

    pub fn normal() -> Close {
        Close::new(NORMAL, "")
    }

    pub fn internal() -> Close {
        Close::new(INTERNAL, "internal server error")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_fit_a_close_frame_without_splitting_a_character() {
        let long = "é".repeat(100);
        let close = Close::new(POLICY, long);
        assert!(close.reason.len() <= MAX_REASON_BYTES);
        assert_eq!(close.reason.len(), 122, "61 two-byte characters");
        assert_eq!(Close::new(TOO_BIG, "short").reason, "short");
    }
}
