//! Room settings over REST: `channels|groups.setTopic|setDescription|setPurpose|
//! setAnnouncement|setCustomFields|setReadOnly|setJoinCode|setType|rename|archive|
//! unarchive`, `rooms.saveRoomSettings` and `rooms.changeArchivationState`, with
//! Rocket.Chat's checks and answers.

use axum::extract::State;
use serde_json::{json, Map, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody};
use super::super::AppState;
use super::rooms::{kind, GROUP};
use super::{expect_kind, ok, rest, room_ref};
use crate::chat::room_settings::RoomSettingsChange;
use crate::chat::{Chat, ChatError};
use crate::store::{Room, RoomType, Sidepanel, User};

type Body = Map<String, Value>;

/// A plain Rocket.Chat `API.v1.failure(message)`.
fn failure(message: impl Into<String>) -> ApiError {
    ChatError::invalid(message).into()
}

fn text<'a>(body: &'a Body, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str)
}

/// The room named by `roomId`/`roomName`, as the endpoint family finds it: any
/// channel (they are public), or a group the caller is in; archived rooms are
/// refused unless `allow_archived`.
pub(super) async fn find_room(
    state: &AppState,
    user: &User,
    body: &Body,
    k: u8,
    allow_archived: bool,
) -> Result<Room, ApiError> {
    let r = room_ref(text(body, "roomId"), text(body, "roomName"))?;
    let room = if kind(k) == RoomType::Group {
        state.chat.readable_room(user, r).await?.0
    } else {
        state.chat.room(r).await?
    };
    expect_kind(&room, kind(k))?;
    if !allow_archived {
        Chat::check_not_archived(&room)?;
    }
    Ok(room)
}

fn room_key(k: u8) -> &'static str {
    if k == GROUP {
        "group"
    } else {
        "channel"
    }
}

/// "The channel …" / "The private group …", as Rocket.Chat words its refusals.
fn the_room(k: u8) -> &'static str {
    if k == GROUP {
        "The private group"
    } else {
        "The channel"
    }
}

/// Which text setting a `set*` endpoint changes.
#[derive(Clone, Copy)]
enum TextField {
    Topic,
    Description,
    Purpose,
    Announcement,
}

impl TextField {
    fn param(self) -> &'static str {
        match self {
            TextField::Topic => "topic",
            TextField::Description => "description",
            TextField::Purpose => "purpose",
            TextField::Announcement => "announcement",
        }
    }
}

async fn set_text(state: AppState, actor: &User, body: Body, k: u8, field: TextField) -> ApiResult {
    let param = field.param();
    if !body.contains_key(param) {
        return Err(failure(format!("The bodyParam \"{param}\" is required")));
    }
    let value = text(&body, param).unwrap_or_default().to_string();
    let room = find_room(&state, actor, &body, k, false).await?;
    // Channels refuse a no-op change; groups (and announcements) accept it.
    if k != GROUP {
        let current = match field {
            TextField::Topic => Some(&room.topic),
            TextField::Description => Some(&room.description),
            TextField::Purpose => Some(&room.description),
            TextField::Announcement => None,
        };
        if current.is_some_and(|c| c.as_deref() == text(&body, param)) {
            let what = match field {
                TextField::Purpose => "purpose (description)",
                _ => param,
            };
            return Err(failure(format!(
                "The channel {what} is the same as what it would be changed to."
            )));
        }
    }
    let mut change = RoomSettingsChange::default();
    match field {
        TextField::Topic => change.topic = Some(value.clone()),
        TextField::Description | TextField::Purpose => change.description = Some(value.clone()),
        TextField::Announcement => change.announcement = Some(value.clone()),
    }
    state
        .chat
        .save_room_settings(actor, &room.id, change)
        .await?;
    ok(json!({ param: value }))
}

pub async fn set_topic<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    set_text(state, &session.user, body, K, TextField::Topic).await
}

pub async fn set_description<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    set_text(state, &session.user, body, K, TextField::Description).await
}

pub async fn set_purpose<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    set_text(state, &session.user, body, K, TextField::Purpose).await
}

