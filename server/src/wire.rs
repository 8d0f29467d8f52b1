//! Rendering of stored records as Rocket.Chat's wire JSON, shared by the REST and
//! realtime edges. Records carry dates as epoch milliseconds; REST shows them as
//! ISO-8601 strings, DDP as EJSON `{"$date": ms}`.

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::store::{Room, Subscription, User};

/// Keys whose integer values are dates in our records.
const DATE_KEYS: &[&str] = &[
    "ts",
    "_updatedAt",
    "editedAt",
    "lm",
    "ls",
    "createdAt",
    "tlm",
    "dlm",
    "lastLogin",
    "_deletedAt",
    "pinnedAt",
    "expires",
];

/// Keys holding client-supplied JSON that must be passed through untouched.
const OPAQUE_KEYS: &[&str] = &["attachments", "customFields"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateStyle {
    /// `"2024-05-01T12:00:00.000Z"` (REST).
    Iso,
    /// `{"$date": 1714564800000}` (DDP).
    Ejson,
}

pub fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn convert(value: &mut Value, style: DateStyle) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if DATE_KEYS.contains(&key.as_str()) {
                    if let Some(ms) = v.as_i64() {
                        *v = match style {
                            DateStyle::Iso => Value::String(iso(ms)),
                            DateStyle::Ejson => json!({ "$date": ms }),
                        };
                        continue;
                    }
                }
                if !OPAQUE_KEYS.contains(&key.as_str()) {
                    convert(v, style);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| convert(v, style)),
        _ => {}
    }
}

/// Stored fields no client may see (a room's join code, the invite link a user
/// came by), left out at the top level: Rocket.Chat's API excludes them even when
/// `fields` asks for them.
const SECRET_KEYS: &[&str] = &["joinCode", "inviteToken"];

/// A record as wire JSON with its dates in `style`.
pub fn render<T: Serialize>(record: &T, style: DateStyle) -> Value {
    let mut value = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        for key in SECRET_KEYS {
            map.remove(*key);
        }
    }
    convert(&mut value, style);
    value
}

/// A user as anyone may see them.
pub fn user_public(user: &User, style: DateStyle) -> Value {
    let mut v = json!({
        "_id": user.id,
        "username": user.username,
        "name": user.name,
        "type": user.kind,
        "active": user.active,
        "roles": user.roles,
        "status": user.status.as_deref().unwrap_or("offline"),
        "utcOffset": 0,
    });
    if let Some(text) = user.status_text.as_deref().filter(|t| !t.is_empty()) {
        v["statusText"] = json!(text);
    }
    if let Some(etag) = &user.avatar_etag {
        v["avatarETag"] = json!(etag);
    }
    convert(&mut v, style);
    v
}

/// A user with private fields (e-mails, dates), for admins and the user themself.
pub fn user_full(user: &User, style: DateStyle) -> Value {
    let mut v = render(user, style);
    if let Value::Object(map) = &mut v {
        map.insert(
            "status".into(),
            json!(user.status.as_deref().unwrap_or("offline")),
        );
        map.insert("utcOffset".into(), json!(0));
    }
    v
}

/// A room; DMs also get `rid` as some clients expect.
pub fn room(room: &Room, style: DateStyle) -> Value {
    render(room, style)
}

/// A member holding room roles, as `channels.roles` and `getRoomRoles` list them.
pub fn room_role_member(sub: &Subscription) -> Value {
    json!({
        "_id": sub.id,
        "rid": sub.rid,
        "u": {"_id": sub.u.id, "username": sub.u.username, "name": sub.u.name},
        "roles": sub.roles,
    })
}

/// Adds `"success": true` to an object.
pub fn success(mut body: Value) -> Value {
    match &mut body {
        Value::Object(map) => {
            map.insert("success".into(), Value::Bool(true));
            body
        }
        _ => {
            let mut map = Map::new();
            map.insert("success".into(), Value::Bool(true));
            Value::Object(map)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_dates_but_not_opaque_json() {
        let v = json!({
            "ts": 1500, "u": {"_id": "x"}, "msg": "hi",
            "lastMessage": {"ts": 0, "attachments": [{"ts": 5}]},
            "customFields": {"ts": 7}
        });
        let mut iso_v = v.clone();
        convert(&mut iso_v, DateStyle::Iso);
        assert_eq!(iso_v["ts"], "1970-01-01T00:00:01.500Z");
        assert_eq!(iso_v["lastMessage"]["ts"], "1970-01-01T00:00:00.000Z");
        assert_eq!(iso_v["lastMessage"]["attachments"][0]["ts"], 5);
        assert_eq!(iso_v["customFields"]["ts"], 7);
        let mut ej = v;
        convert(&mut ej, DateStyle::Ejson);
        assert_eq!(ej["ts"], json!({"$date": 1500}));
    }
}
