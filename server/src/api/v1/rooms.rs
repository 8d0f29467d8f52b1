//! `channels.*` and `groups.*`: one implementation, parameterised by room kind,
//! answering under `channel`/`channels` or `group`/`groups` as Rocket.Chat does.

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{expect_kind, ok, paged, params_room_ref, required, rest, room_ref};
use crate::chat::member_filter::MemberFilter;
use crate::chat::rooms::{NewRoom, RoomRef};
use crate::chat::ChatError;
use crate::store::{Direction, HistoryQuery, Room, RoomType, Sort, SortKey, User};
use crate::wire;

pub const CHANNEL: u8 = b'c';
pub const GROUP: u8 = b'p';

pub(super) fn kind(k: u8) -> RoomType {
    if k == GROUP {
        RoomType::Group
    } else {
        RoomType::Channel
    }
}

/// The response key for one room (`channel`/`group`) and for a list.
pub(super) fn keys(k: u8) -> (&'static str, &'static str) {
    if k == GROUP {
        ("group", "groups")
    } else {
        ("channel", "channels")
    }
}

fn name_sort() -> Sort {
    Sort {
        key: SortKey::Name,
        dir: Direction::Asc,
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct RoomBody {
    room_id: Option<String>,
    room_name: Option<String>,
    user_id: Option<String>,
    username: Option<String>,
    join_code: Option<String>,
}

impl RoomBody {
    fn room(&self) -> Result<RoomRef<'_>, ApiError> {
        room_ref(self.room_id.as_deref(), self.room_name.as_deref())
    }
}

/// The room named by the body, readable by the caller and of the endpoint's kind.
pub(super) async fn target(
    state: &AppState,
    user: &User,
    body: &RoomBody,
    k: u8,
) -> Result<Room, ApiError> {
    let (room, _) = state.chat.readable_room(user, body.room()?).await?;
    expect_kind(&room, kind(k))?;
    Ok(room)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    name: Option<String>,
    #[serde(default)]
    members: Vec<String>,
    #[serde(default)]
    read_only: bool,
    topic: Option<String>,
    description: Option<String>,
    custom_fields: Option<serde_json::Value>,
    #[serde(default)]
    extra_data: ExtraData,
}

/// `extraData` of `channels.create`/`groups.create`: what Palaver reads of it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ExtraData {
    team_id: Option<String>,
    topic: Option<String>,
    #[serde(default)]
    broadcast: bool,
}

pub async fn create<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    let name = required(&body.name, "name")?.trim().to_string();
    let room = state
        .chat
        .create_room(
            &session.user,
            NewRoom {
                kind: kind(K),
                name,
                members: body.members,
                // A broadcast room is read-only, as Rocket.Chat's `createRoom`.
                read_only: body.read_only || body.extra_data.broadcast,
                topic: body.topic.or(body.extra_data.topic),
                description: body.description,
                custom_fields: body.custom_fields.filter(|f| f.is_object()),
                team_id: body.extra_data.team_id,
            },
        )
        .await?;
    ok(json!({ keys(K).0: rest(&room) }))
}

/// `channels.list`: every public channel.
pub async fn list_public(
    State(state): State<AppState>,
    Auth(_): Auth,
    params: Params,
) -> ApiResult {
    let page = params.page()?;
    let sort = params.sort(name_sort())?;
    let filter = params.name_filter()?;
    let listing = state
        .chat
        .list_channels(filter.as_deref(), sort, page)
        .await?;
    paged("channels", &listing, page)
}

/// `channels.list.joined` and `groups.list`: the caller's rooms of that kind.
pub async fn list_joined<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let page = params.page()?;
    let sort = params.sort(name_sort())?;
    let listing = state
        .chat
        .user_rooms(&session.user, &[kind(K)], sort, page)
        .await?;
    paged(keys(K).1, &listing, page)
}

pub async fn join(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoomBody>,
) -> ApiResult {
    let room = target(&state, &session.user, &body, CHANNEL).await?;
    let room = state
        .chat
        .join_room_with_code(&session.user, &room.id, body.join_code.as_deref())
        .await?;
    ok(json!({"channel": rest(&room)}))
}

pub async fn leave<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoomBody>,
) -> ApiResult {
    let room = target(&state, &session.user, &body, K).await?;
    let room = state.chat.leave_room(&session.user, &room.id).await?;
    ok(json!({ keys(K).0: rest(&room) }))
}

