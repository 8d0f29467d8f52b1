//! `chat.*` beyond posting: pins, stars, thread follows, a room's pinned, starred,
//! mentioning messages and threads, syncs, deleted messages and search.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{parse_date, Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, paged, rest};
use crate::chat::message_marks::{Changes, ThreadsKind};
use crate::chat::ChatError;
use crate::store::{MessageFilter, Tombstone, Ts};
use crate::wire;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageIdBody {
    message_id: Option<String>,
    mid: Option<String>,
}

impl MessageIdBody {
    fn message_id(&self, missing: &'static str) -> Result<&str, ChatError> {
        self.message_id
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ChatError::refused("error-messageid-param-not-provided", missing))
    }
}

const MISSING: &str = "The required \"messageId\" param is missing.";
const REQUIRED: &str = "The required \"messageId\" param is required.";

pub async fn pin(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<MessageIdBody>,
) -> ApiResult {
    let mid = body.message_id(MISSING)?;
    let message = state.chat.pin_message(&session.user, mid, true).await?;
    ok(json!({ "message": rest(&message) }))
}

pub async fn unpin(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<MessageIdBody>,
) -> ApiResult {
    let mid = body.message_id(REQUIRED)?;
    state.chat.pin_message(&session.user, mid, false).await?;
    ok(json!({}))
}

pub async fn star(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<MessageIdBody>,
) -> ApiResult {
    let mid = body.message_id(REQUIRED)?;
    state.chat.star_message(&session.user, mid, true).await?;
    ok(json!({}))
}

pub async fn unstar(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<MessageIdBody>,
) -> ApiResult {
    let mid = body.message_id(REQUIRED)?;
    state.chat.star_message(&session.user, mid, false).await?;
    ok(json!({}))
}

fn mid_of(body: &MessageIdBody) -> Result<&str, ChatError> {
    body.mid
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        // Rocket.Chat: `Meteor.Error('The required "mid" body param is missing.')`.
        .ok_or_else(|| ChatError::refused("The required \"mid\" body param is missing.", ""))
}

pub async fn follow(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<MessageIdBody>,
) -> ApiResult {
    let mid = mid_of(&body)?;
    state.chat.follow_message(&session.user, mid, true).await?;
    ok(json!({}))
}

pub async fn unfollow(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<MessageIdBody>,
) -> ApiResult {
    let mid = mid_of(&body)?;
    state.chat.follow_message(&session.user, mid, false).await?;
    ok(json!({}))
}

fn room_id<'a>(params: &'a Params, error_type: &'static str) -> Result<&'a str, ChatError> {
    params.get("roomId").ok_or_else(|| {
        ChatError::refused(
            error_type,
            "The required \"roomId\" query param is missing.",
        )
    })
}

async fn marked(
    state: AppState,
    session: Auth,
    params: Params,
    filter: MessageFilter,
) -> ApiResult {
    let kind = if filter == MessageFilter::Pinned {
        "error-roomId-param-not-provided"
    } else {
        "error-invalid-params"
    };
    let rid = room_id(&params, kind)?;
    let page = params.page()?;
    let listing = state
        .chat
        .marked_messages(&session.0.user, rid, filter, page)
        .await?;
    paged("messages", &listing, page)
}

pub async fn pinned(State(state): State<AppState>, session: Auth, params: Params) -> ApiResult {
    marked(state, session, params, MessageFilter::Pinned).await
}

pub async fn starred(State(state): State<AppState>, session: Auth, params: Params) -> ApiResult {
    let uid = session.0.user.id.clone();
    marked(state, session, params, MessageFilter::StarredBy(uid)).await
}

pub async fn mentioned(State(state): State<AppState>, session: Auth, params: Params) -> ApiResult {
    let uid = session.0.user.id.clone();
    marked(state, session, params, MessageFilter::Mentioning(uid)).await
}

/// `channels.getAllUserMentionsByChannel?roomId`: the messages of a room that
/// mention the caller, as `{mentions, count, offset, total}`.
pub async fn mentions_by_channel(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let rid = params
        .get("roomId")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ChatError::schema("must have required property 'roomId'"))?;
    let page = params.page()?;
    let filter = MessageFilter::Mentioning(session.user.id.clone());
    let listing = state
        .chat
        .marked_messages(&session.user, rid, filter, page)
        .await?;
    paged("mentions", &listing, page)
}

