//! The queue's tunables (`[outbox]`, `PALAVER_OUTBOX__*`), in one struct so that
//! they can move into the workspace settings as a whole.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::policy::{Backoff, RetryPolicy};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutboxConfig {
    /// Deliveries of one kind under way at once on this instance.
    pub concurrency: usize,
    /// How often the queue is looked at for items other instances enqueued (or
    /// that became due); items enqueued here wake the worker at once.
    pub poll_interval_ms: u64,
    /// How long an instance holds an item it works on; a crashed instance's items
    /// are taken over after this. Longer than `http_timeout_secs`.
    pub lease_secs: u64,
    /// Attempts in all before an item goes to the dead letters.
    pub max_attempts: u32,
    /// An item not delivered this long after it was enqueued goes to the dead letters.
    pub max_age_secs: u64,
    /// The first retry's wait; each further one doubles it (with jitter).
    pub backoff_base_ms: u64,
    /// The longest wait between two attempts.
    pub backoff_max_secs: u64,
    /// Time limit of one outbound HTTP request (connect to last byte).
    pub http_timeout_secs: u64,
    /// Most bytes of a response read; the rest is ignored.
    pub max_response_bytes: usize,
    /// How long after a post its notification fan-out starts (kind `notify`): the
    /// post's own answer and realtime broadcast go first.
    pub fanout_start_delay_ms: u64,
    /// Threads of the background runtime the deliveries run on (0: half the
    /// cores, at least one); see `worker::background`.
    pub threads: usize,
    /// How far below the request threads the background threads are scheduled
    /// (Linux `nice` steps, 0 to 19; 0: the same priority).
    pub nice: i32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            concurrency: 16,
            poll_interval_ms: 1000,
            lease_secs: 60,
            max_attempts: 10,
            max_age_secs: 24 * 3600,
            backoff_base_ms: 1000,
            backoff_max_secs: 3600,
            http_timeout_secs: 10,
            max_response_bytes: 64 * 1024,
            fanout_start_delay_ms: 20,
            threads: 0,
            nice: 10,
        }
    }
}

impl OutboxConfig {
    /// Checks the values hang together; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1024).contains(&self.concurrency) {
            return Err(format!(
                "outbox.concurrency must be 1 to 1024, not {}",
                self.concurrency
            ));
        }
        if !(10..=3_600_000).contains(&self.poll_interval_ms) {
            return Err(format!(
                "outbox.poll_interval_ms must be 10 to 3600000, not {}",
                self.poll_interval_ms
            ));
        }
        if self.http_timeout_secs == 0 {
            return Err("outbox.http_timeout_secs must be at least 1".into());
        }
        if self.lease_secs <= self.http_timeout_secs {
            return Err(format!(
                "outbox.lease_secs ({}) must be longer than outbox.http_timeout_secs ({}): \
                 a lease must outlast the delivery it covers",
                self.lease_secs, self.http_timeout_secs
            ));
        }
        if self.max_attempts == 0 {
            return Err("outbox.max_attempts must be at least 1".into());
        }
        if self.max_age_secs == 0 {
            return Err("outbox.max_age_secs must be at least 1".into());
        }
        if self.backoff_base_ms == 0 {
            return Err("outbox.backoff_base_ms must be at least 1".into());
        }
        if self.backoff_max_secs.saturating_mul(1000) < self.backoff_base_ms {
            return Err(format!(
                "outbox.backoff_max_secs ({}) must not be below outbox.backoff_base_ms ({} ms)",
                self.backoff_max_secs, self.backoff_base_ms
            ));
        }
        if self.fanout_start_delay_ms > 60_000 {
            return Err(format!(
                "outbox.fanout_start_delay_ms must be at most 60000, not {}",
                self.fanout_start_delay_ms
            ));
        }
        if self.threads > 256 {
            return Err(format!(
                "outbox.threads must be 0 (half the cores) to 256, not {}",
                self.threads
            ));
        }
        if !(0..=19).contains(&self.nice) {
            return Err(format!("outbox.nice must be 0 to 19, not {}", self.nice));
        }
        if self.max_response_bytes == 0 {
            return Err("outbox.max_response_bytes must be at least 1".into());
        }
        Ok(())
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs)
    }

    pub fn http_timeout(&self) -> Duration {
        Duration::from_secs(self.http_timeout_secs)
    }

    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.max_age_secs)
    }

    pub fn backoff_max(&self) -> Duration {
        Duration::from_secs(self.backoff_max_secs)
    }

    /// The policy of a kind whose handler has no policy of its own.
    pub fn default_policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.max_attempts,
            max_age: self.max_age(),
            backoff: Backoff::Exponential {
                base: Duration::from_millis(self.backoff_base_ms),
                factor: 2,
                max: self.backoff_max(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_values_named() {
        OutboxConfig::default().validate().unwrap();
        let bad = |f: fn(&mut OutboxConfig), key: &str| {
            let mut c = OutboxConfig::default();
            f(&mut c);
            let err = c.validate().unwrap_err();
            assert!(err.contains(key), "{err}");
        };
        bad(|c| c.concurrency = 0, "outbox.concurrency");
        bad(|c| c.poll_interval_ms = 1, "outbox.poll_interval_ms");
        bad(|c| c.lease_secs = 10, "outbox.lease_secs");
        bad(|c| c.max_attempts = 0, "outbox.max_attempts");
        bad(|c| c.max_age_secs = 0, "outbox.max_age_secs");
        bad(|c| c.backoff_base_ms = 0, "outbox.backoff_base_ms");
        bad(
            |c| {
                c.backoff_base_ms = 5000;
                c.backoff_max_secs = 1
            },
            "outbox.backoff_max_secs",
        );
        bad(|c| c.max_response_bytes = 0, "outbox.max_response_bytes");
        bad(|c| c.nice = 20, "outbox.nice");
        bad(|c| c.nice = -1, "outbox.nice");
        bad(|c| c.threads = 1000, "outbox.threads");
        bad(
            |c| c.fanout_start_delay_ms = 60_001,
            "outbox.fanout_start_delay_ms",
        );
    }
}
