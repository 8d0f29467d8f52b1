//! The four ways out: Rocket.Chat's push gateway, FCM HTTP v1, APNs (token auth,
//! HTTP/2) and Web Push. Each turns one answer into delivered, dead device (removed
//! by the caller), retry later, or refused for good.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use super::content::PushContent;
use super::jwt;
use super::webpush::{self, Vapid};
use crate::store::push::WebSubscription;
use crate::store::Ts;
use crate::worker::outbox::http::HttpReply;
use crate::worker::outbox::policy::{parse_retry_after, DeliveryError};

/// Google's OAuth token endpoint (the service account's `token_uri` is this too).
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const FCM_SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
pub const APNS_PRODUCTION: &str = "https://api.push.apple.com";
pub const APNS_SANDBOX: &str = "https://api.sandbox.push.apple.com";

/// What became of one send.
#[derive(Debug)]
pub enum Outcome {
    Delivered,
    /// The service says the device is gone: remove it.
    DeadDevice(String),
}

/// How much of a response is read.
const MAX_RESPONSE: usize = 64 * 1024;

pub(super) async fn read(response: reqwest::Response) -> HttpReply {
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
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    let retry_after =
        header(reqwest::header::RETRY_AFTER).and_then(|v| parse_retry_after(&v, Ts::now().0));
    let mut body = Vec::new();
    let mut truncated = false;
    let mut response = response;
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = MAX_RESPONSE.saturating_sub(body.len());
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    HttpReply {
        status,
        content_type,
        retry_after,
        body,
        truncated,
    }
}

pub(super) fn network(e: reqwest::Error) -> DeliveryError {
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        detail = format!("{detail}: {s}");
        source = s.source();
    }
    DeliveryError::transient(format!("request failed: {detail}"))
}

/// The body Rocket.Chat POSTs to `{gateway}/push/{apn|gcm}/send`.
pub fn gateway_body(
    content: &PushContent,
    service: &str,
    token: &str,
    app_name: &str,
    unique_id: &str,
    created_at: &str,
) -> Value {
    let mut options = json!({
        "createdAt": created_at,
        "createdBy": "<SERVER>",
        "sent": false,
        "sending": 0,
        "from": "push",
        "title": content.title,
        "text": content.text,
        "userId": content.user_id,
        "payload": content.payload,
        "badge": content.badge,
        "sound": content.sound,
        "notId": content.not_id,
        "gcm": {"style": "inbox"},
        "uniqueId": unique_id,
    });
    if let Some(image) = &content.image {
        options["gcm"]["image"] = json!(image);
    }
    if let Some(category) = &content.category {
        options["apn"] = json!({ "category": category });
    }
    if service == "apn" {
        options["topic"] = json!(app_name);
    }
    json!({ "token": token, "options": options })
}

/// The gateway's answer: 406 is a dead token; 401 and 422 are refusals Rocket.Chat
/// does not retry; 5xx and 429 are retried.
pub fn gateway_outcome(reply: &HttpReply, token: &str) -> Result<Outcome, DeliveryError> {
    match reply.status {
        406 => Ok(Outcome::DeadDevice(token.to_string())),
        _ => reply.check().map(|()| Outcome::Delivered),
    }
}

/// FCM HTTP v1's message for one token (as Rocket.Chat's `sendFCM`).
pub fn fcm_message(content: &PushContent, token: &str) -> Value {
    let mut data = serde_json::Map::new();
    data.insert("ejson".into(), json!(content.payload.to_string()));
    if let Some(image) = &content.image {
        data.insert("image".into(), json!(image));
    }
    if content.badge > 0 {
        data.insert("msgcnt".into(), json!(content.badge.to_string()));
    }
    data.insert("soundname".into(), json!(content.sound));
    if content.not_id != 0 {
        data.insert("notId".into(), json!(content.not_id.to_string()));
    }
    data.insert("style".into(), json!("inbox"));
    json!({"message": {
        "notification": {"title": content.title, "body": content.text},
        "data": data,
        "android": {"priority": "HIGH"},
        "token": token,
    }})
}

/// FCM's answer: `UNREGISTERED` (404) is a dead token; 5xx and 429 are retried;
/// anything else (a bad request, bad credentials) is refused.
pub fn fcm_outcome(reply: &HttpReply, token: &str) -> Result<Outcome, DeliveryError> {
    if reply.status == 404 || fcm_error_code(reply).as_deref() == Some("UNREGISTERED") {
        return Ok(Outcome::DeadDevice(token.to_string()));
    }
    reply.check().map(|()| Outcome::Delivered)
}

fn fcm_error_code(reply: &HttpReply) -> Option<String> {
    let v: Value = serde_json::from_slice(&reply.body).ok()?;
    let details = v["error"]["details"].as_array()?;
    details
        .iter()
        .find_map(|d| d["errorCode"].as_str().map(str::to_string))
}

/// A Google service account key (the fields FCM needs).
#[derive(Clone, Debug, serde::Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub private_key_id: String,
    pub private_key: String,
    pub client_email: String,
}

/// An OAuth access token cached until shortly before it expires.
#[derive(Default)]
pub struct TokenCache {
    /// (credentials fingerprint, token, expiry).
    entry: Mutex<Option<(String, String, i64)>>,
}

impl TokenCache {
    pub fn get(&self, fingerprint: &str) -> Option<String> {
        let now = Ts::now().0;
        let entry = self.entry.lock().unwrap_or_else(|p| p.into_inner());
        entry
            .as_ref()
            .filter(|(f, _, exp)| f == fingerprint && *exp > now)
            .map(|(_, t, _)| t.clone())
    }

