//! Who is in a room, and the administrators' listings of rooms they are not in:
//! `channels|groups.moderators|online`, `groups.listAll`, `im.list.everyone`,
//! `im.messages.others`, `channels.anonymousread`, `channels|groups.getIntegrations`.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, Params};
use super::super::AppState;
use super::rooms::{history_query, CHANNEL, GROUP};
use super::{expect_kind, ok, params_room_ref, rest};
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;
use crate::store::{Direction, Listing, Room, RoomType, Sort, SortKey};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/channels.moderators", get(moderators::<CHANNEL>))
        .route("/groups.moderators", get(moderators::<GROUP>))
        .route("/channels.online", get(online::<CHANNEL>))
        .route("/groups.online", get(online::<GROUP>))
        .route("/groups.listAll", get(list_all::<GROUP>))
        .route("/im.list.everyone", get(list_all::<DIRECT>))
        .route("/dm.list.everyone", get(list_all::<DIRECT>))
        .route("/im.messages.others", get(messages_others))
        .route("/dm.messages.others", get(messages_others))
        .route("/channels.anonymousread", get(anonymous_read))
        .route("/channels.getIntegrations", get(integrations::<CHANNEL>))
        .route("/groups.getIntegrations", get(integrations::<GROUP>))
}

const DIRECT: u8 = b'd';

fn kind(k: u8) -> RoomType {
    match k {
        GROUP => RoomType::Group,
        DIRECT => RoomType::Direct,
        _ => RoomType::Channel,
    }
}

/// Rocket.Chat's `API.v1.unauthorized()` (403, the bare word) for
/// `Forbidden("unauthorized")`; other errors as usual.
fn unauthorized_or(e: ChatError) -> ApiResult {
    match e {
        ChatError::Forbidden(m) if m == "unauthorized" => Ok((
            axum::http::StatusCode::FORBIDDEN,
            axum::Json(json!({"success": false, "error": "unauthorized"})),
        )
            .into_response()),
        other => Err(other.into()),
    }
}

/// `channels|groups.moderators?roomId|roomName`: `{moderators: [{_id, username, name}]}`.
pub async fn moderators<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let (room, moderators) = state
        .chat
        .room_moderators(&session.user, params_room_ref(&params)?)
        .await?;
    expect_kind(&room, kind(K))?;
    let moderators: Vec<Value> = moderators.iter().map(rest).collect();
    ok(json!({ "moderators": moderators }))
}

/// The room a `query={"_id": …}` or `{"name": …}` names (Rocket.Chat's `online`).
async fn query_room(state: &AppState, params: &Params, k: u8) -> Result<Room, ApiError> {
    let invalid = || ApiError::from(ChatError::invalid("Invalid query"));
    let raw = params.get("query").ok_or_else(invalid)?;
    let query: serde_json::Map<String, Value> = serde_json::from_str(raw).map_err(|_| invalid())?;
    let missing = || {
        let what = if k == GROUP { "Group" } else { "Channel" };
        ApiError::from(ChatError::invalid(format!("{what} does not exists")))
    };
    let r = match (
        query.get("_id").and_then(Value::as_str),
        query.get("name").and_then(Value::as_str),
    ) {
        (Some(id), _) => RoomRef::Id(id),
        (None, Some(name)) => RoomRef::Name(name),
        (None, None) => return Err(invalid()),
    };
    let room = state.chat.room(r).await.map_err(|_| missing())?;
    if room.t != kind(k) {
        return Err(missing());
    }
    Ok(room)
}

/// `channels|groups.online?query={"_id": …}`: `{online: [{_id, username}]}`.
pub async fn online<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let room = query_room(&state, &params, K).await?;
    let users = state.chat.online_members(&session.user, &room).await?;
    let online: Vec<Value> = users
        .iter()
        .map(|(id, username)| json!({"_id": id, "username": username}))
        .collect();
    ok(json!({ "online": online }))
}

/// `groups.listAll` and `im.list.everyone`: every group or DM, for
/// administrators; `{groups|ims, offset, count, total}`.
pub async fn list_all<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let page = params.page()?;
    // DMs have no name: newest first.
    let sort = params.sort(if K == DIRECT {
        Sort {
            key: SortKey::Ts,
            dir: Direction::Desc,
        }
    } else {
        Sort {
            key: SortKey::Name,
            dir: Direction::Asc,
        }
    })?;
    let filter = params.name_filter()?;
    let listing: Listing<Room> = match state
        .chat
        .all_rooms_of(&session.user, kind(K), filter.as_deref(), sort, page)
        .await
    {
        Ok(listing) => listing,
        Err(e) => return unauthorized_or(e),
    };
    let key = if K == GROUP { "groups" } else { "ims" };
    super::paged(key, &listing, page)
}

/// `im.messages.others?roomId`: a DM's history for administrators.
pub async fn messages_others(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(rid) = params.get("roomId") else {
        return Err(ChatError::invalid("The 'roomId' query parameter must be provided").into());
    };
    let query = history_query(&params)?;
    let listing = match state
        .chat
        .others_direct_history(&session.user, rid, &query)
        .await
    {
        Ok(listing) => listing,
        Err(e) => return unauthorized_or(e),
    };
    let messages: Vec<Value> = listing.items.iter().map(rest).collect();
    ok(json!({
        "messages": messages,
        "count": messages.len(),
        "offset": query.offset,
        "total": listing.total,
    }))
}

/// `channels.anonymousread?roomId|roomName`: a channel's history without an
/// account, when `Accounts_AllowAnonymousRead` is on.
pub async fn anonymous_read(State(state): State<AppState>, params: Params) -> ApiResult {
    let query = history_query(&params)?;
    let listing = state
        .chat
        .anonymous_history(params_room_ref(&params)?, &query)
        .await?;
    let messages: Vec<Value> = listing.items.iter().map(rest).collect();
    ok(json!({
        "messages": messages,
        "count": messages.len(),
        "offset": query.offset,
        "total": listing.total,
    }))
}

/// `channels|groups.getIntegrations?roomId|roomName`: `{integrations, count,
/// offset, total}`.
pub async fn integrations<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let page = params.page()?;
    let (room, _) = state
        .chat
        .readable_room(&session.user, params_room_ref(&params)?)
        .await?;
    expect_kind(&room, kind(K))?;
    let listing = match state
        .chat
        .room_integrations(&session.user, &room, page)
        .await
    {
        Ok(listing) => listing,
        Err(e) => return unauthorized_or(e),
    };
    let items: Vec<Value> = listing
        .items
        .iter()
        .map(super::integrations::render)
        .collect();
    ok(json!({
        "integrations": items,
        "count": items.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}
