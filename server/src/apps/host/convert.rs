//! Conversions between Palaver's records and the WIT types apps see.

use serde_json::{json, Value};

use super::bindings::palaver::apps::types as wit;
use crate::chat::messages::NewMessage;
use crate::chat::ChatError;
use crate::store::{roles, Message, Room, RoomType, User, UserRef};

pub fn user(u: &User) -> wit::User {
    wit::User {
        id: u.id.clone(),
        username: u.username.clone(),
        name: u.name.clone(),
        roles: u.roles.clone(),
        active: u.active,
        is_bot: u.has_role(roles::BOT),
    }
}

pub fn user_ref(u: &UserRef) -> wit::UserRef {
    wit::UserRef {
        id: u.id.clone(),
        username: u.username.clone(),
        name: u.name.clone(),
    }
}

pub fn room(r: &Room) -> wit::Room {
    wit::Room {
        id: r.id.clone(),
        kind: match r.t {
            RoomType::Channel => wit::RoomKind::Channel,
            RoomType::Group => wit::RoomKind::Group,
            RoomType::Direct => wit::RoomKind::Direct,
        },
        name: r.name.clone(),
        display_name: r.fname.clone(),
        creator_id: r.u.as_ref().map(|u| u.id.clone()),
        users_count: r.users_count.clamp(0, u32::MAX as i64) as u32,
        messages_count: r.msgs.clamp(0, u32::MAX as i64) as u32,
        read_only: r.ro,
        topic: r.topic.clone(),
        member_usernames: r.usernames.clone().unwrap_or_default(),
    }
}

pub fn room_kind(kind: wit::RoomKind) -> RoomType {
    match kind {
        wit::RoomKind::Channel => RoomType::Channel,
        wit::RoomKind::Group => RoomType::Group,
        wit::RoomKind::Direct => RoomType::Direct,
    }
}

fn str_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn attachment(v: &Value) -> wit::Attachment {
    wit::Attachment {
        title: str_field(v, "title"),
        title_link: str_field(v, "title_link"),
        text: str_field(v, "text"),
        color: str_field(v, "color"),
        image_url: str_field(v, "image_url"),
        author_name: str_field(v, "author_name"),
        fields: v
            .get("fields")
            .and_then(Value::as_array)
            .map(|fields| {
                fields
                    .iter()
                    .map(|f| wit::AttachmentField {
                        title: str_field(f, "title").unwrap_or_default(),
                        value: str_field(f, "value").unwrap_or_default(),
                        short: f.get("short").and_then(Value::as_bool).unwrap_or(false),
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// An attachment as Rocket.Chat stores it.
fn attachment_json(a: &wit::Attachment) -> Value {
    let mut v = json!({});
    for (key, value) in [
        ("title", &a.title),
        ("title_link", &a.title_link),
        ("text", &a.text),
        ("color", &a.color),
        ("image_url", &a.image_url),
        ("author_name", &a.author_name),
    ] {
        if let Some(value) = value {
            v[key] = json!(value);
        }
    }
    if !a.fields.is_empty() {
        v["fields"] = a
            .fields
            .iter()
            .map(|f| json!({"title": f.title, "value": f.value, "short": f.short}))
            .collect();
    }
    v
}

pub fn message(m: &Message) -> wit::Message {
    wit::Message {
        id: Some(m.id.clone()),
        room_id: m.rid.clone(),
        text: m.msg.clone(),
        sender: Some(user_ref(&m.u)),
        thread_id: m.tmid.clone(),
        alias: m.alias.clone(),
        emoji: m.emoji.clone(),
        avatar: m.avatar.clone(),
        attachments: m.attachments.iter().map(attachment).collect(),
        custom_fields: m.custom_fields.as_ref().map(Value::to_string),
        ts: u64::try_from(m.ts.0).ok(),
        edited_at: m.edited_at.and_then(|t| u64::try_from(t.0).ok()),
        system_kind: m.t.clone(),
    }
}

fn custom_fields(text: Option<&str>) -> Result<Option<Value>, ChatError> {
    text.map(|t| {
        serde_json::from_str::<Value>(t)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| ChatError::invalid("custom-fields must be a JSON object"))
    })
    .transpose()
}

/// A message an app sends.
pub fn new_message(m: wit::Message) -> Result<NewMessage, ChatError> {
    Ok(NewMessage {
        id: None,
        rid: m.room_id,
        msg: m.text,
        tmid: m.thread_id,
        alias: m.alias,
        emoji: m.emoji,
        avatar: m.avatar,
        attachments: m.attachments.iter().map(attachment_json).collect(),
        custom_fields: custom_fields(m.custom_fields.as_deref())?,
        ..Default::default()
    })
}

/// Applies a pre-send hook's `modify` to the message being sent: the content may
/// change; identity, room, sender and thread may not.
pub fn apply_modification(original: &Message, m: wit::Message) -> Result<Message, ChatError> {
    let mut out = original.clone();
    out.msg = m.text;
    out.alias = m.alias.filter(|s| !s.is_empty());
    out.emoji = m.emoji.filter(|s| !s.is_empty());
    out.avatar = m.avatar.filter(|s| !s.is_empty());
    out.attachments = m.attachments.iter().map(attachment_json).collect();
    out.custom_fields = custom_fields(m.custom_fields.as_deref())?;
    Ok(out)
}

/// How a chat refusal reads to an app.
pub fn chat_error(e: ChatError) -> wit::Error {
    match e {
        ChatError::Refused {
            error_type,
            message,
        } => match error_type {
            "error-room-not-found" | "error-invalid-user" | "error-message-not-found" => {
                wit::Error::NotFound
            }
            _ => wit::Error::Invalid(format!("{message} [{error_type}]")),
        },
        ChatError::InvalidParams(m) => wit::Error::Invalid(m),
        ChatError::Failure {
            error_type,
            message,
        } => wit::Error::Invalid(format!("{message} [{error_type}]")),
        e @ ChatError::PasswordPolicy(_) => wit::Error::Invalid(e.to_string()),
        ChatError::Forbidden(m) => wit::Error::Invalid(format!("not allowed: {m}")),
        ChatError::Unauthorized(m) => wit::Error::Invalid(format!("not allowed: {m}")),
        ChatError::RateLimited { .. } => wit::Error::LimitExceeded("rate".into()),
        ChatError::Busy { .. } => wit::Error::LimitExceeded("busy".into()),
        ChatError::Store(e) => wit::Error::Internal(e.to_string()),
        ChatError::Files(e) => wit::Error::Internal(e.to_string()),
    }
}
