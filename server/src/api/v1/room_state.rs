//! A member's state in a room and room lookups over REST: `channels|groups|im.open|
//! close|counters|messages`, `channels.addAll`, `rooms.isMember|favorite|leave|
//! delete|nameExists`, `subscriptions.unread`.

use axum::extract::State;
use serde_json::{json, Map, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::room_settings::find_room;
use super::rooms::{history_query, kind, GROUP};
use super::{expect_kind, ok, params_room_ref, rest, room_ref};
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;
use crate::store::{Room, RoomType, User};
use crate::wire;

type Body = Map<String, Value>;

fn failure(message: impl Into<String>) -> ApiError {
    ChatError::invalid(message).into()
}

/// Rocket.Chat's `API.v1.unauthorized()`: 403 with the bare word.
fn unauthorized() -> ApiResult {
    use axum::response::IntoResponse;
    Ok((
        axum::http::StatusCode::FORBIDDEN,
        axum::Json(json!({"success": false, "error": "unauthorized"})),
    )
        .into_response())
}

/// Whether an error only says the room is not there (or hidden from the caller).
fn is_not_found(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::Chat(ChatError::Refused {
            error_type: "error-room-not-found",
            ..
        })
    )
}

fn text<'a>(body: &'a Body, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// Rocket.Chat's `k`: `c`/`p`, or `d` for `im.*`.
const DIRECT: u8 = b'd';

/// The room of a query or body for the family `k`; for `im.*` also `username`
/// (the other member of a one-to-one DM).
async fn lookup(
    state: &AppState,
    user: &User,
    room_id: Option<&str>,
    room_name: Option<&str>,
    username: Option<&str>,
    k: u8,
) -> Result<Room, ApiError> {
    if k == DIRECT {
        let room = match (room_id.filter(|s| !s.is_empty()), username) {
            (Some(id), _) => state.chat.readable_room(user, RoomRef::Id(id)).await?.0,
            (None, Some(name)) => match state.chat.find_direct(user, name).await {
                Ok(room) => room,
                // Rocket.Chat opens the conversation when asked for it by username.
                Err(ChatError::Refused {
                    error_type: "error-room-not-found",
                    ..
                }) => state.chat.create_direct(user, &[name.to_string()]).await?,
                Err(e) => return Err(e.into()),
            },
            (None, None) => {
                return Err(ChatError::refused(
                    "error-room-param-not-provided",
                    "Query param \"roomId\" or \"username\" is required",
                )
                .into())
            }
        };
        if room.t != RoomType::Direct {
            return Err(ChatError::refused(
                "error-room-not-found",
                "The required \"roomId\" param provided does not match any direct message",
            )
            .into());
        }
        return Ok(room);
    }
    let (room, _) = state
        .chat
        .readable_room(user, room_ref(room_id, room_name)?)
        .await?;
    expect_kind(&room, kind(k))?;
    Ok(room)
}

fn what(k: u8, room: &Room) -> String {
    let name = room.name.as_deref().unwrap_or_default();
    match k {
        GROUP => format!("The private group, {name},"),
        DIRECT => format!("The direct message room, {name},"),
        _ => format!("The channel, {name},"),
    }
}

async fn open_or_close(state: AppState, user: &User, body: Body, k: u8, open: bool) -> ApiResult {
    if k == DIRECT {
        return open_or_close_direct(state, user, body, open).await;
    }
    let room = lookup(
        &state,
        user,
        text(&body, "roomId"),
        text(&body, "roomName"),
        None,
        k,
    )
    .await?;
    let Some(sub) = state.chat.subscription_of(&room.id, &user.id).await? else {
        let name = room.name.as_deref().unwrap_or_default();
        return Err(failure(format!(
            "The user/callee is not in the channel \"{name}\"."
        )));
    };
    if sub.open == open {
        let state_word = if open {
            "already open to the sender"
        } else {
            "already closed to the sender"
        };
        return Err(failure(format!("{} is {state_word}", what(k, &room))));
    }
    state.chat.set_room_open(user, &room.id, open).await?;
    ok(json!({}))
}

