//! Outbound HTTP for delivery handlers: one shared client with timeouts, a cap on
//! how much of a response is read, and the retry rule for HTTP targets (retry on
//! network errors, timeouts, 5xx and 429 with `Retry-After`; give up on any other
//! non-2xx). Targets are configured by admins, so there is no allow list here
//! (unlike apps' outbound HTTP).

use std::time::Duration;

use super::policy::{parse_retry_after, DeliveryError, Retry};
use crate::store::Ts;

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

/// The shared client.
pub struct HttpSender {
    client: reqwest::Client,
    max_response_bytes: usize,
}

impl HttpSender {
    pub fn new(timeout: Duration, max_response_bytes: usize) -> HttpSender {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            // A redirect of a POST is ambiguous; the admin fixes the URL instead.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Palaver/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "outbound HTTP client; using the defaults");
                reqwest::Client::new()
            });
        HttpSender {
            client,
            max_response_bytes,
        }
    }

    /// POSTs `body` as JSON with extra `headers`; a network error or timeout is a
    /// transient failure.
    pub async fn post_json(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: &[(&str, String)],
    ) -> Result<HttpReply, DeliveryError> {
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.map_err(|e| network_error(&e))?;
        let status = response.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE).map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
        let retry_after =
            header(reqwest::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, Ts::now().0));
        let mut body = Vec::new();
        let mut truncated = false;
        let mut response = response;
        // The status is what counts; a body cut short is only less to read.
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = self.max_response_bytes.saturating_sub(body.len());
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpReply {
            status,
            content_type,
            retry_after,
            body,
            truncated,
        })
    }
}

fn network_error(e: &reqwest::Error) -> DeliveryError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    // reqwest's Display leaves the cause out; the source chain has it.
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    DeliveryError::transient(format!("{what}: {detail}"))
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
