//! `permissions.listAll` and `permissions.update`: which roles hold which permission.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, rest};
use crate::chat::ChatError;

pub async fn list_all(
    State(state): State<AppState>,
    Auth(_session): Auth,
    params: Params,
) -> ApiResult {
    let since = params.date("updatedSince")?;
    let all = state.chat.permissions().await?;
    let update: Vec<Value> = all
        .iter()
        .filter(|p| since.is_none_or(|s| p.updated_at > s))
        .map(rest)
        .collect();
    ok(json!({"update": update, "remove": []}))
}

#[derive(Deserialize)]
pub struct PermissionRoles {
    #[serde(rename = "_id")]
    id: String,
    roles: Vec<String>,
}

#[derive(Deserialize)]
pub struct UpdateBody {
    permissions: Option<Vec<PermissionRoles>>,
}

pub async fn update(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    let Some(permissions) = body.permissions else {
        return Err(ChatError::invalid("must have required property 'permissions'").into());
    };
    let updates: Vec<(String, Vec<String>)> =
        permissions.into_iter().map(|p| (p.id, p.roles)).collect();
    let all = state
        .chat
        .update_permissions(&session.user, &updates)
        .await?;
    let all: Vec<Value> = all.iter().map(rest).collect();
    ok(json!({"permissions": all}))
}