/// `im.open|close`: a DM the caller cannot read is `unauthorized`; opening an open
/// DM is fine, closing a closed one is not.
async fn open_or_close_direct(state: AppState, user: &User, body: Body, open: bool) -> ApiResult {
    let Some(rid) = text(&body, "roomId").filter(|r| !r.is_empty()) else {
        return Err(ChatError::refused(
            "error-room-param-not-provided",
            "Body param \"roomId\" is required",
        )
        .into());
    };
    let room = match lookup(&state, user, Some(rid), None, None, DIRECT).await {
        Ok(room) => room,
        Err(e) if is_not_found(&e) => return unauthorized(),
        Err(e) => return Err(e),
    };
    let Some(sub) = state.chat.subscription_of(&room.id, &user.id).await? else {
        return Err(failure("The user is not subscribed to the room"));
    };
    if !open && !sub.open {
        return Err(failure(
            "The direct message room, is already closed to the sender",
        ));
    }
    if sub.open != open {
        state.chat.set_room_open(user, &room.id, open).await?;
    }
    ok(json!({}))
}

/// `im.setTopic`: `{roomId, topic}`.
pub async fn set_direct_topic(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let Some(rid) = text(&body, "roomId").filter(|r| !r.is_empty()) else {
        return Err(ChatError::refused(
            "error-room-param-not-provided",
            "Body param \"roomId\" is required",
        )
        .into());
    };
    let room = match lookup(&state, &session.user, Some(rid), None, None, DIRECT).await {
        Ok(room) => room,
        Err(e) if is_not_found(&e) => return unauthorized(),
        Err(e) => return Err(e),
    };
    let topic = body.get("topic").cloned().unwrap_or(Value::Null);
    let change = crate::chat::room_settings::RoomSettingsChange {
        topic: Some(topic.as_str().unwrap_or_default().to_string()),
        ..Default::default()
    };
    state
        .chat
        .save_room_settings(&session.user, &room.id, change)
        .await?;
    ok(json!({ "topic": topic }))
}

pub async fn open<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    open_or_close(state, &session.user, body, K, true).await
}

pub async fn close<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    open_or_close(state, &session.user, body, K, false).await
}

pub async fn counters<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let room = lookup(
        &state,
        &session.user,
        params.get("roomId"),
        params.get("roomName"),
        params.get("username"),
        K,
    )
    .await?;
    let counters = state
        .chat
        .room_counters(&session.user, &room, params.get("userId"))
        .await?;
    let mut body = rest(&counters);
    for key in ["unreadsFrom", "latest"] {
        if let Some(ms) = body[key].as_i64() {
            body[key] = json!(wire::iso(ms));
        }
    }
    ok(body)
}

/// `channels|groups|im.messages`: newest first, paged.
pub async fn messages<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let room = lookup(
        &state,
        &session.user,
        params.get("roomId"),
        params.get("roomName"),
        params.get("username"),
        K,
    )
    .await?;
    let mut query = history_query(&params)?;
    query.latest = None;
    query.oldest = None;
    let (_, listing) = state
        .chat
        .history(&session.user, RoomRef::Id(&room.id), &query)
        .await?;
    let mut messages: Vec<Value> = listing.items.iter().map(rest).collect();
    if params
        .get("sort")
        .is_some_and(|s| s.replace(' ', "").contains("\"ts\":1"))
    {
        messages.reverse();
    }
    ok(json!({
        "messages": messages,
        "count": messages.len(),
        "offset": query.offset,
        "total": listing.total,
    }))
}

pub async fn add_all<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let room = find_room(&state, &session.user, &body, K, false).await?;
    let active_only = body
        .get("activeUsersOnly")
        .is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
    let room = state
        .chat
        .add_all_users(&session.user, &room.id, active_only)
        .await?;
    let key = if K == GROUP { "group" } else { "channel" };
    ok(json!({ key: rest(&room) }))
}