pub(super) async fn body_user(state: &AppState, body: &RoomBody) -> Result<User, ApiError> {
    if body.user_id.is_none() && body.username.is_none() {
        return Err(ChatError::invalid("must have required property 'userId'").into());
    }
    Ok(state
        .chat
        .find_user(body.user_id.as_deref(), body.username.as_deref())
        .await?)
}

pub async fn invite<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoomBody>,
) -> ApiResult {
    let room = target(&state, &session.user, &body, K).await?;
    let user = body_user(&state, &body).await?;
    let room = state.chat.invite(&session.user, &room.id, &user).await?;
    ok(json!({ keys(K).0: rest(&room) }))
}

pub async fn kick<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoomBody>,
) -> ApiResult {
    // Found without an access check: `kick` itself answers a private room the
    // caller may neither see nor kick from as not found, and lets those holding
    // `kick-user-from-any-p-room` act on groups they are not in.
    let room = state.chat.room(body.room()?).await?;
    expect_kind(&room, kind(K))?;
    let user = body_user(&state, &body).await?;
    let room = state.chat.kick(&session.user, &room.id, &user).await?;
    ok(json!({ keys(K).0: rest(&room) }))
}

pub async fn info<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let (room, _) = state
        .chat
        .readable_room(&session.user, params_room_ref(&params)?)
        .await?;
    expect_kind(&room, kind(K))?;
    ok(json!({ keys(K).0: rest(&room) }))
}

/// The history query of `channels.history` and friends.
pub fn history_query(params: &Params) -> Result<HistoryQuery, ApiError> {
    let page = params.page()?;
    Ok(HistoryQuery {
        latest: params.date("latest")?,
        oldest: params.date("oldest")?,
        inclusive: params.bool("inclusive")?.unwrap_or(false),
        offset: page.offset,
        count: page.count,
        exclude_thread_replies: params.bool("showThreadMessages")? == Some(false),
    })
}

/// History of a room of the given kind (also used by `im.history`).
pub async fn history_of(
    state: &AppState,
    user: &User,
    r: RoomRef<'_>,
    room_kind: RoomType,
    params: &Params,
) -> ApiResult {
    let query = history_query(params)?;
    let (room, _) = state.chat.readable_room(user, r).await?;
    expect_kind(&room, room_kind)?;
    let (_, listing) = state
        .chat
        .history(user, RoomRef::Id(&room.id), &query)
        .await?;
    let messages: Vec<_> = listing.items.iter().map(rest).collect();
    ok(json!({
        "messages": messages,
        "count": messages.len(),
        "offset": query.offset,
        "total": listing.total,
    }))
}

pub async fn history<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    history_of(
        &state,
        &session.user,
        params_room_ref(&params)?,
        kind(K),
        &params,
    )
    .await
}

/// Members of a room of the given kind (also used by `im.members`).
pub async fn members_of(
    state: &AppState,
    user: &User,
    r: RoomRef<'_>,
    room_kind: RoomType,
    params: &Params,
) -> ApiResult {
    let page = params.page()?;
    // `status[]=online` as Rocket.Chat's clients send it (or `status=a,b`).
    let statuses = params
        .get("status[]")
        .or(params.get("status"))
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let filter = MemberFilter {
        text: params.get("filter").map(str::to_string),
        statuses,
    };
    let (room, listing) = state
        .chat
        .room_members_filtered(user, r, &filter, page)
        .await?;
    expect_kind(&room, room_kind)?;
    let statuses = state
        .chat
        .statuses_of(listing.items.iter().map(|s| s.u.id.clone()).collect())
        .await?;
    let members: Vec<_> = listing
        .items
        .iter()
        .map(|s| {
            let status = statuses.get(&s.u.id).map_or("offline", String::as_str);
            json!({
                "_id": s.u.id,
                "username": s.u.username,
                "name": s.u.name,
                "status": status,
                "_updatedAt": wire::iso(s.updated_at.0),
            })
        })
        .collect();
    ok(json!({
        "members": members,
        "count": members.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}

pub async fn members<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    members_of(
        &state,
        &session.user,
        params_room_ref(&params)?,
        kind(K),
        &params,
    )
    .await
}

pub async fn delete<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoomBody>,
) -> ApiResult {
    // Admins may delete groups they are not in: `delete_room` checks access itself.
    let room = state.chat.room(body.room()?).await?;
    expect_kind(&room, kind(K))?;
    state.chat.delete_room(&session.user, &room.id).await?;
    ok(json!({}))
}
