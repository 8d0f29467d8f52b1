//! Notification preferences and account e-mails over REST: `rooms.saveNotification`,
//! `users.forgotPassword`, `users.sendConfirmationEmail`, `users.sendWelcomeEmail`.

use axum::extract::State;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody};
use super::super::AppState;
use super::ok;
use crate::chat::ChatError;

fn non_empty_str<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `POST /api/v1/rooms.saveNotification {roomId, notifications: {field: value}}`.
pub async fn save_notification(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let Some(rid) = non_empty_str(&body, "roomId") else {
        return Err(ChatError::invalid("The 'roomId' param is required").into());
    };
    let Some(notifications) = body
        .get("notifications")
        .and_then(Value::as_object)
        .filter(|n| !n.is_empty())
    else {
        return Err(ChatError::invalid("The 'notifications' param is required").into());
    };
    state
        .chat
        .save_notification(&session.user, rid, notifications)
        .await?;
    ok(json!({}))
}

/// `POST /api/v1/users.forgotPassword {email}` (no login): success whether or not
/// the address belongs to anyone.
pub async fn forgot_password(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let Some(email) = non_empty_str(&body, "email") else {
        return Err(ChatError::invalid("The 'email' param is required").into());
    };
    state.chat.forgot_password(email).await?;
    ok(json!({}))
}

/// `POST /api/v1/users.sendConfirmationEmail {email}`.
pub async fn send_confirmation_email(
    State(state): State<AppState>,
    Auth(_session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let Some(email) = non_empty_str(&body, "email") else {
        return Err(ChatError::invalid("must have required property 'email'").into());
    };
    if state.chat.send_confirmation_email(email).await? {
        ok(json!({}))
    } else {
        Err(ChatError::refused("error-invalid-email", "Invalid email").into())
    }
}

/// `POST /api/v1/users.sendWelcomeEmail {email}` (needs `send-mail`).
pub async fn send_welcome_email(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let Some(email) = non_empty_str(&body, "email") else {
        return Err(ChatError::schema("must have required property 'email'").into());
    };
    state.chat.send_welcome_email(&session.user, email).await?;
    ok(json!({}))
}
