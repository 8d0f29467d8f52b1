//! The retry rule for HTTP delivery targets (retry on network errors, timeouts, 5xx
//! and 429 with `Retry-After`; give up on any other non-2xx). The requests themselves
//! go through the guarded client in `crate::outbound`.

use std::time::Duration;

use super::policy::{DeliveryError, Retry};

/// A response as far as it was read.
#[derive(Clone, Debug)]
pub struct HttpReply {
    pub status: u16,
    /// The media type, lower-cased, without parameters.
    pub content_type: Option<String>,
    pub retry_after: Option<Duration>,
    /// At most the configured cap.
    pub body: Vec<u8>,
    /// Whether the body was longer than the cap (and cut).
    pub truncated: bool,
}

impl HttpReply {
    /// `Ok` for 2xx; otherwise the failure, judged by the HTTP retry rule.
    pub fn check(&self) -> Result<(), DeliveryError> {
        if (200..300).contains(&self.status) {
            return Ok(());
        }
        let excerpt: String = String::from_utf8_lossy(&self.body)
            .chars()
            .take(200)
            .collect();
        let message = if excerpt.trim().is_empty() {
            format!("HTTP {}", self.status)
        } else {
            format!("HTTP {}: {}", self.status, excerpt.trim())
        };
        let retry = match self.status {
            429 => Retry::Later {
                after: self.retry_after,
            },
            500..=599 => Retry::Later {
                after: self.retry_after,
            },
            _ => Retry::Never,
        };
        Err(DeliveryError { message, retry })
    }

    /// The body as JSON, if it says it is JSON and is whole.
    pub fn json(&self) -> Option<serde_json::Value> {
        let json_type = matches!(
            self.content_type.as_deref(),
            Some("application/json" | "text/javascript" | "application/javascript")
        );
        if !json_type || self.truncated {
            return None;
        }
        serde_json::from_slice(&self.body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: u16, retry_after: Option<u64>) -> HttpReply {
        HttpReply {
            status,
            content_type: Some("application/json".into()),
            retry_after: retry_after.map(Duration::from_secs),
            body: br#"{"text":"hi"}"#.to_vec(),
            truncated: false,
        }
    }

    #[test]
    fn http_retry_rule() {
        for ok in [200, 201, 202, 204] {
            assert!(reply(ok, None).check().is_ok());
        }
        for transient in [500, 502, 503, 504] {
            let e = reply(transient, None).check().unwrap_err();
            assert_eq!(e.retry, Retry::Later { after: None }, "{transient}");
        }
        assert_eq!(
            reply(429, Some(3)).check().unwrap_err().retry,
            Retry::Later {
                after: Some(Duration::from_secs(3))
            }
        );
        for refused in [301, 400, 401, 403, 404, 410, 422] {
            let e = reply(refused, None).check().unwrap_err();
            assert_eq!(e.retry, Retry::Never, "{refused}");
            assert!(e.message.starts_with(&format!("HTTP {refused}")));
        }
    }

    #[test]
    fn json_only_when_whole_and_typed() {
        assert_eq!(reply(200, None).json().unwrap()["text"], "hi");
        let mut cut = reply(200, None);
        cut.truncated = true;
        assert!(cut.json().is_none());
        let mut text = reply(200, None);
        text.content_type = Some("text/plain".into());
        assert!(text.json().is_none());
    }
}
