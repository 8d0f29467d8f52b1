//! Presence over DDP, as Rocket.Chat: the methods `UserPresence:online|away|
//! setDefaultStatus` and `setUserStatus`, the `stream-user-presence` subscription
//! (one per connection; later `sub`s only change which users it follows) and the
//! fan-out of status changes to it and to `stream-notify-logged` `user-status`.

use serde_json::{json, Value};

use super::methods::{arg, Caller, Outcome};
use super::protocol::{self, DdpError, NOTIFY_LOGGED, USER_PRESENCE};
use super::registry::{Registry, Sub, SubKind};
use super::session::Ctx;
use crate::chat::presence::{self, status_number};

/// The presence methods; `None` when `method` is not one of them.
pub async fn call(ctx: &Caller<'_>, method: &str, params: &[Value]) -> Option<Outcome> {
    Some(match method {
        "UserPresence:online" => connection_status(ctx, presence::ONLINE).await,
        "UserPresence:away" => connection_status(ctx, presence::AWAY).await,
        "UserPresence:setDefaultStatus" => set_default_status(ctx, params).await,
        "setUserStatus" => set_user_status(ctx, params).await,
        _ => return None,
    })
}

/// Rocket.Chat answers `undefined` when nobody is logged in. Over REST there is no
/// connection whose status could change, so the answer is the same.
async fn connection_status(ctx: &Caller<'_>, status: &str) -> Outcome {
    let Some(socket) = ctx.connection() else {
        return Ok(None);
    };
    let Some(login) = socket.login() else {
        return Ok(None);
    };
    let changed = socket
        .chat
        .set_connection_status(&login.user, &socket.conn.session, status)
        .await?;
    Ok(Some(json!(changed)))
}

async fn set_default_status(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let Ok(user) = ctx.user() else {
        return Ok(None);
    };
    let status = arg(params, 0).as_str().ok_or_else(DdpError::match_failed)?;
    let changed = ctx.chat.set_default_status(&user.id, status).await?;
    Ok(Some(json!(changed)))
}

/// `[statusType?, statusText?]`.
async fn set_user_status(ctx: &Caller<'_>, params: &[Value]) -> Outcome {
    let Ok(user) = ctx.user() else {
        return Err(DdpError::new("error-invalid-user", "Invalid user"));
    };
    let opt = |i| match arg(params, i) {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.as_str())),
        _ => Err(DdpError::match_failed()),
    };
    let (status, text) = (opt(0)?, opt(1)?);
    if let Some(status) = status.filter(|s| !s.is_empty()) {
        ctx.chat.set_default_status(&user.id, status).await?;
    }
    if let Some(text) = text {
        ctx.chat.set_status_text(&user.id, text).await?;
    }
    Ok(None)
}

/// `sub stream-user-presence ["", {added: [uid…], removed: [uid…]}]`. The first
/// one of a connection becomes its presence stream (`ready`); later ones only
/// change the users it follows and end at once (`nosub`), as in Rocket.Chat.
pub fn subscribe(ctx: &Ctx, sub_id: &str, params: &[Value]) {
    let key = Value::String(sub_id.to_string());
    if ctx.login().is_none() {
        let error = DdpError::not_allowed("You must be logged in to subscribe");
        ctx.conn.push(protocol::nosub(&key, Some(&error)));
        return;
    }
    let ids = |field: &str| -> Vec<String> {
        arg(params, 1)
            .get(field)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (added, removed) = (ids("added"), ids("removed"));
    let event_name = arg(params, 0).as_str().unwrap_or_default().to_string();
    let id = ctx.conn.id;
    let main = ctx.hub.with_registry(|r| {
        let Some(entry) = r.conns.get_mut(&id) else {
            return false;
        };
        for uid in removed {
            entry.watched.remove(&uid);
        }
        entry.watched.extend(added);
        let has_main = entry.subs.values().any(|s| s.kind == SubKind::Presence);
        if has_main {
            return false;
        }
        let sub = Sub {
            kind: SubKind::Presence,
            collection: USER_PRESENCE.to_string(),
            event_name,
            use_collection: false,
            active: false,
            revoked: None,
        };
        r.add_pending_sub(id, sub_id, sub) && {
            r.activate_sub(id, sub_id);
            true
        }
    });
    if !main {
        ctx.conn.push(protocol::nosub(&key, None));
    }
}

impl Registry {
    /// A user's status changed: to the connections following them on
    /// `stream-user-presence` (`[username, statusNumber, statusText]`), and to every
    /// `user-status` subscriber (`[[uid, username, statusNumber, statusText, name, roles]]`).
    pub fn on_user_status(
        &self,
        user_id: &str,
        username: &str,
        name: &str,
        roles: &[String],
        status: &str,
        status_text: &str,
    ) {
        let n = status_number(status);
        let uid = Value::String(user_id.to_string());
        let presence_frame = protocol::frame(json!({
            "msg": "changed",
            "collection": USER_PRESENCE,
            "id": "id",
            "fields": {"uid": uid, "args": [username, n, status_text], "eventName": uid},
        }));
        let logged_args = json!([[user_id, username, n, status_text, name, roles]]).to_string();
        let mut logged_frame = None;
        for entry in self.conns.values() {
            if entry.login.is_none() {
                continue;
            }
            for sub in entry.subs.values().filter(|s| s.active) {
                match sub.kind {
                    SubKind::Presence if entry.watched.contains(user_id) => {
                        entry.conn.push(presence_frame.clone());
                    }
                    SubKind::UserStatus => {
                        let frame = logged_frame.get_or_insert_with(|| {
                            protocol::changed(NOTIFY_LOGGED, &sub.event_name, &logged_args)
                        });
                        entry.conn.push(frame.clone());
                    }
                    _ => {}
                }
            }
        }
    }
}
