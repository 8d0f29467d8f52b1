//! Meta's Graph API (WhatsApp Cloud API): sending text messages and reading the phone
//! number's profile, with the API's errors decoded into something an agent can act on.

use std::fmt;
use std::time::Duration;

use palaver_apps_sdk::http::{self, Response};
use palaver_apps_sdk::Error;
use serde::Deserialize;
use serde_json::json;

use crate::config::Config;
use crate::store;

const TIMEOUT: Duration = Duration::from_secs(8);

/// Why the API did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphError {
    /// The app is not configured for sending; the labels of the empty settings.
    NotConfigured(Vec<&'static str>),
    /// The API answered with an error (`{"error": {...}}`).
    Api(ApiError),
    /// The request did not get an answer (refused by the host, timed out, …).
    Transport(Error),
    /// An answer the app does not understand.
    Unexpected { status: u16, body: String },
}

/// Meta's error object.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    #[serde(default)]
    pub message: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub error_subcode: Option<i64>,
    #[serde(default)]
    pub error_data: Option<ErrorData>,
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// `error_data` of an API error.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct ErrorData {
    #[serde(default)]
    pub details: Option<String>,
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ApiError,
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SentId>,
}

#[derive(Deserialize)]
struct SentId {
    id: String,
}

/// What `GET /{phone-number-id}` tells about the business number.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PhoneNumber {
    #[serde(default)]
    pub display_phone_number: String,
    #[serde(default)]
    pub verified_name: String,
    #[serde(default)]
    pub quality_rating: Option<String>,
}

/// A hint for the agent for the error codes they can do something about.
fn hint(code: i64, status: u16) -> Option<&'static str> {
    match code {
        131047 => Some(
            "more than 24 hours have passed since the customer last wrote; WhatsApp only \
             delivers free-form messages inside that window, so wait for the customer to write again",
        ),
        190 => Some("the access token is invalid or expired: an admin must update the app's Access token setting"),
        10 | 200..=299 => Some("the access token lacks the whatsapp_business_messaging permission"),
        131026 => Some("the number cannot receive this message (not on WhatsApp, or an old app version)"),
        131030 => Some("the number is not in the test number's list of allowed recipients"),
        130429 | 131048 | 131056 | 80007 => Some("WhatsApp's rate limit was reached; try again in a moment"),
        _ if status == 401 => Some("an admin must check the app's Access token setting"),
        _ => None,
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WhatsApp refused it (HTTP {}", self.status)?;
        if self.code != 0 {
            write!(f, ", error {}", self.code)?;
        }
        write!(f, "): {}", self.message.trim())?;
        if let Some(details) = self
            .error_data
            .as_ref()
            .and_then(|d| d.details.as_deref())
            .filter(|d| !d.trim().is_empty())
        {
            write!(f, " — {}", details.trim())?;
        }
        if let Some(hint) = hint(self.code, self.status) {
            write!(f, " ({hint})")?;
        }
        Ok(())
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::NotConfigured(missing) => write!(
                f,
                "the app is not configured: an admin must fill in {}",
                missing.join(" and ")
            ),
            GraphError::Api(e) => e.fmt(f),
            GraphError::Transport(Error::PermissionDenied(_)) => f.write_str(
                "the app may not reach the Graph API: an admin must grant it `networking` for graph.facebook.com",
            ),
            GraphError::Transport(Error::Timeout) => {
                f.write_str("the Graph API did not answer in time")
            }
            GraphError::Transport(e) => write!(f, "the Graph API could not be reached: {e}"),
            GraphError::Unexpected { status, body } => {
                write!(f, "the Graph API answered HTTP {status}: {body}")
            }
        }
    }
}

/// The start of an answer's body, on one line, to quote in an error.
fn excerpt(body: &[u8]) -> String {
    store::excerpt(&String::from_utf8_lossy(body), 200)
}