    pub fn put(&self, fingerprint: &str, token: &str, lifetime_secs: i64) {
        // A minute's margin: a token is not used in its last minute.
        let exp = Ts::now().0 + (lifetime_secs - 60).max(0) * 1000;
        *self.entry.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((fingerprint.to_string(), token.to_string(), exp));
    }

    pub fn clear(&self) {
        *self.entry.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The signed grant exchanged for an FCM access token (RFC 7523).
pub fn google_assertion(account: &ServiceAccount) -> Result<String, DeliveryError> {
    let iat = chrono::Utc::now().timestamp();
    jwt::rs256(
        &account.private_key,
        &json!({"alg": "RS256", "typ": "JWT", "kid": account.private_key_id}),
        &json!({
            "iss": account.client_email,
            "scope": FCM_SCOPE,
            "aud": GOOGLE_TOKEN_URL,
            "iat": iat,
            "exp": iat + 3600,
        }),
    )
    .map_err(|e| DeliveryError::permanent(format!("Push_google_api_credentials: {e}")))
}

/// Exchanges the assertion for an access token: (token, lifetime in seconds).
pub async fn google_token(
    client: &reqwest::Client,
    assertion: &str,
) -> Result<(String, i64), DeliveryError> {
    let form = serde_urlencoded::to_string([
        ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
        ("assertion", assertion),
    ])
    .map_err(|e| DeliveryError::permanent(e.to_string()))?;
    let reply = client
        .post(GOOGLE_TOKEN_URL)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(form)
        .send()
        .await
        .map_err(network)?;
    let reply = read(reply).await;
    reply.check().map_err(|e| DeliveryError {
        message: format!("Google token exchange: {}", e.message),
        ..e
    })?;
    let v: Value = serde_json::from_slice(&reply.body)
        .map_err(|e| DeliveryError::transient(format!("Google token answer: {e}")))?;
    let token = v["access_token"]
        .as_str()
        .ok_or_else(|| DeliveryError::transient("Google token answer without access_token"))?;
    Ok((token.to_string(), v["expires_in"].as_i64().unwrap_or(3600)))
}

/// APNs' JSON for one notification (as Rocket.Chat's `sendAPN`).
pub fn apns_body(content: &PushContent) -> Value {
    let mut aps = json!({
        "alert": {"title": content.title, "body": content.text},
        "badge": content.badge,
        "sound": content.sound,
        "mutable-content": 1,
        "thread-id": content.not_id.to_string(),
    });
    if let Some(category) = &content.category {
        aps["category"] = json!(category);
    }
    json!({
        "aps": aps,
        "ejson": content.payload.to_string(),
        "messageFrom": "push",
    })
}

/// An APNs provider token (ES256, `kid` = key id, `iss` = team id).
pub fn apns_jwt(key_pem: &str, key_id: &str, team_id: &str) -> Result<String, DeliveryError> {
    let key = jwt::pem_der(key_pem)
        .and_then(|der| jwt::p256_key(&der))
        .map_err(|e| DeliveryError::permanent(format!("Push_apn_key: {e}")))?;
    jwt::es256(
        &key,
        &json!({"alg": "ES256", "kid": key_id}),
        &json!({"iss": team_id, "iat": chrono::Utc::now().timestamp()}),
    )
    .map_err(|e| DeliveryError::permanent(format!("Push_apn_key: {e}")))
}

/// APNs' answer: 410 (and 400 `BadDeviceToken`) is a dead token; 5xx and 429 are
/// retried; other refusals are final.
pub fn apns_outcome(reply: &HttpReply, token: &str) -> Result<Outcome, DeliveryError> {
    let reason = serde_json::from_slice::<Value>(&reply.body)
        .ok()
        .and_then(|v| v["reason"].as_str().map(str::to_string));
    if reply.status == 410 || (reply.status == 400 && reason.as_deref() == Some("BadDeviceToken")) {
        return Ok(Outcome::DeadDevice(token.to_string()));
    }
    reply.check().map(|()| Outcome::Delivered)
}

/// How long a push service keeps an undelivered Web Push message.
const WEB_TTL: Duration = Duration::from_secs(24 * 3600);

/// The JSON the service worker receives.
pub fn web_payload(content: &PushContent, site_url: &str) -> Value {
    let base = site_url.trim_end_matches('/');
    json!({
        "title": if content.title.is_empty() { "Palaver".to_string() } else { content.title.clone() },
        "body": content.text,
        "rid": content.rid,
        "messageId": content.payload["messageId"],
        "tag": format!("room-{}", content.rid),
        "url": format!("{base}/#/rid/{}", content.rid),
    })
}

/// One Web Push request: encrypted body and VAPID headers.
pub fn web_request(
    client: &reqwest::Client,
    vapid: &Vapid,
    sub: &WebSubscription,
    payload: &Value,
    subject: &str,
) -> Result<reqwest::RequestBuilder, DeliveryError> {
    let body = webpush::encrypt(sub, payload.to_string().as_bytes())
        .map_err(|e| DeliveryError::permanent(format!("web push: {e}")))?;
    let authorization = vapid
        .authorization(&sub.endpoint, subject)
        .map_err(|e| DeliveryError::permanent(format!("VAPID: {e}")))?;
    Ok(client
        .post(&sub.endpoint)
        .header("TTL", WEB_TTL.as_secs().to_string())
        .header("Content-Encoding", "aes128gcm")
        .header("Content-Type", "application/octet-stream")
        .header("Urgency", "high")
        .header(reqwest::header::AUTHORIZATION, authorization)
        .body(body))
}

/// The push service's answer: 404 and 410 mean the subscription expired.
pub fn web_outcome(reply: &HttpReply, endpoint: &str) -> Result<Outcome, DeliveryError> {
    if matches!(reply.status, 404 | 410) {
        return Ok(Outcome::DeadDevice(endpoint.to_string()));
    }
    reply.check().map(|()| Outcome::Delivered)
}
