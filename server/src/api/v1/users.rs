//! `users.*`: accounts. Only admins create and change accounts and see private fields.

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{ok, required};
use crate::chat::accounts::{NewUser, UserPatch};
use crate::chat::ChatError;
use crate::store::{Direction, Sort, SortKey, User};
use crate::wire::{self, DateStyle};

fn user_view(viewer: &User, user: &User) -> serde_json::Value {
    if viewer.is_admin() || viewer.id == user.id {
        wire::user_full(user, DateStyle::Iso)
    } else {
        wire::user_public(user, DateStyle::Iso)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateBody {
    username: Option<String>,
    email: Option<String>,
    password: Option<String>,
    name: Option<String>,
    roles: Option<Vec<String>>,
    active: Option<bool>,
    #[serde(default)]
    verified: bool,
    #[serde(default)]
    require_password_change: bool,
    custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// Rocket.Chat's default is to join them.
    join_default_channels: Option<bool>,
}

pub async fn create(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult {
    let new = NewUser {
        id: None,
        username: required(&body.username, "username")?.to_string(),
        email: required(&body.email, "email")?.to_string(),
        password: required(&body.password, "password")?.to_string(),
        name: required(&body.name, "name")?.to_string(),
        bot: body
            .roles
            .as_ref()
            .is_some_and(|r| r.iter().any(|r| r == "bot")),
        roles: body.roles,
        active: body.active,
        verified: body.verified,
        require_password_change: body.require_password_change,
        custom_fields: body.custom_fields,
        skip_default_channels: body.join_default_channels == Some(false),
    };
    let user = state.chat.create_user(&session.user, new).await?;
    ok(json!({"user": wire::user_full(&user, DateStyle::Iso)}))
}

pub async fn info(State(state): State<AppState>, Auth(session): Auth, params: Params) -> ApiResult {
    let with_rooms = params
        .get("fields")
        .and_then(|f| serde_json::from_str::<serde_json::Value>(f).ok())
        .is_some_and(|f| f["userRooms"] == json!(1));
    let info = state
        .chat
        .user_info(
            &session.user,
            params.get("userId").filter(|s| !s.is_empty()),
            params.get("username").filter(|s| !s.is_empty()),
            with_rooms,
        )
        .await?;
    let mut user = if info.full {
        wire::user_full(&info.user, DateStyle::Iso)
    } else {
        wire::user_public(&info.user, DateStyle::Iso)
    };
    if let Some(own) = &info.own {
        // Rocket.Chat's own-info `services`: whether there is a password (never its
        // hash) and the sessions' dates (never their tokens).
        let mut services = user
            .get("services")
            .cloned()
            .filter(serde_json::Value::is_object)
            .unwrap_or_else(|| json!({}));
        if own.has_password {
            services["password"] = json!(true);
        }
        services["resume"] = json!({
            "loginTokens": own
                .sessions
                .iter()
                .map(|t| match &t.personal_name {
                    Some(name) => json!({
                        "type": "personalAccessToken",
                        "name": name,
                        "createdAt": wire::iso(t.created_at.0),
                    }),
                    None => json!({"when": wire::iso(t.created_at.0)}),
                })
                .collect::<Vec<_>>(),
        });
        user["services"] = services;
    }
    if let Some(rooms) = &info.rooms {
        user["rooms"] = json!(rooms
            .iter()
            .map(|s| json!({
                "_id": s.id,
                "rid": s.rid,
                "name": s.name,
                "t": s.t,
                "roles": s.roles,
                "unread": s.unread,
            }))
            .collect::<Vec<_>>());
    }
    ok(json!({ "user": user }))
}

/// User fields the API never shows (`wire::render`'s secrets): a listing sorted
/// by one would tell who holds what, so such a sort is left out (the default
/// order applies), as the field itself is left out of `fields`.
const HIDDEN_SORT_FIELDS: &[&str] = &["inviteToken"];

pub async fn list(State(state): State<AppState>, Auth(session): Auth, params: Params) -> ApiResult {
    let page = params.page()?;
    let default_sort = Sort {
        key: SortKey::Name,
        dir: Direction::Asc,
    };
    let hidden = params
        .get("sort")
        .and_then(|raw| {
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(raw).ok()
        })
        .is_some_and(|m| {
            m.keys()
                .next()
                .is_some_and(|k| HIDDEN_SORT_FIELDS.contains(&k.as_str()))
        });
    let sort = if hidden {
        default_sort
    } else {
        params.user_sort(default_sort)?
    };
    let filter = params.name_filter()?;
    let listing = state
        .chat
        .list_users(&session.user, filter.as_deref(), sort, page)
        .await?;
    let users: Vec<_> = listing
        .items
        .iter()
        .map(|u| user_view(&session.user, u))
        .collect();
    ok(json!({
        "users": users,
        "count": users.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct UpdateData {
    username: Option<String>,
    name: Option<String>,
    email: Option<String>,
    password: Option<String>,
    roles: Option<Vec<String>>,
    active: Option<bool>,
    verified: Option<bool>,
    require_password_change: Option<bool>,
    bio: Option<String>,
    nickname: Option<String>,
    status_text: Option<String>,
    custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateBody {
    user_id: Option<String>,
    data: Option<UpdateData>,
    #[serde(default)]
    confirm_relinquish: bool,
}

pub async fn update(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<UpdateBody>,
) -> ApiResult {
    let user_id = required(&body.user_id, "userId")?;
    let Some(d) = body.data else {
        return Err(ChatError::invalid("must have required property 'data'").into());
    };
    let patch = UserPatch {
        username: d.username,
        name: d.name,
        email: d.email,
        password: d.password.filter(|p| !p.is_empty()),
        roles: d.roles,
        active: d.active,
        verified: d.verified,
        require_password_change: d.require_password_change,
        bio: d.bio,
        nickname: d.nickname,
        status_text: d.status_text,
        custom_fields: d.custom_fields,
    };
    let user = state
        .chat
        .update_user(&session.user, user_id, patch, body.confirm_relinquish)
        .await?;
    ok(json!({"user": wire::user_full(&user, DateStyle::Iso)}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveBody {
    user_id: Option<String>,
    active_status: Option<bool>,
    #[serde(default)]
    confirm_relinquish: bool,
}

pub async fn set_active_status(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<ActiveBody>,
) -> ApiResult {
    let user_id = required(&body.user_id, "userId")?;
    let Some(active) = body.active_status else {
        return Err(ChatError::invalid("must have required property 'activeStatus'").into());
    };
    let user = state
        .chat
        .set_active_status(&session.user, user_id, active, body.confirm_relinquish)
        .await?;
    ok(json!({"user": {"_id": user.id, "active": user.active}}))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeactivateIdleBody {
    days_idle: Option<u64>,
    role: Option<String>,
}

pub async fn deactivate_idle(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<DeactivateIdleBody>,
) -> ApiResult {
    let Some(days) = body.days_idle else {
        return Err(ChatError::invalid("must have required property 'daysIdle'").into());
    };
    let role = body.role.as_deref().unwrap_or(crate::store::roles::USER);
    let count = state
        .chat
        .deactivate_idle(&session.user, days, role)
        .await?;
    ok(json!({ "count": count }))
}

pub async fn check_username_availability(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(username) = params.get("username") else {
        return Err(ChatError::invalid("must have required property 'username'").into());
    };
    let result = state
        .chat
        .check_username_availability(&session.user, username)
        .await?;
    ok(json!({ "result": result }))
}