pub async fn threads(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let rid = params
        .get("rid")
        .ok_or_else(|| ChatError::invalid("Match error: Expected string, got undefined"))?;
    let page = params.page()?;
    let kind = ThreadsKind::parse(params.get("type"));
    // Rocket.Chat matches the text as given (a space too), not trimmed.
    let text = params.get("text");
    let listing = state
        .chat
        .threads(&session.user, rid, kind, text, page)
        .await?;
    paged("threads", &listing, page)
}

pub async fn thread_messages(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let tmid = params.get("tmid");
    let page = params.page()?;
    let Some(tmid) = tmid else {
        if !state.chat.settings().bool("Threads_enabled") {
            return Err(ChatError::refused("error-not-allowed", "Threads Disabled").into());
        }
        return Err(ChatError::refused(
            "error-invalid-params",
            "The required \"tmid\" query param is missing.",
        )
        .into());
    };
    let listing = state.chat.thread_replies(&session.user, tmid, page).await?;
    paged("messages", &listing, page)
}

/// `updatedSince`, checked in Rocket.Chat's order after its own first checks.
fn updated_since(params: &Params) -> Result<Ts, ChatError> {
    let Some(raw) = params.get("updatedSince") else {
        return Err(ChatError::refused(
            "error-updatedSince-param-invalid",
            "The required param \"updatedSince\" is missing.",
        ));
    };
    parse_date(raw).ok_or_else(|| {
        ChatError::refused(
            "error-updatedSince-param-invalid",
            "The \"updatedSince\" query parameter must be a valid date.",
        )
    })
}

fn tombstone(t: &Tombstone) -> Value {
    json!({ "_id": t.id, "_deletedAt": wire::iso(t.deleted_at.0) })
}

fn update_remove(changes: &Changes) -> Value {
    json!({
        "update": changes.updated.iter().map(rest).collect::<Vec<_>>(),
        "remove": changes.deleted.iter().map(tombstone).collect::<Vec<_>>(),
    })
}

pub async fn sync_threads(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    if !state.chat.settings().bool("Threads_enabled") {
        return Err(ChatError::refused("error-not-allowed", "Threads Disabled").into());
    }
    let Some(rid) = params.get("rid") else {
        return Err(ChatError::refused(
            "error-room-id-param-not-provided",
            "The required \"rid\" query param is missing.",
        )
        .into());
    };
    let since = updated_since(&params)?;
    let changes = state.chat.sync_threads(&session.user, rid, since).await?;
    ok(json!({ "threads": update_remove(&changes) }))
}

pub async fn sync_thread_messages(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    if !state.chat.settings().bool("Threads_enabled") {
        return Err(ChatError::refused("error-not-allowed", "Threads Disabled").into());
    }
    let Some(tmid) = params.get("tmid") else {
        return Err(ChatError::refused(
            "error-invalid-params",
            "The required \"tmid\" query param is missing.",
        )
        .into());
    };
    let since = updated_since(&params)?;
    let changes = state.chat.sync_thread(&session.user, tmid, since).await?;
    ok(json!({ "messages": update_remove(&changes) }))
}

pub async fn sync_messages(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(rid) = params.get("roomId") else {
        return Err(ChatError::refused(
            "error-roomId-param-not-provided",
            "The required \"roomId\" query param is missing.",
        )
        .into());
    };
    if params.get("next").is_some() || params.get("type").is_some() {
        let rid = rid.to_string();
        return sync_cursor(state, session, params, &rid).await;
    }
    let Some(raw) = params.get("lastUpdate") else {
        return Err(ChatError::refused(
            "error-lastUpdate-param-not-provided",
            "The required \"lastUpdate\" query param is missing.",
        )
        .into());
    };
    let since = parse_date(raw).ok_or_else(|| {
        ChatError::refused(
            "error-roomId-param-invalid",
            "The \"lastUpdate\" query parameter must be a valid date.",
        )
    })?;
    let changes = state.chat.sync_messages(&session.user, rid, since).await?;
    ok(json!({
        "result": {
            "updated": changes.updated.iter().map(rest).collect::<Vec<_>>(),
            "deleted": changes.deleted.iter().map(tombstone).collect::<Vec<_>>(),
        }
    }))
}

