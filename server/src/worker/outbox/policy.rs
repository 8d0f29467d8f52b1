//! When a failed delivery is tried again, and when it is given up on.

use std::time::Duration;

use rand::Rng;

/// The wait before the next attempt, growing with the attempts made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// `base × factor^(n-1)` after the n-th failed attempt, capped at `max`.
    Exponential {
        base: Duration,
        factor: u32,
        max: Duration,
    },
    /// `step × n` after the n-th failed attempt, capped at `max`.
    Linear { step: Duration, max: Duration },
}

impl Backoff {
    /// The wait after `attempts` failed attempts (1 for the first failure), before
    /// jitter.
    pub fn delay(&self, attempts: u32) -> Duration {
        let n = attempts.max(1);
        match *self {
            Backoff::Exponential { base, factor, max } => {
                let mut delay = base;
                for _ in 1..n {
                    delay = delay.saturating_mul(factor.max(1));
                    if delay >= max {
                        return max;
                    }
                }
                delay.min(max)
            }
            Backoff::Linear { step, max } => step.saturating_mul(n).min(max),
        }
    }

    /// [`Backoff::delay`] with "equal jitter": half the delay, plus a random part of
    /// the other half, so that items failing together do not retry together.
    pub fn jittered(&self, attempts: u32) -> Duration {
        let delay = self.delay(attempts);
        let half = delay / 2;
        let spread = (delay - half).as_millis() as u64;
        let extra = if spread == 0 {
            0
        } else {
            rand::rng().random_range(0..=spread)
        };
        half + Duration::from_millis(extra)
    }
}

/// How one item is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (the first one included); 1 means no retry.
    pub max_attempts: u32,
    /// An item not delivered this long after its round began is given up on.
    pub max_age: Duration,
    pub backoff: Backoff,
}

/// What went wrong with one attempt, as the handler of the kind judges it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryError {
    /// For admins (`last_error`), e.g. `HTTP 503: upstream down`.
    pub message: String,
    pub retry: Retry,
}

/// Whether a failed attempt may succeed later.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// A network error, a timeout, an overloaded target: try again, not before
    /// `after` if the target said when (`Retry-After`).
    Later { after: Option<Duration> },
    /// The target refused it for good (a 4xx): no retry.
    Never,
}

impl DeliveryError {
    pub fn transient(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            message: message.into(),
            retry: Retry::Later { after: None },
        }
    }

    pub fn permanent(message: impl Into<String>) -> DeliveryError {
        DeliveryError {
            message: message.into(),
            retry: Retry::Never,
        }
    }
}

/// What to do with an item after a failed attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    RetryIn(Duration),
    /// Why it is given up on.
    Dead(GiveUp),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GiveUp {
    Refused,
    OutOfAttempts,
    TooOld,
}

impl GiveUp {
    pub fn as_str(self) -> &'static str {
        match self {
            GiveUp::Refused => "refused",
            GiveUp::OutOfAttempts => "out of attempts",
            GiveUp::TooOld => "too old",
        }
    }
}

impl RetryPolicy {
    /// The verdict after attempt number `attempts` (1-based) failed with `error`,
    /// `age` after the round began. A `Retry-After` longer than the backoff wins;
    /// a retry that would land past the maximum age is not made.
    pub fn verdict(&self, error: &DeliveryError, attempts: u32, age: Duration) -> Verdict {
        let after = match error.retry {
            Retry::Never => return Verdict::Dead(GiveUp::Refused),
            Retry::Later { after } => after,
        };
        if attempts >= self.max_attempts {
            return Verdict::Dead(GiveUp::OutOfAttempts);
        }
        let wait = self
            .backoff
            .jittered(attempts)
            .max(after.unwrap_or_default());
        if age.saturating_add(wait) > self.max_age {
            return Verdict::Dead(GiveUp::TooOld);
        }
        Verdict::RetryIn(wait)
    }
}

/// Parses `Retry-After`: delay seconds, or an HTTP date (relative to `now`, in ms).
pub fn parse_retry_after(value: &str, now_ms: i64) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let ms = at.timestamp_millis().saturating_sub(now_ms);
    Some(Duration::from_millis(ms.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            max_age: S * 3600,
            backoff: Backoff::Exponential {
                base: S,
                factor: 2,
                max: S * 60,
            },
        }
    }

    #[test]
    fn exponential_grows_then_caps() {
        let b = policy(10).backoff;
        let delays: Vec<u64> = (1..=8).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(b.delay(0), S, "attempt 0 counts as the first");
        assert_eq!(b.delay(u32::MAX), S * 60, "no overflow");
        let tens = Backoff::Exponential {
            base: Duration::from_millis(100),
            factor: 10,
            max: S * 3600,
        };
        assert_eq!(tens.delay(1), Duration::from_millis(100));
        assert_eq!(tens.delay(3), S * 10);
        let lin = Backoff::Linear {
            step: S * 2,
            max: S * 5,
        };
        assert_eq!(
            (lin.delay(1), lin.delay(2), lin.delay(9)),
            (S * 2, S * 4, S * 5)
        );
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let b = policy(10).backoff;
        for n in 1..=6 {
            let full = b.delay(n);
            for _ in 0..50 {
                let j = b.jittered(n);
                assert!(
                    j >= full / 2 && j <= full,
                    "{j:?} outside [{:?}, {full:?}]",
                    full / 2
                );
            }
        }
    }

    #[test]
    fn verdicts() {
        let p = policy(3);
        let transient = DeliveryError::transient("HTTP 503");
        assert!(matches!(p.verdict(&transient, 1, S), Verdict::RetryIn(_)));
        assert_eq!(
            p.verdict(&transient, 3, S),
            Verdict::Dead(GiveUp::OutOfAttempts)
        );
        assert_eq!(
            p.verdict(&DeliveryError::permanent("HTTP 404"), 1, S),
            Verdict::Dead(GiveUp::Refused),
            "a refusal is not retried even with attempts left"
        );
        // Retry-After longer than the backoff wins.
        let later = DeliveryError {
            message: "HTTP 429".into(),
            retry: Retry::Later {
                after: Some(S * 30),
            },
        };
        assert_eq!(p.verdict(&later, 1, S), Verdict::RetryIn(S * 30));
        // Too old: the next attempt would land past the maximum age.
        assert_eq!(
            p.verdict(&transient, 1, S * 3600),
            Verdict::Dead(GiveUp::TooOld)
        );
        let one_shot = policy(1);
        assert_eq!(
            one_shot.verdict(&transient, 1, S),
            Verdict::Dead(GiveUp::OutOfAttempts)
        );
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(" 7 ", 0), Some(S * 7));
        let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2015 07:28:00 GMT")
            .unwrap()
            .timestamp_millis();
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(S * 30)
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now),
            Some(Duration::ZERO),
            "a date in the past means now"
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
