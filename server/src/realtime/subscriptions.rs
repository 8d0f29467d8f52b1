//! `sub`: Rocket.Chat's streams. Each subscription is checked once when it starts
//! (may this user read this room / is this their own user stream?) and then kept
//! true by the registry, which ends it the moment access goes away.

use serde_json::Value;

use super::protocol::{self, DdpError, NOTIFY_ROOM, NOTIFY_USER, ROOM_MESSAGES};
use super::registry::{RoomTopic, Sub, SubKind, UserTopic};
use super::session::Ctx;
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;
use crate::store::{StoreError, User};

/// Streams accepted for compatibility that Palaver never publishes on; clients
/// subscribe to them on start and would log errors if refused.
const SILENT_LOGGED_IN: [&str; 1] = ["stream-notify-logged"];
const SILENT_ANONYMOUS: [&str; 2] = ["stream-notify-all", "meteor.loginServiceConfiguration"];

/// The role, permission and avatar events, for every logged-in user.
fn logged_stream(name: &str, event: &str) -> bool {
    matches!(
        (name, event),
        ("stream-roles", "roles")
            | (
                "stream-notify-logged",
                "permissions-changed" | "roles-change" | "updateAvatar"
            )
    )
}

struct Spec {
    kind: SubKind,
    event_name: String,
    use_collection: bool,
}

/// `[eventName, false | true | {useCollection, args}]`.
fn stream_params(params: &[Value]) -> Result<(String, bool), DdpError> {
    let event = match params.first() {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(DdpError::match_failed()),
    };
    if event.is_empty() {
        return Err(DdpError::bare("invalid-event-name"));
    }
    let use_collection = match params.get(1) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Object(o)) => match o.get("useCollection") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(DdpError::match_failed()),
        },
        Some(_) => return Err(DdpError::match_failed()),
    };
    Ok((event, use_collection))
}

fn parse(name: &str, params: &[Value], user: &User) -> Result<Spec, DdpError> {
    let (event_name, use_collection) = stream_params(params)?;
    let kind = match name {
        ROOM_MESSAGES if event_name == "__my_messages__" => SubKind::MyMessages,
        ROOM_MESSAGES => SubKind::RoomMessages {
            rid: event_name.clone(),
        },
        NOTIFY_USER => {
            let (uid, topic) = event_name.split_once('/').unwrap_or((&event_name, ""));
            if uid != user.id {
                return Err(DdpError::not_allowed(
                    "A user's stream is only for that user",
                ));
            }
            let topic = match topic {
                "rooms-changed" => UserTopic::RoomsChanged,
                "subscriptions-changed" => UserTopic::SubscriptionsChanged,
                "message" => UserTopic::Message,
                "notification" => UserTopic::Notification,
                _ => UserTopic::Other,
            };
            SubKind::User { topic }
        }
        NOTIFY_ROOM => {
            let Some((rid, topic)) = event_name.split_once('/') else {
                return Err(DdpError::not_allowed("Expected \"<roomId>/<event>\""));
            };
            let topic = match topic {
                "deleteMessage" => RoomTopic::DeleteMessage,
                "user-activity" => RoomTopic::UserActivity,
                "typing" => RoomTopic::Typing,
                _ => RoomTopic::Other,
            };
            SubKind::Room {
                rid: rid.to_string(),
                topic,
            }
        }
        super::protocol::NOTIFY_LOGGED if event_name == "user-status" => SubKind::UserStatus,
        _ => SubKind::Silent,
    };
    Ok(Spec {
        kind,
        event_name,
        use_collection,
    })
}

/// The settings stream a `sub` asks for: `Some(private)`.
fn settings_stream(name: &str, params: &[Value]) -> Option<bool> {
    match (name, params.first().and_then(Value::as_str)) {
        ("stream-notify-all", Some("public-settings-changed")) => Some(false),
        ("stream-notify-logged", Some("private-settings-changed")) => Some(true),
        _ => None,
    }
}

