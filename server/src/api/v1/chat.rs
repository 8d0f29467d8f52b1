//! `chat.*`: posting, editing, deleting, reacting, reading single messages and threads.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, required, rest};
use crate::chat::messages::NewMessage;
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;
use crate::store::{Ts, User};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostBody {
    /// A room id, or a list of them (Rocket.Chat posts to the first).
    room_id: Option<OneOrMany>,
    /// `#name`, `@username`, a room id or name, or a list of them.
    channel: Option<OneOrMany>,
    text: Option<String>,
    /// Accepted for `text`, as Rocket.Chat's webhook message processing does.
    msg: Option<String>,
    alias: Option<String>,
    emoji: Option<String>,
    avatar: Option<String>,
    #[serde(default)]
    attachments: Vec<Value>,
    tmid: Option<String>,
    custom_fields: Option<Value>,
}

/// A string or a list of strings.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn first(&self) -> Option<&str> {
        match self {
            OneOrMany::One(s) => Some(s.as_str()),
            OneOrMany::Many(v) => v.first().map(String::as_str),
        }
        .map(str::trim)
        .filter(|s| !s.is_empty())
    }
}

/// Resolves `channel` as Rocket.Chat does: `#name`, `@username` (the DM with that
/// user, opened if needed), or a room id, else a room name.
async fn resolve_channel(state: &AppState, user: &User, channel: &str) -> Result<String, ApiError> {
    if let Some(username) = channel.strip_prefix('@') {
        return Ok(state
            .chat
            .create_direct(user, &[username.to_string()])
            .await?
            .id);
    }
    if let Some(name) = channel.strip_prefix('#') {
        return Ok(state.chat.room(RoomRef::Name(name)).await?.id);
    }
    match state.chat.room(RoomRef::Id(channel)).await {
        Ok(room) => Ok(room.id),
        Err(ChatError::Refused {
            error_type: "error-room-not-found",
            ..
        }) => Ok(state.chat.room(RoomRef::Name(channel)).await?.id),
        Err(e) => Err(e.into()),
    }
}

