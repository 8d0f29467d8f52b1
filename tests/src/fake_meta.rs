//! A fake of Meta's Graph API for the WhatsApp Business Cloud API, served over HTTPS at
//! the real host name (`graph.facebook.com`) through [`TlsFake`], so the app keeps
//! its real default URL and the server's network policy runs for real; plus Meta's
//! other side, the webhook calls it makes to a business's server, signed with the
//! app secret ([`FakeMeta::deliver`]).
//!
//! It checks what it receives the way the Graph API does — the host, the API version,
//! the phone number id, `Authorization: Bearer <token>`, the JSON body of a message —
//! records every request, and answers with Meta's shapes, errors included
//! (`{"error": {"message", "type": "OAuthException", "code", "error_data",
//! "fbtrace_id"}}`).
//!
//! | request | answer |
//! |---|---|
//! | `POST /v21.0/<phone-number-id>/messages` | `{"messaging_product", "contacts", "messages": [{"id": "wamid.…"}]}` |
//! | `GET /v21.0/<phone-number-id>?fields=…` | the number's `display_phone_number`, `verified_name`, `quality_rating`, `id` |
//! | anything else | Graph's errors for unknown paths and objects |
//!
//! ```ignore
//! let meta = FakeMeta::start(MetaConfig::default()).await;
//! let srv = Palaver::builder().envs(meta.palaver_env()).start().await;
//! let hi = fake_meta::text_message(meta.config(), "15551234567", "Jane", "wamid.1", "Hi");
//! let (status, body) = meta.deliver(&webhook_url, &hi).await;
//! ```

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub use crate::fake_tls::Recorded;
use crate::fake_tls::TlsFake;
use crate::lock;

/// The Graph API's host.
pub const GRAPH_HOST: &str = "graph.facebook.com";
/// The API version the app defaults to.
pub const VERSION: &str = "v21.0";

/// What the fake Meta knows: the business number and the credentials it accepts.
#[derive(Clone, Debug)]
pub struct MetaConfig {
    /// The only access token the Graph API accepts.
    pub access_token: String,
    /// The business phone number's id.
    pub phone_number_id: String,
    pub display_phone_number: String,
    pub verified_name: String,
    /// The Meta app's secret: webhook calls are signed with it.
    pub app_secret: String,
    /// The WhatsApp Business Account id (the `entry[].id` of notifications).
    pub waba_id: String,
}

impl Default for MetaConfig {
    fn default() -> Self {
        MetaConfig {
            access_token: "EAAG-test-token-3f9c2a".into(),
            phone_number_id: "106540352242922".into(),
            display_phone_number: "+1 555-010-0199".into(),
            verified_name: "Acme Support".into(),
            app_secret: "a3c1f0e2d4b5968778695a4b3c2d1e0f".into(),
            waba_id: "102290129340398".into(),
        }
    }
}

#[derive(Default)]
struct Inner {
    /// Recipients whose 24-hour customer-service window is closed.
    closed_windows: HashSet<String>,
    /// Tokens that were valid once and are now expired.
    expired_tokens: HashSet<String>,
    next_message: u64,
    /// `(wamid, to, body)` of every message accepted.
    accepted: Vec<(String, String, String)>,
}

#[derive(Clone)]
struct Shared {
    config: MetaConfig,
    inner: Arc<Mutex<Inner>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.inner)
    }
}

/// The running fake; see the module documentation.
pub struct FakeMeta {
    tls: TlsFake,
    shared: Shared,
    client: reqwest::Client,
}

impl FakeMeta {
    /// Starts the Graph API on `graph.facebook.com` (HTTPS, loopback).
    pub async fn start(config: MetaConfig) -> FakeMeta {
        let shared = Shared {
            config,
            inner: Arc::default(),
        };
        let router = Router::new().fallback(graph).with_state(shared.clone());
        let tls = TlsFake::start(&[GRAPH_HOST], router).await;
        // Meta calls the server under test on loopback: no proxy from the
        // environment, and a hung server fails the test instead of stalling it.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("build the webhook client");
        FakeMeta {
            tls,
            shared,
            client,
        }
    }

    pub fn config(&self) -> &MetaConfig {
        &self.shared.config
    }

    /// The environment a server needs to reach this fake as `graph.facebook.com`.
    pub fn palaver_env(&self) -> Vec<(String, String)> {
        self.tls.palaver_env()
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.tls.requests()
    }