/// Setting changes: public ones for anyone, every one for those who may read
/// privileged settings.
async fn subscribe_settings(ctx: &Ctx, sub_id: &str, name: &str, params: &[Value], private: bool) {
    let key = Value::String(sub_id.to_string());
    let (event_name, use_collection) = match stream_params(params) {
        Ok(p) => p,
        Err(error) => {
            ctx.conn.push(protocol::nosub(&key, Some(&error)));
            return;
        }
    };
    let sub = Sub {
        kind: SubKind::Settings { private },
        collection: name.to_string(),
        event_name,
        use_collection,
        active: false,
        revoked: None,
    };
    let id = ctx.conn.id;
    if !ctx
        .hub
        .with_registry(|r| r.add_pending_sub(id, sub_id, sub))
    {
        return;
    }
    let allowed = match (private, ctx.login()) {
        (false, _) => Ok(()),
        (true, None) => Err(DdpError::not_allowed("You must be logged in to subscribe")),
        (true, Some(login)) => match ctx.chat.receives_private_settings(&login.user).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(DdpError::not_allowed("Not allowed")),
            Err(e) => Err(DdpError::from(e)),
        },
    };
    match allowed {
        Ok(()) => ctx.hub.with_registry(|r| r.activate_sub(id, sub_id)),
        Err(error) => ctx.hub.with_registry(|r| r.refuse_sub(id, sub_id, error)),
    }
}

/// Runs one `sub` to `ready` or `nosub`.
pub async fn subscribe(ctx: &Ctx, sub_id: &str, name: &str, params: &[Value]) {
    super::trace::trace(
        &ctx.chat,
        super::trace::Traced::Subscription,
        name,
        &ctx.trace,
        || ctx.login().map(|l| l.user.id),
    );
    if name == super::protocol::USER_PRESENCE {
        return super::presence::subscribe(ctx, sub_id, params);
    }
    if let Some(private) = settings_stream(name, params) {
        return subscribe_settings(ctx, sub_id, name, params, private).await;
    }
    let key = Value::String(sub_id.to_string());
    let known = [ROOM_MESSAGES, NOTIFY_USER, NOTIFY_ROOM, "stream-roles"].contains(&name)
        || SILENT_LOGGED_IN.contains(&name)
        || SILENT_ANONYMOUS.contains(&name);
    if !known {
        let error = DdpError::new(404, format!("Subscription '{name}' not found"));
        ctx.conn.push(protocol::nosub(&key, Some(&error)));
        return;
    }
    let user = match ctx.login() {
        Some(login) => login.user,
        None if SILENT_ANONYMOUS.contains(&name) => {
            ctx.conn.push(protocol::ready(sub_id));
            return;
        }
        None => {
            let error = DdpError::not_allowed("You must be logged in to subscribe");
            ctx.conn.push(protocol::nosub(&key, Some(&error)));
            return;
        }
    };
    let event = params.first().and_then(Value::as_str).unwrap_or_default();
    let user_status = name == super::protocol::NOTIFY_LOGGED && event == "user-status";
    let spec = if logged_stream(name, event) {
        stream_params(params).map(|(event_name, use_collection)| Spec {
            kind: SubKind::Logged,
            event_name,
            use_collection,
        })
    } else if !user_status
        && (SILENT_ANONYMOUS.contains(&name)
            || SILENT_LOGGED_IN.contains(&name)
            || name == "stream-roles")
    {
        Ok(Spec {
            kind: SubKind::Silent,
            event_name: event.to_string(),
            use_collection: false,
        })
    } else {
        parse(name, params, &user)
    };
    let spec = match spec {
        Ok(spec) => spec,
        Err(error) => {
            ctx.conn.push(protocol::nosub(&key, Some(&error)));
            return;
        }
    };
    let room = spec.kind.room().map(str::to_string);
    let sub = Sub {
        kind: spec.kind,
        collection: name.to_string(),
        event_name: spec.event_name,
        use_collection: spec.use_collection,
        active: false,
        revoked: None,
    };
    let id = ctx.conn.id;
    if !ctx
        .hub
        .with_registry(|r| r.add_pending_sub(id, sub_id, sub))
    {
        return; // Meteor ignores a second `sub` with an id already in use.
    }
    // Registered before the check, so a leave or kick that lands meanwhile revokes it.
    let allowed = match &room {
        Some(rid) => ctx
            .chat
            .readable_room(&user, RoomRef::Id(rid))
            .await
            .map(|_| ())
            .map_err(|e| match e {
                e @ ChatError::Store(StoreError::Backend(_)) => DdpError::from(e),
                other => DdpError::not_allowed(other.to_string()),
            }),
        None => Ok(()),
    };
    match allowed {
        Ok(()) => {
            tracing::debug!(user_id = %user.id, sub = %name, room_id = room.as_deref().unwrap_or("-"), "realtime subscription");
            ctx.hub.with_registry(|r| r.activate_sub(id, sub_id));
        }
        Err(error) => {
            tracing::debug!(user_id = %user.id, sub = %name, room_id = room.as_deref().unwrap_or("-"), "realtime subscription refused");
            ctx.hub.with_registry(|r| r.refuse_sub(id, sub_id, error));
        }
    }
}
