//! Fixed-window attempt counters for logins, keyed per client address and per
//! account, so neither one address nor a distributed attack on one account gets
//! unlimited guesses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::error::{ChatError, ChatResult};
use crate::store::Ts;

/// Most keys one limiter remembers. Keys are stored as fixed-size digests, so this
/// bounds its memory (a few MiB) whatever the callers send as names.
const MAX_KEYS: usize = 100_000;

/// A key as stored: a digest of the caller's key, whatever its length.
type KeyDigest = [u8; 16];

fn digest(key: &str) -> KeyDigest {
    let full = Sha256::digest(key.as_bytes());
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

/// The per-address limiter's key: an IPv6 client is counted by its /64, the block
/// one subscriber usually gets, so rotating addresses within it gains nothing.
pub fn address_key(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitRule {
    pub limit: u32,
    pub window: Duration,
}

struct Window {
    start_ms: i64,
    count: u32,
}

/// Counts attempts per key within a fixed window.
pub struct RateLimiter {
    rule: LimitRule,
    windows: Mutex<HashMap<KeyDigest, Window>>,
}

impl RateLimiter {
    pub fn new(rule: LimitRule) -> RateLimiter {
        RateLimiter {
            rule,
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Records one attempt for `key` at `now`; refuses once the window's limit is used.
    pub fn hit(&self, key: &str, now: Ts) -> ChatResult<()> {
        let window_ms = self.rule.window.as_millis() as i64;
        let mut windows = self
            .windows
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() >= MAX_KEYS {
            make_room(&mut windows, now, window_ms);
        }
        let w = windows.entry(digest(key)).or_insert(Window {
            start_ms: now.0,
            count: 0,
        });
        if now.0 - w.start_ms >= window_ms {
            w.start_ms = now.0;
            w.count = 0;
        }
        if w.count >= self.rule.limit {
            return Err(ChatError::RateLimited {
                limit: self.rule.limit,
                remaining: 0,
                reset_ms: w.start_ms + window_ms,
            });
        }
        w.count += 1;
        Ok(())
    }
}

/// Forgets expired windows; if that is not enough (a flood of distinct keys within
/// one window), the older half. Forgetting a count errs towards letting an attempt
/// through: refusing instead would let such a flood lock everyone out of logging in.
fn make_room(windows: &mut HashMap<KeyDigest, Window>, now: Ts, window_ms: i64) {
    windows.retain(|_, w| now.0 - w.start_ms < window_ms);
    if windows.len() < MAX_KEYS / 2 {
        return;
    }
    let mut starts: Vec<i64> = windows.values().map(|w| w.start_ms).collect();
    let mid = starts.len() / 2;
    let (_, median, _) = starts.select_nth_unstable(mid);
    let median = *median;
    windows.retain(|_, w| w.start_ms > median);
    tracing::warn!(
        kept = windows.len(),
        "login rate limiter over {MAX_KEYS} keys within one window; forgot the older half"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_within_window_and_resets_after() {
        let rl = RateLimiter::new(LimitRule {
            limit: 2,
            window: Duration::from_secs(10),
        });
        rl.hit("a", Ts(1_000)).unwrap();
        rl.hit("a", Ts(2_000)).unwrap();
        match rl.hit("a", Ts(3_000)) {
            Err(ChatError::RateLimited { reset_ms, .. }) => assert_eq!(reset_ms, 11_000),
            other => panic!("expected rate limit, got {other:?}"),
        }
        rl.hit("b", Ts(3_000)).unwrap();
        rl.hit("a", Ts(11_000)).unwrap();
    }

    #[test]
    fn stays_bounded_under_a_flood_of_keys() {
        let rl = RateLimiter::new(LimitRule {
            limit: 1,
            window: Duration::from_secs(60),
        });
        let long_name = "x".repeat(100_000);
        rl.hit(&long_name, Ts(0)).unwrap();
        assert!(rl.hit(&long_name, Ts(1)).is_err());
        for i in 0..(MAX_KEYS as i64 + 10) {
            rl.hit(&format!("k{i}"), Ts(2 + i / 1000)).unwrap();
        }
        let len = rl.windows.lock().unwrap().len();
        assert!(len <= MAX_KEYS, "{len} keys");
        // The newest counts are kept.
        let last = format!("k{}", MAX_KEYS + 9);
        assert!(rl.hit(&last, Ts(200)).is_err());
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let key = |s: &str| address_key(s.parse().unwrap());
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2::1"), key("2001:db8:1:2:ffff:1:2:3"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
    }
}
