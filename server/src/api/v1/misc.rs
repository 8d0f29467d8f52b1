//! `rooms.get`, `rooms.info`, `subscriptions.*`, `settings.public`.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, params_room_ref, rest};
use crate::chat::ChatError;
use crate::wire;

pub async fn rooms_get(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let since = params.date("updatedSince")?;
    let (rooms, removed) = state.chat.rooms_since(&session.user, since).await?;
    let update: Vec<Value> = rooms.iter().map(rest).collect();
    let remove: Vec<Value> = removed
        .iter()
        .map(|r| json!({"_id": r.id, "_deletedAt": wire::iso(r.deleted_at.0)}))
        .collect();
    ok(json!({"update": update, "remove": remove}))
}

pub async fn rooms_info(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let (room, _) = state
        .chat
        .readable_room(&session.user, params_room_ref(&params)?)
        .await?;
    ok(json!({"room": rest(&room)}))
}

pub async fn subscriptions_get(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let since = params.date("updatedSince")?;
    let (subs, removed) = state.chat.subscriptions_since(&session.user, since).await?;
    let update: Vec<Value> = subs.iter().map(rest).collect();
    let remove: Vec<Value> = removed.iter().map(rest).collect();
    ok(json!({"update": update, "remove": remove}))
}

pub async fn subscriptions_get_one(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(rid) = params.get("roomId") else {
        return Err(ChatError::invalid("The \"roomId\" query parameter must be provided").into());
    };
    let sub = state.chat.subscription(&session.user, rid).await?;
    ok(json!({"subscription": rest(&sub)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadBody {
    rid: Option<String>,
    room_id: Option<String>,
}

pub async fn subscriptions_read(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<ReadBody>,
) -> ApiResult {
    let Some(rid) = body.rid.or(body.room_id).filter(|r| !r.is_empty()) else {
        return Err(ChatError::invalid("must have required property 'rid'").into());
    };
    state.chat.mark_read(&session.user, &rid).await?;
    ok(json!({}))
}

/// Public settings; no login needed, as clients read them before logging in.
pub async fn settings_public(State(state): State<AppState>, params: Params) -> ApiResult {
    // Rocket.Chat 6.x: `_id=a,b`; older clients: `query={"_id":{"$in":[…]}}`.
    let by_id: Option<Vec<String>> = params
        .get("_id")
        .filter(|ids| !ids.is_empty())
        .map(|ids| ids.split(',').map(|id| id.trim().to_string()).collect());
    let only: Option<Vec<String>> = match params.get("query") {
        _ if by_id.is_some() => by_id,
        Some(raw) => {
            let q: Value = serde_json::from_str(raw)
                .map_err(|_| ChatError::invalid(format!("Invalid query parameter {raw:?}")))?;
            q.pointer("/_id/$in").and_then(Value::as_array).map(|ids| {
                ids.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
        }
        None => None,
    };
    let page = params.page()?;
    let all = state.chat.public_settings(only.as_deref());
    let total = all.len();
    let settings: Vec<Value> = all
        .into_iter()
        .skip(page.offset as usize)
        .take(page.count as usize)
        .map(|(id, value)| json!({"_id": id, "value": value}))
        .collect();
    Ok(Json(json!({
        "settings": settings,
        "count": settings.len(),
        "offset": page.offset,
        "total": total,
        "success": true,
    }))
    .into_response())
}