/// The cursor form of `chat.syncMessages` (Rocket.Chat 7): `type` `UPDATED` or
/// `DELETED`, `next` the change time to continue after (epoch ms or ISO), `count`;
/// answers one kind with `cursor.next` set while more may follow.
async fn sync_cursor(
    state: AppState,
    session: crate::chat::accounts::Session,
    params: Params,
    rid: &str,
) -> ApiResult {
    let deleted = match params.get("type") {
        Some("UPDATED") => false,
        Some("DELETED") => true,
        _ => {
            return Err(ChatError::refused(
                "error-invalid-params",
                "The \"type\" query parameter must be UPDATED or DELETED.",
            )
            .into())
        }
    };
    let since = match params.get("next") {
        Some(raw) => parse_date(raw).ok_or_else(|| {
            ChatError::refused(
                "error-invalid-params",
                "The \"next\" query parameter must be a valid date.",
            )
        })?,
        None => Ts(0),
    };
    let count = params.page()?.count;
    let changes = state
        .chat
        .sync_messages_page(&session.user, rid, since, count, deleted)
        .await?;
    let last = if deleted {
        changes.deleted.last().map(|t| t.deleted_at)
    } else {
        changes.updated.last().map(|m| m.updated_at)
    };
    let len = changes.deleted.len() + changes.updated.len();
    let next = last
        .filter(|_| len as u64 >= count)
        .map(|t| t.0.to_string());
    ok(json!({
        "result": {
            "updated": changes.updated.iter().map(rest).collect::<Vec<_>>(),
            "deleted": changes.deleted.iter().map(tombstone).collect::<Vec<_>>(),
            "cursor": { "next": next, "previous": null },
        }
    }))
}

pub async fn deleted(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    // Rocket.Chat: `Meteor.Error('<sentence>')`, the sentence as the error type.
    let Some(rid) = params.get("roomId") else {
        return Err(
            ChatError::refused("The required \"roomId\" query param is missing.", "").into(),
        );
    };
    let Some(raw) = params.get("since") else {
        return Err(
            ChatError::refused("The required \"since\" query param is missing.", "").into(),
        );
    };
    let since = parse_date(raw).ok_or_else(|| {
        ChatError::refused("The \"since\" query parameter must be a valid date.", "")
    })?;
    let page = params.page()?;
    let listing = state
        .chat
        .deleted_messages(&session.user, rid, since, page)
        .await?;
    ok(json!({
        "messages": listing.items.iter().map(tombstone).collect::<Vec<_>>(),
        "count": listing.items.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}

pub async fn search(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(rid) = params.get("roomId") else {
        return Err(ChatError::refused(
            "error-roomId-param-not-provided",
            "The required \"roomId\" query param is missing.",
        )
        .into());
    };
    let Some(text) = params.get("searchText") else {
        return Err(ChatError::refused(
            "error-searchText-param-not-provided",
            "The required \"searchText\" query param is missing.",
        )
        .into());
    };
    let page = params.page()?;
    let messages = state
        .chat
        .search_messages(&session.user, rid, text, page)
        .await?;
    ok(json!({ "messages": messages.iter().map(rest).collect::<Vec<_>>() }))
}

/// `chat.getMessageReadReceipts`: read receipts are an enterprise feature of
/// Rocket.Chat's, which Palaver does not keep; answered as Rocket.Chat's community
/// edition answers.
pub async fn read_receipts(Auth(_): Auth, params: Params) -> ApiResult {
    if params.get("messageId").is_none() {
        return Err(ChatError::refused(
            "error-invalid-params",
            "The required \"messageId\" param is missing.",
        )
        .into());
    }
    Err(ChatError::refused("error-action-not-allowed", "This is an enterprise feature").into())
}

/// `GET chat.getURLPreview?roomId=&url=`: a link's preview for a reader of the room.
pub async fn url_preview(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let required = |k: &str| {
        params
            .get(k)
            .ok_or_else(|| ChatError::schema(format!("must have required property '{k}'")))
    };
    let (rid, url) = (required("roomId")?, required("url")?);
    let preview = state.chat.url_preview(&session.user, rid, url).await?;
    let mut body = json!({
        "url": preview.url,
        "meta": preview.meta,
        "ignoreParse": true,
    });
    if !preview.headers.is_empty() {
        body["headers"] = json!(preview.headers);
    }
    ok(json!({ "urlPreview": body }))
}