/// Decodes an error answer; anything else that is not 2xx is `Unexpected`.
fn error_from(response: &Response) -> GraphError {
    match serde_json::from_slice::<ErrorEnvelope>(&response.body) {
        Ok(envelope) => GraphError::Api(ApiError {
            status: response.status,
            ..envelope.error
        }),
        Err(_) => GraphError::Unexpected {
            status: response.status,
            body: excerpt(&response.body),
        },
    }
}

fn check(config: &Config) -> Result<(), GraphError> {
    let missing = config.missing_for_sending();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(GraphError::NotConfigured(missing))
    }
}

/// The body of a text message to `to`.
pub fn text_body(to: &str, body: &str) -> serde_json::Value {
    json!({
        "messaging_product": "whatsapp",
        "to": to,
        "type": "text",
        "text": { "body": body },
    })
}

/// Sends `body` as a text message to the WhatsApp number `to`; returns the message's
/// id (`wamid.…`), which statuses refer to.
pub fn send_text(config: &Config, to: &str, body: &str) -> Result<String, GraphError> {
    check(config)?;
    let url = format!("{}/{}/messages", config.graph_url, config.phone_number_id);
    let response = http::Request::post(url)
        .bearer_auth(&config.access_token)
        .json(&text_body(to, body))
        .timeout(TIMEOUT)
        .send()
        .map_err(GraphError::Transport)?;
    if !response.is_success() {
        return Err(error_from(&response));
    }
    let sent: SendResponse =
        serde_json::from_slice(&response.body).map_err(|_| GraphError::Unexpected {
            status: response.status,
            body: excerpt(&response.body),
        })?;
    sent.messages
        .into_iter()
        .next()
        .map(|m| m.id)
        .ok_or_else(|| GraphError::Unexpected {
            status: response.status,
            body: excerpt(&response.body),
        })
}

/// The business phone number's profile: proves the token and the phone number id.
pub fn phone_number(config: &Config) -> Result<PhoneNumber, GraphError> {
    check(config)?;
    let url = format!("{}/{}", config.graph_url, config.phone_number_id);
    let response = http::Request::get(url)
        .query(&[(
            "fields",
            "display_phone_number,verified_name,quality_rating",
        )])
        .bearer_auth(&config.access_token)
        .header("accept", "application/json")
        .timeout(TIMEOUT)
        .send()
        .map_err(GraphError::Transport)?;
    if !response.is_success() {
        return Err(error_from(&response));
    }
    serde_json::from_slice(&response.body).map_err(|_| GraphError::Unexpected {
        status: response.status,
        body: excerpt(&response.body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, body: &str) -> Response {
        Response {
            status,
            headers: vec![],
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn explains_api_errors() {
        let e = error_from(&response(
            400,
            r#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,
                "error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                "fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#,
        ));
        let text = e.to_string();
        assert!(text.starts_with("WhatsApp refused it (HTTP 400, error 131047): (#131047) Re-engagement message — Message failed to send because more than 24 hours"), "{text}");
        assert!(
            text.contains("24 hours have passed since the customer last wrote"),
            "{text}"
        );

        let e = error_from(&response(
            401,
            r#"{"error":{"message":"Invalid OAuth access token - Cannot parse access token","type":"OAuthException","code":190,"fbtrace_id":"x"}}"#,
        ));
        assert_eq!(
            e.to_string(),
            "WhatsApp refused it (HTTP 401, error 190): Invalid OAuth access token - Cannot parse access token (the access token is invalid or expired: an admin must update the app's Access token setting)"
        );

        let e = error_from(&response(502, "<html>bad gateway</html>"));
        assert_eq!(
            e,
            GraphError::Unexpected {
                status: 502,
                body: "<html>bad gateway</html>".into()
            }
        );
    }

    #[test]
    fn text_bodies() {
        assert_eq!(
            text_body("15551234567", "hi"),
            json!({"messaging_product":"whatsapp","to":"15551234567","type":"text","text":{"body":"hi"}})
        );
    }
}
