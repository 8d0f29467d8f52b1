//! The Matrix bridge for admins (Palaver's own, so under a `palaver.` prefix):
//! - `GET palaver.matrix.rooms`: the bridged rooms;
//! - `POST palaver.matrix.bridgeRoom` `{roomId | roomName, matrixRoom}`: bridges a
//!   channel or private group to a Matrix room id (`!id:server`) or alias;
//! - `POST palaver.matrix.unbridgeRoom` `{roomId | roomName}`.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody};
use super::super::AppState;
use super::ok;
use crate::bridges::matrix::MatrixBridge;
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;
use crate::store::matrix::MatrixRoomLink;
use crate::wire;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/palaver.matrix.rooms", get(rooms))
        .route("/palaver.matrix.bridgeRoom", post(bridge_room))
        .route("/palaver.matrix.unbridgeRoom", post(unbridge_room))
}

fn bridge(state: &AppState) -> Result<&MatrixBridge, ChatError> {
    state.matrix.as_deref().ok_or_else(|| {
        ChatError::refused(
            "error-matrix-disabled",
            "The Matrix bridge is not enabled (matrix.enabled)",
        )
    })
}

fn render(link: &MatrixRoomLink) -> Value {
    json!({
        "roomId": link.room_id,
        "matrixRoomId": link.matrix_room_id,
        "alias": link.alias,
        "explicit": link.explicit,
        "createdAt": wire::iso(link.created_at.0),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomBody {
    room_id: Option<String>,
    room_name: Option<String>,
    matrix_room: Option<String>,
}

impl RoomBody {
    async fn room_id(&self, state: &AppState) -> Result<String, ChatError> {
        match (&self.room_id, &self.room_name) {
            (Some(id), _) if !id.trim().is_empty() => Ok(id.trim().to_string()),
            (_, Some(name)) if !name.trim().is_empty() => Ok(state
                .chat
                .room(RoomRef::Name(name.trim().trim_start_matches('#')))
                .await?
                .id),
            _ => Err(ChatError::invalid(
                "must have required property 'roomId' (or 'roomName')",
            )),
        }
    }
}

async fn rooms(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    let links = bridge(&state)?.bridged_rooms(&session.user).await?;
    let mut rooms = Vec::with_capacity(links.len());
    for link in &links {
        let mut room = render(link);
        // The room's name and type, for the console (a deleted room has none).
        if let Ok(r) = state.chat.room(RoomRef::Id(&link.room_id)).await {
            room["roomName"] = json!(r.name);
            room["roomType"] = json!(r.t);
        }
        rooms.push(room);
    }
    ok(json!({ "rooms": rooms }))
}

async fn bridge_room(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoomBody>,
) -> ApiResult {
    let b = bridge(&state)?;
    crate::chat::accounts::require_admin(&session.user)?;
    let rid = body.room_id(&state).await?;
    let Some(target) = body.matrix_room.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Err(ChatError::invalid("must have required property 'matrixRoom'").into());
    };
    let link = b.bridge_room(&session.user, &rid, target).await?;
    ok(json!({ "room": render(&link) }))
}

async fn unbridge_room(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoomBody>,
) -> ApiResult {
    let b = bridge(&state)?;
    crate::chat::accounts::require_admin(&session.user)?;
    let rid = body.room_id(&state).await?;
    let removed = b.unbridge_room(&session.user, &rid).await?;
    if !removed {
        return Err(
            ChatError::refused("error-matrix-not-bridged", "The room is not bridged").into(),
        );
    }
    ok(json!({}))
}
