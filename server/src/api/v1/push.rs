//! `push.*`: mobile apps register their push token after login (`push.token`), read
//! whether push works (`push.info`), send themselves a test (`push.test`) and fetch
//! a hidden notification's content (`push.get`); browsers register Web Push
//! subscriptions (`push.webSubscription`, Palaver's) with the VAPID key of
//! `push.webKey`.

use axum::extract::State;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, rest};
use crate::chat::{ids, ChatError};
use crate::notify::push::content::PushContent;
use crate::store::push::{PushDevice, PushTarget, WebSubscription};
use crate::wire;

fn field<'a>(body: &'a Value, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

fn string_field<'a>(
    body: &'a Value,
    key: &str,
    error_type: &'static str,
    message: &str,
) -> Result<&'a str, ChatError> {
    field(body, key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ChatError::refused(error_type, message))
}

/// A device as Rocket.Chat answers it (`_raix_push_app_tokens`).
fn device_json(device: &PushDevice) -> Value {
    let token = match &device.token {
        PushTarget::Apn(t) => json!({"apn": t}),
        PushTarget::Gcm(t) => json!({"gcm": t}),
        PushTarget::Web(s) => json!({"web": {"endpoint": s.endpoint}}),
    };
    json!({
        "_id": device.id,
        "token": token,
        "appName": device.app_name,
        "userId": device.user_id,
        "enabled": device.enabled,
        "createdAt": wire::iso(device.created_at.0),
        "updatedAt": wire::iso(device.updated_at.0),
    })
}

/// `POST /api/v1/push.token` `{id?, type: "apn"|"gcm", value, appName}`.
pub async fn register(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let id = match field(&body, "id") {
        None => ids::new_id(),
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(_) => {
            return Err(ChatError::refused(
                "error-id-param-not-valid",
                "The required \"id\" body param is invalid.",
            )
            .into())
        }
    };
    let kind = field(&body, "type")
        .and_then(Value::as_str)
        .filter(|t| matches!(*t, "apn" | "gcm"))
        .ok_or_else(|| {
            ChatError::refused(
                "error-type-param-not-valid",
                "The required \"type\" body param is missing or invalid.",
            )
        })?;
    let value = string_field(
        &body,
        "value",
        "error-token-param-not-valid",
        "The required \"value\" body param is missing or invalid.",
    )?;
    let app_name = string_field(
        &body,
        "appName",
        "error-appName-param-not-valid",
        "The required \"appName\" body param is missing or invalid.",
    )?;
    let token = if kind == "apn" {
        PushTarget::Apn(value.to_string())
    } else {
        PushTarget::Gcm(value.to_string())
    };
    let device = state
        .push
        .register_token(&session.user, &session.token_hash, id, token, app_name)
        .await?;
    ok(json!({"result": device_json(&device)}))
}

/// `DELETE /api/v1/push.token` `{token}`: 404 if the user has no such device.
pub async fn remove(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let token = string_field(
        &body,
        "token",
        "error-token-param-not-valid",
        "The required \"token\" body param is missing or invalid.",
    )?;
    if !state.push.remove_token(&session.user, token).await? {
        return Err(ApiError::NotFound);
    }
    ok(json!({}))
}

/// `GET /api/v1/push.info`.
pub async fn info(State(state): State<AppState>, Auth(_session): Auth) -> ApiResult {
    let settings = state.chat.settings();
    let gateway = settings.string("Push_gateway");
    ok(json!({
        "pushGatewayEnabled": settings.bool("Push_enable"),
        "defaultPushGateway": gateway.trim_end_matches('/') == "https://gateway.rocket.chat",
    }))
}

/// `POST /api/v1/push.test`: `{tokensCount}`.
pub async fn test(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    let count = state.push.test(&session.user).await?;
    ok(json!({"tokensCount": count}))
}

/// Rocket.Chat's `IPushNotificationConfig`.
fn notification_json(content: &PushContent) -> Value {
    let mut v = json!({
        "from": "push",
        "badge": content.badge,
        "sound": content.sound,
        "priority": 10,
        "title": content.title,
        "text": content.text,
        "payload": content.payload,
        "userId": content.user_id,
        "notId": content.not_id,
        "gcm": {"style": "inbox", "image": content.image},
    });
    if let Some(category) = &content.category {
        v["apn"] = json!({ "category": category });
    }
    v
}

/// `GET /api/v1/push.get?id=<message id>`.
pub async fn get_notification(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(id) = params.get("id") else {
        return Err(ChatError::invalid("Match error: Missing key 'id'").into());
    };
    let (message, content) = state.push.notification_for(&session.user, id).await?;
    ok(json!({"data": {"message": rest(&message), "notification": notification_json(&content)}}))
}

/// `GET /api/v1/push.webKey`: the VAPID public key browsers subscribe with.
pub async fn web_key(State(state): State<AppState>, Auth(_session): Auth) -> ApiResult {
    ok(json!({
        "publicKey": state.push.vapid_public_key(),
        "enabled": state.chat.settings().bool("WebPush_enable"),
    }))
}

/// `POST /api/v1/push.webSubscription`: a `PushSubscription` as the browser's
/// `toJSON()` gives it (`{endpoint, keys: {p256dh, auth}}`).
pub async fn web_subscribe(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let invalid = || {
        ChatError::refused(
            "error-invalid-subscription",
            "The subscription needs endpoint and keys.p256dh, keys.auth.",
        )
    };
    let endpoint = body["endpoint"].as_str().ok_or_else(invalid)?;
    let p256dh = body["keys"]["p256dh"].as_str().ok_or_else(invalid)?;
    let auth = body["keys"]["auth"].as_str().ok_or_else(invalid)?;
    let device = state
        .push
        .subscribe_web(
            &session.user,
            &session.token_hash,
            WebSubscription {
                endpoint: endpoint.to_string(),
                p256dh: p256dh.to_string(),
                auth: auth.to_string(),
            },
        )
        .await?;
    ok(json!({"result": device_json(&device)}))
}

/// `DELETE /api/v1/push.webSubscription` `{endpoint}`.
pub async fn web_unsubscribe(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let endpoint = string_field(
        &body,
        "endpoint",
        "error-invalid-subscription",
        "The required \"endpoint\" body param is missing.",
    )?;
    if !state.push.remove_token(&session.user, endpoint).await? {
        return Err(ApiError::NotFound);
    }
    ok(json!({}))
}