pub async fn set_announcement<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    set_text(state, &session.user, body, K, TextField::Announcement).await
}

/// Saves `change` and answers with the room under `channel`/`group`.
async fn save_and_show(
    state: &AppState,
    actor: &User,
    room: &Room,
    k: u8,
    change: RoomSettingsChange,
) -> ApiResult {
    let room = state
        .chat
        .save_room_settings(actor, &room.id, change)
        .await?;
    ok(json!({ room_key(k): rest(&room) }))
}

pub async fn set_read_only<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let Some(read_only) = body.get("readOnly").and_then(Value::as_bool) else {
        return Err(failure("The bodyParam \"readOnly\" is required"));
    };
    let room = find_room(&state, &session.user, &body, K, false).await?;
    if room.ro == read_only {
        return Err(failure(format!(
            "{} read only setting is the same as what it would be changed to.",
            the_room(K)
        )));
    }
    let change = RoomSettingsChange {
        read_only: Some(read_only),
        ..Default::default()
    };
    save_and_show(&state, &session.user, &room, K, change).await
}

pub async fn set_custom_fields<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let Some(fields) = body.get("customFields").filter(|f| f.is_object()).cloned() else {
        return Err(failure(
            "The bodyParam \"customFields\" is required with a type like object.",
        ));
    };
    let room = find_room(&state, &session.user, &body, K, false).await?;
    let change = RoomSettingsChange {
        custom_fields: Some(fields),
        ..Default::default()
    };
    save_and_show(&state, &session.user, &room, K, change).await
}

pub async fn set_join_code(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let Some(code) = text(&body, "joinCode").filter(|c| !c.trim().is_empty()) else {
        return Err(failure("The bodyParam \"joinCode\" is required"));
    };
    let change = RoomSettingsChange {
        join_code: Some(code.to_string()),
        ..Default::default()
    };
    let room = find_room(&state, &session.user, &body, b'c', false).await?;
    save_and_show(&state, &session.user, &room, b'c', change).await
}

pub async fn set_type<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let Some(code) = text(&body, "type").map(str::trim).filter(|t| !t.is_empty()) else {
        return Err(failure("The bodyParam \"type\" is required"));
    };
    let room = find_room(&state, &session.user, &body, K, false).await?;
    if room.t.code() == code {
        return Err(failure(format!(
            "{} type is the same as what it would be changed to.",
            the_room(K)
        )));
    }
    let new_kind = match RoomType::from_code(code) {
        Some(t @ (RoomType::Channel | RoomType::Group)) => t,
        _ => {
            return Err(
                ChatError::refused("error-invalid-room-type", "error-invalid-room-type").into(),
            )
        }
    };
    let change = RoomSettingsChange {
        kind: Some(new_kind),
        ..Default::default()
    };
    let room = state
        .chat
        .save_room_settings(&session.user, &room.id, change)
        .await?;
    ok(json!({ room_key(K): rest(&room) }))
}

pub async fn rename<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let Some(name) = text(&body, "name").filter(|n| !n.trim().is_empty()) else {
        return Err(failure("The bodyParam \"name\" is required"));
    };
    let room = find_room(&state, &session.user, &body, K, false).await?;
    if K != GROUP && room.name.as_deref() == Some(name) {
        return Err(failure(
            "The channel name is the same as what it would be renamed to.",
        ));
    }
    let change = RoomSettingsChange {
        name: Some(name.to_string()),
        ..Default::default()
    };
    save_and_show(&state, &session.user, &room, K, change).await
}

pub async fn archive<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let room = find_room(&state, &session.user, &body, K, false).await?;
    state.chat.archive_room(&session.user, &room.id).await?;
    ok(json!({}))
}

pub async fn unarchive<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let room = find_room(&state, &session.user, &body, K, true).await?;
    if K != GROUP && !room.archived {
        return Err(failure(format!(
            "The channel, {}, is not archived",
            room.name.as_deref().unwrap_or_default()
        )));
    }
    state.chat.unarchive_room(&session.user, &room.id).await?;
    ok(json!({}))
}