    /// The requests to send messages, oldest first.
    pub fn message_requests(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.route().ends_with("/messages"))
            .collect()
    }

    /// `(wamid, to, text)` of every message the API accepted, oldest first.
    pub fn accepted(&self) -> Vec<(String, String, String)> {
        self.shared.lock().accepted.clone()
    }

    /// Makes free-form messages to `number` fail as outside the 24-hour window.
    pub fn close_window(&self, number: &str) {
        self.shared.lock().closed_windows.insert(number.to_string());
    }

    /// Makes the configured access token expired (error 190, as when a user token
    /// lapses or a system user's token is revoked).
    pub fn expire_token(&self) {
        let token = self.shared.config.access_token.clone();
        self.shared.lock().expired_tokens.insert(token);
    }

    /// Posts `payload` to `url` the way Meta delivers a notification: JSON, signed
    /// with the app secret in `X-Hub-Signature-256`. Returns the status and body.
    pub async fn deliver(&self, url: &str, payload: &Value) -> (StatusCode, String) {
        let body = serde_json::to_vec(payload).expect("serialise the notification");
        let signature = signature_header(&self.shared.config.app_secret, &body);
        self.post_webhook(url, body, Some(&signature)).await
    }

    /// Posts raw `body` to `url` with `signature` (or none) in `X-Hub-Signature-256`,
    /// for the tests of forged calls.
    pub async fn post_webhook(
        &self,
        url: &str,
        body: Vec<u8>,
        signature: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "facebookexternalua")
            .body(body);
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        let response = request.send().await.expect("deliver the webhook call");
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// `sha256=<hex>`: the `X-Hub-Signature-256` Meta sends with `body`.
pub fn signature_header(app_secret: &str, body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(app_secret.as_bytes(), body))
    )
}

fn fbtrace_id(n: u64) -> String {
    format!("A{:020x}", n.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Meta's error answer.
fn graph_error(status: StatusCode, code: i64, message: &str, extra: Value) -> Response {
    let mut error = json!({
        "message": message,
        "type": "OAuthException",
        "code": code,
        "fbtrace_id": fbtrace_id(code as u64),
    });
    if let (Some(error), Some(extra)) = (error.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            error.insert(k.clone(), v.clone());
        }
    }
    (status, axum::Json(json!({ "error": error }))).into_response()
}

fn invalid_parameter(message: &str, details: &str) -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        100,
        message,
        json!({ "error_data": { "messaging_product": "whatsapp", "details": details } }),
    )
}

async fn graph(State(shared): State<Shared>, Extension(req): Extension<Recorded>) -> Response {
    let config = &shared.config;
    if req.host != GRAPH_HOST {
        return (StatusCode::MISDIRECTED_REQUEST, "unknown host").into_response();
    }
    let path = req.route();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let Some((version, rest)) = segments.split_first() else {
        return unknown_path(path);
    };
    if !version.starts_with('v') || *version != VERSION {
        return graph_error(
            StatusCode::BAD_REQUEST,
            2635,
            &format!("(#2635) You are calling a deprecated version of the Graph API. Please update to the latest version: {VERSION}."),
            json!({}),
        );
    }
    // Authentication comes before the object is looked up, as on the real API.
    let token = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "));
    match token {
        None => {
            return graph_error(
                StatusCode::BAD_REQUEST,
                2500,
                "An active access token must be used to query information about the current user.",
                json!({}),
            )
        }
        Some(t) if shared.lock().expired_tokens.contains(t) => {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                190,
                "Error validating access token: Session has expired on Tuesday, 01-Apr-25 10:00:00 PDT.",
                json!({ "error_subcode": 463 }),
            )
        }
        Some(t) if t != config.access_token => {
            return graph_error(
                StatusCode::UNAUTHORIZED,
                190,
                "Invalid OAuth access token - Cannot parse access token",
                json!({}),
            )
        }
        Some(_) => {}
    }
    let object = rest.first().copied().unwrap_or("");
    if object != config.phone_number_id {
        return graph_error(
            StatusCode::BAD_REQUEST,
            100,
            &format!("Unsupported {} request. Object with ID '{object}' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api", req.method.to_ascii_lowercase()),
            json!({ "error_subcode": 33 }),
        );
    }
    match (req.method.as_str(), &rest[1..]) {
        ("GET", []) => axum::Json(json!({
            "verified_name": config.verified_name,
            "display_phone_number": config.display_phone_number,
            "quality_rating": "GREEN",
            "id": config.phone_number_id,
        }))
        .into_response(),
        ("POST", ["messages"]) => send_message(&shared, &req),
        _ => unknown_path(path),
    }
}

fn unknown_path(path: &str) -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        2500,
        &format!("Unknown path components: {path}"),
        json!({}),
    )
}