/// `rooms.isMember?roomId=…&userId=…|username=…`.
pub async fn is_member(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let r = params_room_ref(&params)?;
    // A room that does not exist is an error; one the caller may not see is not
    // theirs to ask about.
    state.chat.room(r).await?;
    let room = match state.chat.readable_room(&session.user, r).await {
        Ok((room, _)) => room,
        Err(e) => {
            let e = ApiError::from(e);
            return if is_not_found(&e) {
                unauthorized()
            } else {
                Err(e)
            };
        }
    };
    let user = state
        .chat
        .find_user(params.get("userId"), params.get("username"))
        .await
        .map_err(|_| failure("error-user-not-found"))?;
    let member = state
        .chat
        .subscription_of(&room.id, &user.id)
        .await?
        .is_some();
    ok(json!({ "isMember": member }))
}

pub async fn favorite(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let Some(favorite) = body.get("favorite") else {
        return Err(failure("The 'favorite' param is required"));
    };
    let favorite = favorite.as_bool().unwrap_or(false);
    let room = state
        .chat
        .room(room_ref(text(&body, "roomId"), text(&body, "roomName"))?)
        .await?;
    state
        .chat
        .set_favorite(&session.user, &room.id, favorite)
        .await?;
    ok(json!({}))
}

pub async fn leave(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let room = state
        .chat
        .room(room_ref(text(&body, "roomId"), text(&body, "roomName"))?)
        .await?;
    state.chat.leave_room(&session.user, &room.id).await?;
    ok(json!({}))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let Some(rid) = text(&body, "roomId").filter(|r| !r.is_empty()) else {
        return Err(failure("The 'roomId' param is required"));
    };
    state.chat.delete_room(&session.user, rid).await?;
    ok(json!({}))
}

pub async fn name_exists(
    State(state): State<AppState>,
    Auth(_): Auth,
    params: Params,
) -> ApiResult {
    let Some(name) = params.get("roomName").filter(|n| !n.is_empty()) else {
        return Err(ChatError::invalid("must have required property 'roomName'").into());
    };
    let exists = state.chat.room(RoomRef::Name(name)).await.is_ok();
    ok(json!({ "exists": exists }))
}

/// `subscriptions.unread`: `{roomId}` or `{firstUnreadMessage: {_id}}`.
pub async fn subscriptions_unread(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let first = body
        .get("firstUnreadMessage")
        .and_then(|m| m.get("_id"))
        .and_then(Value::as_str);
    let rid = text(&body, "roomId");
    if first.is_none() && rid.is_none() {
        return Err(ChatError::invalid("must have required property 'roomId'").into());
    }
    state.chat.mark_unread(&session.user, first, rid).await?;
    ok(json!({}))
}

pub fn routes() -> axum::Router<AppState> {
    use super::rooms::CHANNEL;
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/channels.open", post(open::<CHANNEL>))
        .route("/groups.open", post(open::<GROUP>))
        .route("/im.open", post(open::<DIRECT>))
        .route("/dm.open", post(open::<DIRECT>))
        .route("/channels.close", post(close::<CHANNEL>))
        .route("/groups.close", post(close::<GROUP>))
        .route("/im.close", post(close::<DIRECT>))
        .route("/dm.close", post(close::<DIRECT>))
        .route("/channels.counters", get(counters::<CHANNEL>))
        .route("/groups.counters", get(counters::<GROUP>))
        .route("/im.counters", get(counters::<DIRECT>))
        .route("/dm.counters", get(counters::<DIRECT>))
        .route("/channels.messages", get(messages::<CHANNEL>))
        .route("/groups.messages", get(messages::<GROUP>))
        .route("/im.messages", get(messages::<DIRECT>))
        .route("/dm.messages", get(messages::<DIRECT>))
        .route("/channels.addAll", post(add_all::<CHANNEL>))
        .route("/groups.addAll", post(add_all::<GROUP>))
        .route("/rooms.isMember", get(is_member))
        .route("/rooms.favorite", post(favorite))
        .route("/rooms.leave", post(leave))
        .route("/rooms.delete", post(delete))
        .route("/rooms.nameExists", get(name_exists))
        .route("/subscriptions.unread", post(subscriptions_unread))
        .route("/im.setTopic", post(set_direct_topic))
        .route("/dm.setTopic", post(set_direct_topic))
}
