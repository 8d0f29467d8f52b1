//! Room moderation and administration over REST: `rooms.muteUser|unmuteUser`,
//! `rooms.cleanHistory`, `rooms.images`, `rooms.adminRooms` (and `.getRoom`), the
//! `rooms.autocomplete.*` family.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Map, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{parse_date, Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, rest, room_ref};
use crate::chat::room_admin::AUTOCOMPLETE_LIMIT;
use crate::chat::ChatError;
use crate::store::{CleanHistory, Direction, Page, Room, RoomKinds, RoomType, Sort, SortKey, Ts};

type Body = Map<String, Value>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/rooms.muteUser", post(mute_user))
        .route("/rooms.unmuteUser", post(unmute_user))
        .route("/rooms.cleanHistory", post(clean_history))
        .route("/rooms.images", get(images))
        .route("/rooms.adminRooms", get(admin_rooms))
        .route("/rooms.adminRooms.getRoom", get(admin_room))
        .route("/rooms.autocomplete.adminRooms", get(autocomplete_admin))
        .route(
            "/rooms.autocomplete.channelAndPrivate",
            get(autocomplete_own),
        )
        .route(
            "/rooms.autocomplete.channelAndPrivate.withPagination",
            get(autocomplete_own_paged),
        )
        .route(
            "/rooms.autocomplete.availableForTeams",
            get(available_for_teams),
        )
}

fn failure(message: impl Into<String>) -> ApiError {
    ChatError::invalid(message).into()
}

fn text<'a>(body: &'a Body, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A body flag as Rocket.Chat reads one: `true`, `"true"`, `1` or `"1"`.
fn flag(body: &Body, key: &str) -> bool {
    matches!(body.get(key), Some(Value::Bool(true)))
        || matches!(body.get(key), Some(Value::String(s)) if s == "true" || s == "1")
        || body.get(key).and_then(Value::as_i64) == Some(1)
}

async fn mute(
    state: AppState,
    session_user: crate::store::User,
    body: Body,
    on: bool,
) -> ApiResult {
    let Some(rid) = text(&body, "roomId") else {
        return Err(failure("must have required property 'roomId'"));
    };
    let target = state
        .chat
        .find_user(text(&body, "userId"), text(&body, "username"))
        .await?;
    state
        .chat
        .set_muted(&session_user, rid, &target.username, on)
        .await?;
    ok(json!({}))
}

/// `rooms.muteUser` `{roomId, userId | username}`.
pub async fn mute_user(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    mute(state, session.user, body, true).await
}

/// `rooms.unmuteUser` `{roomId, userId | username}`.
pub async fn unmute_user(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    mute(state, session.user, body, false).await
}

/// `rooms.cleanHistory` `{roomId | roomName, latest, oldest, inclusive?, limit?,
/// excludePinned?, filesOnly?, ignoreThreads?, users?}`; answers `{_id, count}`.
pub async fn clean_history(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let r = room_ref(text(&body, "roomId"), text(&body, "roomName"))?;
    let date = |key: &str| -> Result<Option<Ts>, ApiError> {
        match text(&body, key) {
            None => Ok(None),
            Some(v) => parse_date(v)
                .map(Some)
                .ok_or_else(|| failure(format!("Body parameter \"{key}\" must be a date."))),
        }
    };
    let Some(latest) = date("latest")? else {
        return Err(failure("Body parameter \"latest\" is required."));
    };
    let Some(oldest) = date("oldest")? else {
        return Err(failure("Body parameter \"oldest\" is required."));
    };
    let usernames: Vec<String> = match body.get("users") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let mut from_user_ids = Vec::new();
    for name in &usernames {
        if let Ok(user) = state.chat.find_user(None, Some(name)).await {
            from_user_ids.push(user.id);
        }
    }
    if !usernames.is_empty() && from_user_ids.is_empty() {
        // Only unknown users: nothing of theirs to delete.
        let (room, _) = state.chat.readable_room(&session.user, r).await?;
        return ok(json!({ "_id": room.id, "count": 0 }));
    }
    let clean = CleanHistory {
        oldest,
        latest,
        inclusive: flag(&body, "inclusive"),
        limit: body
            .get("limit")
            .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            .unwrap_or(0),
        from_user_ids,
        exclude_pinned: flag(&body, "excludePinned"),
        files_only: flag(&body, "filesOnly"),
        ignore_threads: flag(&body, "ignoreThreads"),
    };
    let (room, count) = state.chat.clean_history(&session.user, r, clean).await?;
    ok(json!({ "_id": room.id, "count": count }))
}

/// Room types from `types`, `types[]` or `types[N]` (however the query string
/// spelled the array); unknown codes are ignored.
fn types_param(params: &Params) -> Vec<RoomType> {
    let mut types: Vec<RoomType> = type_words(params).filter_map(RoomType::from_code).collect();
    types.sort_by_key(|t| t.code());
    types.dedup();
    types
}

/// The `types` values (`types[]=c&types[]=discussions`, or comma-separated).
fn type_words(params: &Params) -> impl Iterator<Item = &str> {
    params
        .2
        .iter()
        .filter(|(k, _)| *k == "types" || k.starts_with("types["))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
}

/// The kinds of rooms besides plain ones `types` asks for (`discussions`,
/// `teams`); without them the admin listing leaves both out, as Rocket.Chat's.
fn kinds_param(params: &Params) -> RoomKinds {
    RoomKinds {
        discussions: type_words(params).any(|w| w == "discussions"),
        team_mains: type_words(params).any(|w| w == "teams"),
        of_any_type: true,
    }
}

