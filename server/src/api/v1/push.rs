//! `push.token`: mobile apps register their push token after login. Palaver does
//! not send push notifications yet, so a token is checked as Rocket.Chat checks it
//! and acknowledged, but not kept; removing one always succeeds.

use axum::extract::State;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody};
use super::super::AppState;
use super::ok;
use crate::chat::{ids, ChatError};
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

/// `POST /api/v1/push.token` `{id?, type: "apn"|"gcm", value, appName}`.
pub async fn register(
    State(_state): State<AppState>,
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
    let now = wire::iso(crate::store::Ts::now().0);
    tracing::debug!(user_id = %session.user.id, kind, "push token acknowledged (push is off)");
    ok(json!({"result": {
        "_id": id,
        "token": {kind: value},
        "appName": app_name,
        "userId": session.user.id,
        "enabled": true,
        "createdAt": now,
        "updatedAt": now,
    }}))
}

/// `DELETE /api/v1/push.token` `{token}`.
pub async fn remove(Auth(_session): Auth, JsonBody(body): JsonBody<Value>) -> ApiResult {
    string_field(
        &body,
        "token",
        "error-token-param-not-valid",
        "The required \"token\" body param is missing or invalid.",
    )?;
    ok(json!({}))
}
