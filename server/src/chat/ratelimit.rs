//! Fixed-window attempt counters for logins, keyed per client address and per
//! username, so neither one address nor a distributed attack on one account gets
//! unlimited guesses.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use super::error::{ChatError, ChatResult};
use crate::store::Ts;

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
    windows: Mutex<HashMap<String, Window>>,
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
        if windows.len() > 100_000 {
            windows.retain(|_, w| now.0 - w.start_ms < window_ms);
        }
        let w = windows.entry(key.to_string()).or_insert(Window {
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
}