/// Rocket.Chat's `API.v1.failure('error-not-authorized')` (the bare word) for a
/// caller without `view-room-administration`; other errors as usual.
fn admin_refusal(e: ChatError) -> ApiResult {
    use axum::response::IntoResponse;
    match e {
        ChatError::Forbidden(m) if m == "error-not-authorized" => Ok((
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"success": false, "error": "error-not-authorized"})),
        )
            .into_response()),
        other => Err(other.into()),
    }
}

/// `rooms.adminRooms?filter&types[]&offset&count&sort`.
pub async fn admin_rooms(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let page = params.page()?;
    let sort = params.sort(Sort {
        key: SortKey::Name,
        dir: Direction::Asc,
    })?;
    match state
        .chat
        .admin_rooms(
            &session.user,
            &types_param(&params),
            kinds_param(&params),
            params.get("filter"),
            sort,
            page,
        )
        .await
    {
        Ok(listing) => super::paged("rooms", &listing, page),
        Err(e) => admin_refusal(e),
    }
}

/// `rooms.adminRooms.getRoom?rid`: the room's document itself.
pub async fn admin_room(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let rid = params.get("rid").unwrap_or_default();
    let room = match state.chat.admin_room(&session.user, rid).await {
        Ok(room) => room,
        Err(e) => return admin_refusal(e),
    };
    let Some(room) = room else {
        return Err(ChatError::refused("not-allowed", "Not Allowed").into());
    };
    let mut body = rest(&room);
    if let Some(obj) = body.as_object_mut() {
        obj.insert("success".into(), Value::Bool(true));
    }
    Ok(axum::response::IntoResponse::into_response(axum::Json(
        body,
    )))
}

/// The `name` of an autocomplete's `selector` JSON (required).
fn selector_name(params: &Params) -> Result<String, ApiError> {
    let Some(raw) = params.get("selector") else {
        return Err(failure("The 'selector' param is required"));
    };
    let selector: Value = serde_json::from_str(raw)
        .map_err(|_| failure("The 'selector' param must be a JSON object"))?;
    Ok(selector
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string())
}

/// The fields Rocket.Chat's autocompletes return for a room.
fn item(room: &Room) -> Value {
    json!({
        "_id": room.id,
        "fname": room.fname,
        "name": room.name,
        "t": room.t,
        "avatarETag": room.avatar_etag,
    })
}

/// `rooms.autocomplete.adminRooms?selector={"name": …}`.
pub async fn autocomplete_admin(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let name = selector_name(&params)?;
    let sort = Sort {
        key: SortKey::Name,
        dir: Direction::Asc,
    };
    let rooms = match state
        .chat
        .autocomplete_admin_rooms(&session.user, &name, sort)
        .await
    {
        Ok(rooms) => rooms,
        Err(e) => return admin_refusal(e),
    };
    let items: Vec<Value> = rooms.iter().map(item).collect();
    ok(json!({ "items": items }))
}

/// `rooms.autocomplete.channelAndPrivate?selector={"name": …}`: the caller's
/// channels and groups.
pub async fn autocomplete_own(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let name = selector_name(&params)?;
    let listing = state
        .chat
        .autocomplete_own_rooms(&session.user, &name, Page::new(0, AUTOCOMPLETE_LIMIT))
        .await?;
    let items: Vec<Value> = listing.items.iter().map(item).collect();
    ok(json!({ "items": items }))
}

/// `rooms.autocomplete.channelAndPrivate.withPagination?selector&offset&count`.
pub async fn autocomplete_own_paged(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let name = selector_name(&params)?;
    let page = params.page()?;
    let listing = state
        .chat
        .autocomplete_own_rooms(&session.user, &name, page)
        .await?;
    let items: Vec<Value> = listing.items.iter().map(item).collect();
    ok(json!({ "items": items, "total": listing.total }))
}

/// `rooms.autocomplete.availableForTeams?name`: the caller's channels and groups
/// (Palaver has no teams, so none is in one already).
pub async fn available_for_teams(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let name = params.get("name").unwrap_or_default();
    let listing = state
        .chat
        .autocomplete_own_rooms(&session.user, name, Page::new(0, AUTOCOMPLETE_LIMIT))
        .await?;
    let items: Vec<Value> = listing.items.iter().map(item).collect();
    ok(json!({ "items": items }))
}

/// `rooms.images?roomId&startingFromId&offset&count`: `{files, count, offset, total}`.
pub async fn images(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    use axum::response::IntoResponse;
    let Some(rid) = params.get("roomId") else {
        return Err(failure("must have required property 'roomId'"));
    };
    let page = params.page()?;
    let listing = match state
        .chat
        .room_images(&session.user, rid, params.get("startingFromId"), page)
        .await
    {
        Ok(listing) => listing,
        Err(ChatError::Forbidden(_)) => {
            return Ok((
                axum::http::StatusCode::FORBIDDEN,
                axum::Json(json!({"success": false, "error": "unauthorized"})),
            )
                .into_response())
        }
        Err(e) => return Err(e.into()),
    };
    let files: Vec<Value> = listing.items.iter().map(super::files::file_json).collect();
    ok(json!({
        "files": files,
        "count": page.count,
        "offset": page.offset,
        "total": listing.total,
    }))
}