/// The settings `saveRoomSettings` knows; those Palaver does not keep are accepted
/// and ignored, anything else is refused as Rocket.Chat does.
const KNOWN_SETTINGS: &[&str] = &[
    "roomAvatar",
    "featured",
    "roomName",
    "roomTopic",
    "roomAnnouncement",
    "roomCustomFields",
    "roomDescription",
    "roomType",
    "readOnly",
    "reactWhenReadOnly",
    "systemMessages",
    "default",
    "joinCode",
    "retentionEnabled",
    "retentionMaxAge",
    "retentionExcludePinned",
    "retentionFilesOnly",
    "retentionIgnoreThreads",
    "retentionOverrideGlobal",
    "encrypted",
    "favorite",
    "sidepanel",
];

/// `rooms.saveRoomSettings`: `{rid, roomTopic?, roomName?, …}`.
pub async fn save_room_settings(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(mut body): JsonBody<Body>,
) -> ApiResult {
    let Some(rid) = body
        .remove("rid")
        .and_then(|v| v.as_str().map(str::to_string))
    else {
        return Err(ChatError::refused("error-invalid-room", "Invalid room").into());
    };
    if body.keys().any(|k| !KNOWN_SETTINGS.contains(&k.as_str())) {
        return Err(
            ChatError::refused("error-invalid-settings", "Invalid settings provided").into(),
        );
    }
    let string = |key: &str| {
        body.get(key)
            .map(|v| v.as_str().unwrap_or_default().to_string())
    };
    let boolean = |key: &str| body.get(key).and_then(Value::as_bool);
    let kind = match body.get("roomType").and_then(Value::as_str) {
        None => None,
        Some(code) => match RoomType::from_code(code) {
            Some(t @ (RoomType::Channel | RoomType::Group)) => Some(t),
            _ => {
                return Err(ChatError::refused(
                    "error-invalid-room-type",
                    "error-invalid-room-type",
                )
                .into())
            }
        },
    };
    let change = RoomSettingsChange {
        name: string("roomName"),
        topic: string("roomTopic"),
        announcement: string("roomAnnouncement"),
        description: string("roomDescription"),
        custom_fields: body.get("roomCustomFields").cloned(),
        kind,
        read_only: boolean("readOnly"),
        react_when_read_only: boolean("reactWhenReadOnly"),
        join_code: body.get("joinCode").map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        }),
        default: boolean("default"),
        featured: boolean("featured"),
        sys_mes: match body.get("systemMessages") {
            None => None,
            Some(Value::Array(types)) => Some(
                types
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
            ),
            Some(_) => {
                return Err(ChatError::refused(
                    "invalid-systemMessages",
                    "Invalid value for systemMessages",
                )
                .into())
            }
        },
        favorite: body.get("favorite").map(|f| {
            let part = |k: &str| f.get(k).and_then(Value::as_bool).unwrap_or(false);
            part("favorite") && part("defaultValue")
        }),
        sidepanel: match body.get("sidepanel") {
            None => None,
            Some(v) => Some(
                v.get("items")
                    .and_then(Value::as_array)
                    .and_then(|items| Sidepanel::parse(items))
                    .ok_or_else(|| ChatError::refused("error-invalid-sidepanel", ""))?,
            ),
        },
    };
    let room = state
        .chat
        .save_room_settings(&session.user, &rid, change)
        .await?;
    if let Some(avatar) = body.get("roomAvatar") {
        let data_uri = avatar.as_str().unwrap_or_default();
        state
            .chat
            .set_room_avatar(&session.user, &room.id, data_uri)
            .await?;
    }
    ok(json!({ "rid": room.id }))
}

/// `rooms.changeArchivationState`: `{rid, action: "archive"|"unarchive"}`.
pub async fn change_archivation_state(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let rid = text(&body, "rid").unwrap_or_default();
    if text(&body, "action") == Some("archive") {
        state.chat.archive_room(&session.user, rid).await?;
    } else {
        state.chat.unarchive_room(&session.user, rid).await?;
    }
    ok(json!({}))
}
