//! Discussions: `rooms.createDiscussion`, `rooms.getDiscussions`,
//! `chat.getDiscussions`.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, paged, params_room_ref, rest};
use crate::chat::discussions::NewDiscussion;
use crate::chat::ChatError;

#[derive(Deserialize)]
pub struct CreateBody {
    prid: Option<String>,
    pmid: Option<String>,
    reply: Option<String>,
    t_name: Option<String>,
    users: Option<Value>,
    encrypted: Option<Value>,
    topic: Option<String>,
}

/// A body parameter error as Rocket.Chat's `API.v1.failure(text)`: the bare text.
fn failure(text: &str) -> ChatError {
    ChatError::invalid(text)
}

/// A discussion as `rooms.createDiscussion` answers it: the room with its id
/// again as `rid` (what Rocket.Chat's `createRoom` returns).
pub(crate) fn discussion_json(room: &crate::store::Room) -> Value {
    let mut value = rest(room);
    if let Value::Object(map) = &mut value {
        map.insert("rid".into(), Value::String(room.id.clone()));
    }
    value
}

/// Parses what `rooms.createDiscussion` and the `createDiscussion` method take,
/// with Rocket.Chat's REST checks (in its order).
pub(crate) fn new_discussion(body: CreateBody) -> Result<NewDiscussion, ChatError> {
    let prid = body.prid.filter(|p| !p.is_empty());
    if prid.is_none() {
        return Err(failure("Body parameter \"prid\" is required."));
    }
    let t_name = body
        .t_name
        .filter(|t| !t.is_empty())
        .ok_or_else(|| failure("Body parameter \"t_name\" is required."))?;
    let users = match body.users {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(users)) => users
            .into_iter()
            .filter_map(|u| u.as_str().filter(|s| !s.is_empty()).map(str::to_string))
            .collect(),
        Some(_) => return Err(failure("Body parameter \"users\" must be an array.")),
    };
    let encrypted = match body.encrypted {
        None => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => {
            return Err(failure(
                "Body parameter \"encrypted\" must be a boolean when included.",
            ))
        }
    };
    Ok(NewDiscussion {
        prid,
        pmid: body.pmid,
        t_name,
        reply: body.reply,
        users,
        topic: body.topic,
        encrypted,
    })
}

pub async fn create(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    let new = new_discussion(body)?;
    let room = state.chat.create_discussion(&session.user, new).await?;
    ok(json!({ "discussion": discussion_json(&room) }))
}

/// `rooms.getDiscussions`: a room's discussions, by title.
pub async fn room_discussions(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let room = params_room_ref(&params)?;
    let page = params.page()?;
    let listing = state
        .chat
        .room_discussions(&session.user, room, page)
        .await?;
    paged("discussions", &listing, page)
}

/// `chat.getDiscussions`: a room's messages linking to discussions.
pub async fn discussion_messages(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(rid) = params.get("roomId").filter(|r| !r.is_empty()) else {
        return Err(ChatError::refused(
            "error-invalid-params",
            "The required \"roomId\" query param is missing.",
        )
        .into());
    };
    let page = params.page()?;
    let text = params.get("text").map(str::to_string);
    let listing = state
        .chat
        .discussion_messages(&session.user, rid, text, page)
        .await?;
    paged("messages", &listing, page)
}