fn send_message(shared: &Shared, req: &Recorded) -> Response {
    let json_type = req.has_content_type("application/json");
    let Ok(message) = serde_json::from_slice::<Value>(&req.body) else {
        return invalid_parameter(
            "(#100) Invalid parameter",
            "The request body is not valid JSON.",
        );
    };
    if !json_type {
        return invalid_parameter(
            "(#100) Invalid parameter",
            "Content-Type must be application/json.",
        );
    }
    if message["messaging_product"] != "whatsapp" {
        return invalid_parameter(
            "(#100) The parameter messaging_product is required.",
            "The parameter messaging_product is required.",
        );
    }
    let Some(to) = message["to"].as_str().filter(|t| !t.is_empty()) else {
        return invalid_parameter(
            "(#100) The parameter to is required.",
            "The parameter to is required.",
        );
    };
    if message["type"] != "text" {
        return invalid_parameter(
            "(#100) Param type must be one of {AUDIO, CONTACTS, DOCUMENT, IMAGE, INTERACTIVE, LOCATION, REACTION, STICKER, TEMPLATE, TEXT, VIDEO} - got \"\".",
            "This fake only sends text messages.",
        );
    }
    let Some(text) = message["text"]["body"]
        .as_str()
        .filter(|t| !t.trim().is_empty())
    else {
        return invalid_parameter(
            "(#100) The parameter text['body'] is required.",
            "The parameter text['body'] is required.",
        );
    };
    let digits = to.trim_start_matches('+');
    if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            131009,
            "(#131009) Parameter value is not valid",
            json!({ "error_data": { "messaging_product": "whatsapp", "details": "Recipient phone number is not a valid phone number." } }),
        );
    }
    let mut inner = shared.lock();
    if inner.closed_windows.contains(digits) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            131047,
            "(#131047) Re-engagement message",
            json!({ "error_data": { "messaging_product": "whatsapp", "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number." } }),
        );
    }
    inner.next_message += 1;
    let wamid = format!(
        "wamid.HBgL{digits}FQIAERgS{:016X}",
        inner.next_message.wrapping_mul(0x2545_f491_4f6c_dd1d)
    );
    inner
        .accepted
        .push((wamid.clone(), digits.to_string(), text.to_string()));
    axum::Json(json!({
        "messaging_product": "whatsapp",
        "contacts": [{ "input": to, "wa_id": digits }],
        "messages": [{ "id": wamid }],
    }))
    .into_response()
}

/// A `messages` notification for `phone_number_id` holding `value`'s other fields.
pub fn notification(config: &MetaConfig, value: Value) -> Value {
    let mut value = value;
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] = json!({
        "display_phone_number": config.display_phone_number.replace(['+', ' ', '-'], ""),
        "phone_number_id": config.phone_number_id,
    });
    json!({
        "object": "whatsapp_business_account",
        "entry": [{ "id": config.waba_id, "changes": [{ "value": value, "field": "messages" }] }],
    })
}

/// A notification with one message from `from` (profile `name`); `message` holds the
/// type-specific fields, e.g. `{"type": "text", "text": {"body": "Hi"}}`.
pub fn message_notification(
    config: &MetaConfig,
    from: &str,
    name: &str,
    wamid: &str,
    message: Value,
) -> Value {
    let mut message = message;
    message["from"] = json!(from);
    message["id"] = json!(wamid);
    message["timestamp"] = json!(chrono::Utc::now().timestamp().to_string());
    notification(
        config,
        json!({
            "contacts": [{ "profile": { "name": name }, "wa_id": from }],
            "messages": [message],
        }),
    )
}

/// A notification with one text message.
pub fn text_message(config: &MetaConfig, from: &str, name: &str, wamid: &str, text: &str) -> Value {
    message_notification(
        config,
        from,
        name,
        wamid,
        json!({ "type": "text", "text": { "body": text } }),
    )
}

/// A notification with the status `status` of the business's message `wamid` to
/// `recipient`; a `failed` one carries `error` (code, title, details).
pub fn status_notification(
    config: &MetaConfig,
    wamid: &str,
    recipient: &str,
    status: &str,
    error: Option<(i64, &str, &str)>,
) -> Value {
    let mut entry = json!({
        "id": wamid,
        "status": status,
        "timestamp": chrono::Utc::now().timestamp().to_string(),
        "recipient_id": recipient,
    });
    if status != "failed" {
        entry["conversation"] = json!({
            "id": "8c4c6e4a0b5bfe1a3c2d9e0f7a6b5c4d",
            "origin": { "type": "service" },
        });
        entry["pricing"] =
            json!({ "billable": true, "pricing_model": "CBP", "category": "service" });
    }
    if let Some((code, title, details)) = error {
        entry["errors"] = json!([{
            "code": code,
            "title": title,
            "message": title,
            "error_data": { "details": details },
            "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
        }]);
    }
    notification(config, json!({ "statuses": [entry] }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231, test case 2.
        assert_eq!(
            hex::encode(hmac_sha256(b"Jefe", b"what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        assert_eq!(
            hex::encode(hmac_sha256(
                &[0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First"
            )),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }
}
