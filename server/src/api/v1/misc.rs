//! `rooms.get`, `rooms.info`, `subscriptions.*`.

use axum::extract::State;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::teams::team_json;
use super::{ok, params_room_ref, rest};
use crate::chat::rooms::RoomRef;
use crate::chat::teams::Team;
use crate::chat::ChatError;
use crate::wire;

pub async fn rooms_get(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let since = params.date("updatedSince")?;
    let (rooms, removed) = state.chat.rooms_since(&session.user, since).await?;
    let update: Vec<Value> = rooms.iter().map(rest).collect();
    let remove: Vec<Value> = removed
        .iter()
        .map(|r| json!({"_id": r.id, "_deletedAt": wire::iso(r.deleted_at.0)}))
        .collect();
    ok(json!({"update": update, "remove": remove}))
}

pub async fn rooms_info(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let (room, _) = state
        .chat
        .readable_room(&session.user, params_room_ref(&params)?)
        .await?;
    // The room's team, and its parent: a discussion's parent room, else for a
    // team's room (not the main one) the team's main room (Rocket.Chat's
    // projections of them).
    let brief = |p: &crate::store::Room| json!({ "_id": p.id, "name": p.name, "fname": p.fname, "t": p.t, "u": p.u });
    let team_main = state.chat.team_main_of(&room).await?;
    let team = team_main.as_ref().and_then(Team::of).map(|t| team_json(&t));
    let parent = match &room.extra.prid {
        Some(prid) => state
            .chat
            .room(RoomRef::Id(prid))
            .await
            .ok()
            .map(|p| brief(&p)),
        None => team_main.as_ref().filter(|m| m.id != room.id).map(brief),
    };
    let mut room = rest(&room);
    // Rocket.Chat's `fields={"name": 1}`: only those fields (and `_id`).
    if let Some(raw) = params.get("fields") {
        let fields: serde_json::Map<String, Value> = serde_json::from_str(raw)
            .map_err(|_| ChatError::invalid(format!("Invalid fields parameter {raw:?}")))?;
        let wanted: Vec<&String> = fields
            .iter()
            .filter(|(_, v)| v.as_i64() == Some(1) || v.as_bool() == Some(true))
            .map(|(k, _)| k)
            .collect();
        if !wanted.is_empty() {
            if let Some(obj) = room.as_object_mut() {
                obj.retain(|k, _| k == "_id" || wanted.contains(&k));
            }
        }
    }
    let mut body = json!({ "room": room });
    if let Some(parent) = parent {
        body["parent"] = parent;
    }
    if let Some(team) = team {
        body["team"] = team;
    }
    ok(body)
}

pub async fn subscriptions_get(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let since = params.date("updatedSince")?;
    let (subs, removed) = state.chat.subscriptions_since(&session.user, since).await?;
    let update: Vec<Value> = subs.iter().map(rest).collect();
    let remove: Vec<Value> = removed.iter().map(rest).collect();
    ok(json!({"update": update, "remove": remove}))
}

pub async fn subscriptions_get_one(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(rid) = params.get("roomId") else {
        // Rocket.Chat's schema validation error.
        return Err(
            ChatError::refused("invalid-params", "must have required property 'roomId'").into(),
        );
    };
    // Rocket.Chat answers `null` for a room the caller is not in (or that is not).
    let sub = state.chat.subscription_of(rid, &session.user.id).await?;
    ok(json!({"subscription": sub.as_ref().map(rest)}))
}

/// `subscriptions.read` `{rid}` or `{roomId}` (not both), `readThreads?`: marks the
/// room read, and with `readThreads` its threads too.
/// A room the caller has no subscription to answers Rocket.Chat's bare
/// `error-invalid-subscription`.
pub async fn subscriptions_read(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<serde_json::Map<String, Value>>,
) -> ApiResult {
    use axum::response::IntoResponse;
    let invalid =
        |m: &str| -> ApiResult { Err(ChatError::refused("invalid-params", m.to_string()).into()) };
    let rid = match (body.get("rid"), body.get("roomId")) {
        (Some(_), Some(_)) => return invalid("must match exactly one schema in oneOf"),
        (Some(v), None) | (None, Some(v)) => match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        },
        (None, None) => return invalid("must have required property 'rid'"),
    };
    let read_threads = match body.get("readThreads") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return invalid("must be boolean"),
    };
    match state
        .chat
        .mark_read(&session.user, &rid, read_threads)
        .await
    {
        Ok(()) => ok(json!({})),
        Err(ChatError::Refused {
            error_type: "error-room-not-found" | "error-user-not-in-room",
            ..
        }) => Ok((
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({
                "success": false,
                "error": "error-invalid-subscription",
                "errorType": "error-invalid-subscription",
            })),
        )
            .into_response()),
        Err(e) => Err(e.into()),
    }
}

/// `GET stdout.queue` (`view-logs`, else Rocket.Chat's bare 403): the last lines
/// of this instance's log, oldest first (`Log_View_Limit` of them).
pub async fn stdout_queue(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    state
        .chat
        .permission_or_unauthorized(&session.user, crate::chat::permissions::Perm::VIEW_LOGS)
        .await?;
    let queue: Vec<Value> = state
        .server_log
        .lines()
        .into_iter()
        .map(|l| json!({"id": l.id, "string": l.string, "ts": crate::wire::iso(l.ts.0)}))
        .collect();
    ok(json!({ "queue": queue }))
}

/// `GET instances.get` (`view-statistics`, else Rocket.Chat's bare 403): the
/// instance answering, in Rocket.Chat's shape. Palaver keeps no registry of the
/// instances sharing a database, so only this one is listed.
pub async fn instances_get(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    state
        .chat
        .permission_or_unauthorized(
            &session.user,
            crate::chat::permissions::Perm::VIEW_STATISTICS,
        )
        .await?;
    let site = state.chat.settings().string("Site_Url");
    let url = url::Url::parse(&site).ok();
    let host = url
        .as_ref()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    let port = url.as_ref().and_then(url::Url::port_or_known_default);
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let now = crate::store::Ts::now();
    ok(json!({
        "instances": [{
            "address": host,
            "currentStatus": {
                "connected": true,
                "lastHeartbeatTime": now.0,
                "local": true,
            },
            "instanceRecord": {
                "_id": state.chat.instance_id(),
                "name": "rocket.chat",
                "pid": std::process::id(),
                "_updatedAt": wire::iso(now.0),
                "extraInformation": {
                    "host": host,
                    "port": port,
                    "os": {
                        "type": std::env::consts::OS,
                        "arch": std::env::consts::ARCH,
                        "cpus": cpus,
                    },
                    // Rocket.Chat's runtime field; Palaver runs no Node.js.
                    "nodeVersion": null,
                    "palaverVersion": env!("CARGO_PKG_VERSION"),
                },
            },
            "broadcastAuth": true,
        }],
    }))
}
