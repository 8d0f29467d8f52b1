//! `im.*` (and the `dm.*` aliases): direct messages.

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::rooms::{history_of, members_of};
use super::{ok, paged, params_room_ref, rest};
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;
use crate::store::{Direction, RoomType, Sort, SortKey};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    username: Option<String>,
    /// Comma-separated usernames for a group DM.
    usernames: Option<String>,
    /// Leave the caller out of the members (Rocket.Chat's `excludeSelf`).
    #[serde(default)]
    exclude_self: bool,
}

pub async fn create(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    let names: Vec<String> = match (&body.username, &body.usernames) {
        (Some(u), _) if !u.trim().is_empty() => vec![u.clone()],
        (_, Some(list)) => list.split(',').map(|s| s.trim().to_string()).collect(),
        _ => {
            return Err(
                ChatError::invalid("Body param \"username\" or \"usernames\" is required").into(),
            )
        }
    };
    let room = state
        .chat
        .create_direct_with(&session.user, &names, body.exclude_self)
        .await?;
    let mut view = rest(&room);
    view["rid"] = json!(room.id);
    view["t"] = json!("d");
    ok(json!({ "room": view }))
}

pub async fn list(State(state): State<AppState>, Auth(session): Auth, params: Params) -> ApiResult {
    let page = params.page()?;
    let sort = params.sort(Sort {
        key: SortKey::Ts,
        dir: Direction::Desc,
    })?;
    let listing = state
        .chat
        .user_rooms(&session.user, &[RoomType::Direct], sort, page)
        .await?;
    paged("ims", &listing, page)
}

/// `roomId`, or `username` of the other member of a one-to-one DM.
async fn dm_ref(
    state: &AppState,
    session_user: &crate::store::User,
    params: &Params,
) -> Result<String, super::super::error::ApiError> {
    if let Some(username) = params.get("username") {
        return Ok(state.chat.find_direct(session_user, username).await?.id);
    }
    match params_room_ref(params)? {
        RoomRef::Id(id) => Ok(id.to_string()),
        RoomRef::Name(name) => Ok(state.chat.room(RoomRef::Name(name)).await?.id),
    }
}

pub async fn history(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let rid = dm_ref(&state, &session.user, &params).await?;
    history_of(
        &state,
        &session.user,
        RoomRef::Id(&rid),
        RoomType::Direct,
        &params,
    )
    .await
}

pub async fn members(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let rid = dm_ref(&state, &session.user, &params).await?;
    members_of(
        &state,
        &session.user,
        RoomRef::Id(&rid),
        RoomType::Direct,
        &params,
    )
    .await
}

/// `im.delete` `{roomId}` or `{username}` (the other member of a one-to-one DM):
/// deletes the conversation (`delete-d`).
pub async fn delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<serde_json::Map<String, serde_json::Value>>,
) -> ApiResult {
    let text = |k: &str| {
        body.get(k)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let room = match (text("roomId"), text("username")) {
        (Some(rid), _) => state.chat.room(RoomRef::Id(rid)).await?,
        (None, Some(name)) => state.chat.find_direct(&session.user, name).await?,
        (None, None) => {
            return Err(ChatError::refused(
                "invalid-params",
                "must have required property 'roomId'",
            )
            .into())
        }
    };
    if room.t != RoomType::Direct {
        return Err(ChatError::refused("error-room-not-found", "Room not found").into());
    }
    state.chat.delete_room(&session.user, &room.id).await?;
    ok(json!({}))
}
