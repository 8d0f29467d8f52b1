//! What a push says, built as Rocket.Chat builds it (`PushNotification`,
//! `getPushData`), so its mobile apps show and route it as they expect.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::chat::settings::Settings;
use crate::notify::Notice;
use crate::store::RoomType;

/// The text of a push when the content is hidden (the app fetches it with `push.get`).
pub const ID_ONLY_TEXT: &str = "You have a new message";

/// A notification as every sender needs it (Rocket.Chat's `IPushNotificationConfig`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PushContent {
    pub title: String,
    pub text: String,
    /// The app icon's count: the recipient's unread messages (set when queued).
    pub badge: u32,
    pub sound: String,
    /// Groups the room's notifications on the device.
    #[serde(rename = "notId")]
    pub not_id: i32,
    pub payload: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Android's large icon.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(rename = "userId")]
    pub user_id: String,
    /// The room, for browsers (the click opens it).
    pub rid: String,
}

/// Rocket.Chat's `hash` of `uniqueID|rid` (`h*31 + c` over UTF-16, from the last unit).
pub fn not_id(unique_id: &str, rid: &str) -> i32 {
    let s: Vec<u16> = format!("{unique_id}|{rid}").encode_utf16().collect();
    let mut hash: i32 = 0;
    for c in s.iter().rev() {
        hash = (hash << 5).wrapping_sub(hash).wrapping_add(i32::from(*c));
    }
    hash
}

fn room_type(t: RoomType) -> Value {
    serde_json::to_value(t).unwrap_or(Value::Null)
}

/// The push for `notice`, under the workspace's current privacy settings.
pub fn build(notice: &Notice, settings: &Settings) -> PushContent {
    let site = settings.string("Site_Url");
    let host = if site.ends_with('/') {
        site.clone()
    } else {
        format!("{site}/")
    };
    let id_only = settings.bool("Push_request_content_from_server");
    let not_id = not_id(&settings.string("uniqueID"), &notice.rid);
    let image = Some(format!("{host}images/logo/android-chrome-192x192.png"));
    if id_only {
        return PushContent {
            title: String::new(),
            text: ID_ONLY_TEXT.into(),
            badge: 1,
            sound: "default".into(),
            not_id,
            payload: json!({
                "host": host,
                "messageId": notice.message_id,
                "notificationType": "message-id-only",
            }),
            category: None,
            image,
            user_id: notice.user_id.clone(),
            rid: notice.rid.clone(),
        };
    }
    full(notice, settings, host, not_id, image)
}

/// The full push (also what `push.get` answers).
pub fn full(
    notice: &Notice,
    settings: &Settings,
    host: String,
    not_id: i32,
    image: Option<String>,
) -> PushContent {
    let show_names = settings.bool("Push_show_username_room");
    let group = !matches!(notice.room_type, RoomType::Direct);
    let room_name = if show_names && group {
        format!("#{}", notice.room_name)
    } else {
        String::new()
    };
    let username = if show_names {
        if settings.bool("UI_Use_Real_Name") && !notice.sender_name.is_empty() {
            notice.sender_name.clone()
        } else {
            notice.sender_username.clone()
        }
    } else {
        String::new()
    };
    let message = if settings.bool("Push_show_message") {
        notice.text.clone()
    } else {
        " ".into()
    };
    let title = if room_name.is_empty() {
        username.clone()
    } else {
        room_name.clone()
    };
    let text = if room_name.is_empty() {
        message
    } else {
        format!("{username}: {message}")
    };
    let mut payload = json!({
        "host": host,
        "messageId": notice.message_id,
        "notificationType": "message",
        "rid": notice.rid,
        "sender": {
            "_id": notice.sender_id,
            "username": notice.sender_username,
            "name": notice.sender_name,
        },
        "senderName": username,
        "type": room_type(notice.room_type),
        "name": if group { Value::from(notice.room_name.clone()) } else { Value::Null },
        "messageType": "",
    });
    if let Some(tmid) = &notice.tmid {
        payload["tmid"] = json!(tmid);
    }
    PushContent {
        title,
        text,
        badge: 1,
        sound: "default".into(),
        not_id,
        payload,
        category: Some("MESSAGE".into()),
        image,
        user_id: notice.user_id.clone(),
        rid: notice.rid.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_id_is_rocket_chats_hash() {
        // Rocket.Chat's loop reads from the end: "a|b" hashes as Java's "b|a".hashCode().
        assert_eq!(not_id("a", "b"), 98_119);
        assert_eq!(not_id("", ""), i32::from(b'|'));
    }
}