pub async fn post_message(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<PostBody>,
) -> ApiResult {
    let room_id = body.room_id.as_ref().and_then(OneOrMany::first);
    let channel = body.channel.as_ref().and_then(OneOrMany::first);
    let (rid, channel) = match (room_id, channel) {
        (Some(id), _) => (id.to_string(), id.to_string()),
        (None, Some(ch)) => (
            resolve_channel(&state, &session.user, ch).await?,
            ch.to_string(),
        ),
        // Rocket.Chat: `Meteor.Error('invalid-channel')`.
        (None, None) => return Err(ChatError::refused("invalid-channel", "").into()),
    };
    let new = NewMessage {
        id: None,
        rid,
        msg: body.text.or(body.msg).unwrap_or_default(),
        tmid: body.tmid.filter(|t| !t.is_empty()),
        alias: body.alias,
        emoji: body.emoji,
        avatar: body.avatar,
        attachments: body.attachments,
        custom_fields: body.custom_fields,
        ..Default::default()
    };
    let (_, message) = state.chat.send_message(&session.user, new).await?;
    ok(json!({
        "ts": Ts::now().0,
        "channel": channel,
        "message": rest(&message),
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendMessage {
    #[serde(rename = "_id")]
    id: Option<String>,
    rid: Option<String>,
    msg: Option<String>,
    /// Rocket.Chat's newer clients (and its own test helpers) send the text here
    /// instead of in `msg`; taken when `msg` is absent.
    text: Option<String>,
    /// A message type: clients may send only end-to-end encrypted ones (`e2e`);
    /// system messages (`uj`, `subscription-role-added`, …) are the server's.
    t: Option<String>,
    tmid: Option<String>,
    alias: Option<String>,
    emoji: Option<String>,
    avatar: Option<String>,
    #[serde(default)]
    attachments: Vec<Value>,
    custom_fields: Option<Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SendBody {
    message: Option<SendMessage>,
    /// The links to preview (Rocket.Chat's `previewUrls`); absent: all.
    preview_urls: Option<Vec<String>>,
}

pub async fn send_message(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<SendBody>,
) -> ApiResult {
    let Some(m) = body.message else {
        return Err(ChatError::refused(
            "error-invalid-params",
            "The \"message\" parameter must be provided.",
        )
        .into());
    };
    if m.t.as_deref().is_some_and(|t| !t.is_empty() && t != "e2e") {
        // Rocket.Chat's plain `Error`, before anything else is looked at.
        return Err(ChatError::failure(
            "error-invalid-message-type",
            "Cannot send system messages using 'chat.sendMessage'",
        )
        .into());
    }
    let Some(rid) = m.rid.filter(|r| !r.trim().is_empty()) else {
        return Err(ApiError::BadBody(
            "The 'rid' property on the message object is missing.".into(),
        ));
    };
    let new = NewMessage {
        id: m.id.filter(|i| !i.is_empty()),
        rid,
        msg: m.msg.or(m.text).unwrap_or_default(),
        tmid: m.tmid.filter(|t| !t.is_empty()),
        alias: m.alias,
        emoji: m.emoji,
        avatar: m.avatar,
        attachments: m.attachments,
        custom_fields: m.custom_fields,
        preview_urls: body.preview_urls,
        ..Default::default()
    };
    let (_, message) = state.chat.send_message(&session.user, new).await?;
    ok(json!({"message": rest(&message)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBody {
    room_id: Option<String>,
    msg_id: Option<String>,
    text: Option<String>,
    custom_fields: Option<Value>,
}

pub async fn update(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    let rid = required(&body.room_id, "roomId")?;
    let mid = required(&body.msg_id, "msgId")?;
    let Some(text) = body.text.as_deref() else {
        return Err(ChatError::invalid("must have required property 'text'").into());
    };
    let message = state
        .chat
        .update_message_with(&session.user, rid, mid, text, body.custom_fields.clone())
        .await?;
    let mut message = rest(&message);
    // An edit rewrites the attachments (quotes follow the new text): Rocket.Chat
    // answers them even when none are left.
    if message.get("attachments").is_none() {
        message["attachments"] = json!([]);
    }
    ok(json!({ "message": message }))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    let rid = required(&body.room_id, "roomId")?;
    let mid = required(&body.msg_id, "msgId")?;
    let message = state.chat.delete_message(&session.user, rid, mid).await?;
    ok(json!({
        "_id": message.id,
        "ts": Ts::now().0,
        "message": {"_id": message.id, "rid": message.rid, "u": message.u},
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactBody {
    message_id: Option<String>,
    emoji: Option<String>,
    /// Older clients send `reaction`.
    reaction: Option<String>,
    should_react: Option<bool>,
}

pub async fn react(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<ReactBody>,
) -> ApiResult {
    let mid = required(&body.message_id, "messageId")?;
    let emoji = body.emoji.as_ref().or(body.reaction.as_ref()).cloned();
    let emoji = required(&emoji, "emoji")?;
    state
        .chat
        .react(&session.user, mid, emoji, body.should_react)
        .await?;
    ok(json!({}))
}

pub async fn get_message(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(mid) = params.get("msgId") else {
        return Err(ChatError::invalid("The \"msgId\" query parameter must be provided").into());
    };
    let (_, message) = state.chat.get_message(&session.user, mid).await?;
    ok(json!({"message": rest(&message)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportBody {
    message_id: Option<String>,
    description: Option<String>,
}

/// `POST chat.reportMessage {messageId, description}`: flags a message for the
/// moderators.
pub async fn report_message(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<ReportBody>,
) -> ApiResult {
    // Rocket.Chat's own failures, before the method's checks.
    let Some(mid) = body.message_id.as_deref().filter(|m| !m.is_empty()) else {
        return Err(ChatError::invalid("The required \"messageId\" param is missing.").into());
    };
    let Some(description) = body.description.as_deref().filter(|d| !d.is_empty()) else {
        return Err(ChatError::invalid("The required \"description\" param is missing.").into());
    };
    state
        .chat
        .report_message(&session.user, mid, description)
        .await?;
    ok(json!({}))
}

/// `GET moderation.reports?msgId=`: a message's reports, newest first
/// (`view-moderation-console`).
pub async fn message_reports(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(mid) = params.get("msgId") else {
        return Err(
            ChatError::refused("invalid-params", "must have required property 'msgId'").into(),
        );
    };
    let page = params.page()?;
    let listing = state.chat.message_reports(&session.user, mid, page).await?;
    let reports: Vec<Value> = listing
        .items
        .iter()
        .map(|r| {
            let mut doc = serde_json::to_value(r).unwrap_or(Value::Null);
            doc["ts"] = json!(crate::wire::iso(r.ts.0));
            doc
        })
        .collect();
    ok(json!({
        "reports": reports,
        "count": reports.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}
