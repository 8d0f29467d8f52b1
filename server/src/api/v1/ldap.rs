//! LDAP administration, as Rocket.Chat's:
//! - `POST ldap.testConnection` (`test-admin-options`): connect and service-bind;
//! - `POST ldap.testSearch {username}` (`test-admin-options`): exactly one entry?
//! - `POST ldap.syncNow {dryRun?}` (`sync-auth-services-users`): runs a sync now
//!   and answers with its report (a dry run writes nothing);
//! - `GET ldap.syncReport` (Palaver's; `sync-auth-services-users`): the last one.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody};
use super::super::AppState;
use super::ok;
use crate::chat::permissions::Perm;
use crate::chat::ChatError;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/ldap.testConnection", post(test_connection))
        .route("/ldap.testSearch", post(test_search))
        .route("/ldap.syncNow", post(sync_now))
        .route("/ldap.syncReport", get(sync_report))
}

async fn test_connection(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    state
        .chat
        .require_permission(&session.user, Perm::TEST_ADMIN_OPTIONS, None)
        .await?;
    state
        .ldap
        .test_connection()
        .await
        .map_err(|e| e.into_chat())?;
    ok(json!({"message": "LDAP_Connection_successful"}))
}

async fn test_search(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    let username = body
        .get("username")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| ChatError::invalid("Match error: expected \"username\" (a string)"))?;
    state
        .chat
        .require_permission(&session.user, Perm::TEST_ADMIN_OPTIONS, None)
        .await?;
    let found = state
        .ldap
        .test_search(username)
        .await
        .map_err(|e| e.into_chat())?;
    if !found {
        return Err(ChatError::refused("error-ldap-user-not-found", "User not found").into());
    }
    ok(json!({"message": "LDAP_User_Found"}))
}

async fn sync_now(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult {
    state
        .chat
        .require_permission(&session.user, Perm::SYNC_AUTH_SERVICES_USERS, None)
        .await?;
    let dry_run = body.get("dryRun").and_then(Value::as_bool).unwrap_or(false);
    tracing::info!(user_id = %session.user.id, dry_run, "LDAP sync requested");
    let report = state
        .ldap
        .sync(dry_run, "manual")
        .await
        .map_err(|e| e.into_chat())?;
    ok(json!({"message": "Sync_in_progress", "report": report}))
}

async fn sync_report(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    state
        .chat
        .require_permission(&session.user, Perm::SYNC_AUTH_SERVICES_USERS, None)
        .await?;
    let report = state.ldap.last_report().await.map_err(|e| e.into_chat())?;
    ok(json!({"report": report, "lastDryRun": state.ldap.last_dry_run()}))
}
