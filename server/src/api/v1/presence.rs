//! `users.presence`, `users.getPresence`, `users.setStatus`, `users.getStatus`,
//! `users.listByStatus`: presence over REST, in Rocket.Chat's shapes.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::ok;
use crate::chat::permissions::Perm;
use crate::chat::presence::{AWAY, BUSY, OFFLINE, ONLINE};
use crate::chat::ChatError;
use crate::store::presence::StatusQuery;
use crate::store::{Page, Ts, User};
use crate::wire::{self, DateStyle};

/// Most users one `users.presence` answer lists.
const MAX_PRESENCE_USERS: u64 = 10_000;
/// `from` older than this lists everyone present (`full: true`), as Rocket.Chat.
const PRESENCE_DELTA_MS: i64 = 10 * 60 * 1000;

fn status_of(user: &User) -> &str {
    user.status.as_deref().unwrap_or(OFFLINE)
}

/// Whether the parameters name the caller (or nobody).
fn names_self(user: &User, user_id: Option<&str>, username: Option<&str>) -> bool {
    match (user_id, username) {
        (None, None) => true,
        (Some(id), _) => id == user.id,
        (None, Some(name)) => name
            .trim_start_matches('@')
            .eq_ignore_ascii_case(&user.username),
    }
}

/// Rocket.Chat's projection (`username`, `name`, `status`, `utcOffset`,
/// `statusText`, `avatarETag`): the last two only when the user has them.
fn presence_json(u: &User) -> Value {
    let mut v = json!({
        "_id": u.id,
        "username": u.username,
        "name": u.name,
        "status": status_of(u),
        "utcOffset": 0,
    });
    if let Some(text) = u.status_text.as_deref().filter(|t| !t.is_empty()) {
        v["statusText"] = json!(text);
    }
    if let Some(etag) = &u.avatar_etag {
        v["avatarETag"] = json!(etag);
    }
    v
}

/// `GET users.presence[?from=<date>][&ids=a,b]`.
pub async fn presence(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let present = vec![ONLINE.to_string(), AWAY.to_string(), BUSY.to_string()];
    let mut full = false;
    let query = if let Some(ids) = params.get("ids") {
        StatusQuery {
            statuses: present,
            ids: Some(
                ids.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
            ..Default::default()
        }
    } else {
        match params.date("from")? {
            Some(from) if Ts::now().0 - from.0 < PRESENCE_DELTA_MS => StatusQuery {
                updated_since: Some(from),
                ..Default::default()
            },
            _ => {
                full = true;
                StatusQuery {
                    statuses: present,
                    ..Default::default()
                }
            }
        }
    };
    let listing = state
        .chat
        .users_by_status(&query, Page::new(0, MAX_PRESENCE_USERS))
        .await?;
    let users: Vec<Value> = listing
        .items
        .iter()
        .filter(|u| full || query.ids.is_some() || u.id != session.user.id)
        .map(presence_json)
        .collect();
    ok(json!({"users": users, "full": full}))
}

/// `GET users.getPresence[?userId|username]`.
pub async fn get_presence(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let (id, name) = (params.get("userId"), params.get("username"));
    if names_self(&session.user, id, name) {
        let me = state.chat.find_user(Some(&session.user.id), None).await?;
        let mut body = json!({
            "presence": status_of(&me),
            "connectionStatus": me.status_connection.as_deref().unwrap_or(OFFLINE),
        });
        if let Some(last) = me.last_login {
            body["lastLogin"] = json!(wire::iso(last.0));
        }
        return ok(body);
    }
    let user = state.chat.find_user(id, name).await?;
    ok(json!({"presence": status_of(&user)}))
}

/// `GET users.getStatus[?userId|username]`.
pub async fn get_status(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let (id, name) = (params.get("userId"), params.get("username"));
    if names_self(&session.user, id, name) {
        let me = state.chat.find_user(Some(&session.user.id), None).await?;
        return ok(json!({
            "_id": me.id,
            "connectionStatus": me.status_connection.as_deref().unwrap_or(OFFLINE),
            "status": status_of(&me),
        }));
    }
    let user = state.chat.find_user(id, name).await?;
    ok(json!({"_id": user.id, "status": status_of(&user)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetStatusBody {
    status: Option<Value>,
    message: Option<Value>,
    user_id: Option<String>,
    username: Option<String>,
}

/// `POST users.setStatus {status?, message?, userId?|username?}`: at least one of
/// `status` and `message` is a string.
pub async fn set_status(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<SetStatusBody>,
) -> ApiResult {
    let text = |v: &Option<Value>| -> Result<Option<String>, ChatError> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ChatError::invalid(
                "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation",
            )),
        }
    };
    let (status, message) = (text(&body.status)?, text(&body.message)?);
    if status.is_none() && message.is_none() {
        return Err(ChatError::invalid(
            "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation",
        )
        .into());
    }
    let target = if names_self(
        &session.user,
        body.user_id.as_deref(),
        body.username.as_deref(),
    ) {
        None
    } else {
        Some(
            state
                .chat
                .find_user(body.user_id.as_deref(), body.username.as_deref())
                .await?,
        )
    };
    state
        .chat
        .set_user_status(
            &session.user,
            target.as_ref(),
            status.as_deref().filter(|s| !s.is_empty()),
            message.as_deref(),
        )
        .await?;
    ok(json!({}))
}

/// `GET users.listByStatus[?status=active|deactivated][&hasLoggedIn][&type][&searchTerm][&roles[]]`:
/// the admin's user list (`view-d-room`, as Rocket.Chat).
pub async fn list_by_status(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    state
        .chat
        .require_permission(&session.user, Perm::VIEW_D_ROOM, None)
        .await?;
    let page = params.page()?;
    let active = match params.get("status") {
        Some("active") => Some(true),
        Some("deactivated") => Some(false),
        None => None,
        // Rocket.Chat's request validation error, with its `[invalid-params]` suffix.
        Some(_) => {
            return Err(ChatError::refused(
                "invalid-params",
                "must be equal to one of the allowed values",
            )
            .into())
        }
    };
    let query = StatusQuery {
        active,
        has_logged_in: params.bool("hasLoggedIn")?,
        kind: params.get("type").map(str::to_string),
        search: params.get("searchTerm").map(str::to_string),
        // `roles[]=admin` as Rocket.Chat's clients send it (or `roles=a,b`).
        roles: params
            .get("roles[]")
            .or(params.get("roles"))
            .map(|r| {
                r.split(',')
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        ..Default::default()
    };
    let listing = state.chat.users_by_status(&query, page).await?;
    let users: Vec<Value> = listing
        .items
        .iter()
        .map(|u| wire::user_full(u, DateStyle::Iso))
        .collect();
    ok(json!({
        "users": users,
        "count": users.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}
