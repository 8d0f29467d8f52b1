//! `roles.*`: the roles, who holds them; and the room roles of `channels.*` /
//! `groups.*` (`roles`, `addOwner`, `removeModerator`, …) and `channels.setDefault`.

use axum::extract::State;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::rooms::{body_user, keys, target, RoomBody};
use super::{expect_kind, ok, params_room_ref, rest};
use crate::chat::roles::{RoleSpec, RoomRole};
use crate::chat::ChatError;
use crate::store::role_store::{Role, RoleScope};
use crate::store::User;
use crate::wire::{self, DateStyle};

pub async fn list(State(state): State<AppState>, Auth(_): Auth) -> ApiResult {
    let roles: Vec<Value> = state.chat.roles().await?.iter().map(rest).collect();
    ok(json!({ "roles": roles }))
}

pub async fn sync(State(state): State<AppState>, Auth(_): Auth, params: Params) -> ApiResult {
    let Some(since) = params.date("updatedSince")? else {
        return Err(ChatError::invalid("must have required property 'updatedSince'").into());
    };
    let (update, remove) = state.chat.roles_since(since).await?;
    let update: Vec<Value> = update.iter().map(rest).collect();
    let remove: Vec<Value> = remove.iter().map(rest).collect();
    ok(json!({ "roles": { "update": update, "remove": remove } }))
}

fn scope(value: Option<&str>) -> Result<Option<RoleScope>, ApiError> {
    match value {
        None => Ok(None),
        Some("Users") => Ok(Some(RoleScope::Users)),
        Some("Subscriptions") => Ok(Some(RoleScope::Subscriptions)),
        Some(_) => Err(invalid_properties()),
    }
}

fn invalid_properties() -> ApiError {
    ChatError::refused(
        "error-invalid-role-properties",
        "The role properties are invalid.",
    )
    .into()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleBody {
    role_id: Option<String>,
    role_name: Option<String>,
    name: Option<String>,
    scope: Option<String>,
    description: Option<String>,
    mandatory2fa: Option<bool>,
    username: Option<String>,
    user_id: Option<String>,
    room_id: Option<String>,
}

impl RoleBody {
    fn spec(&self) -> Result<RoleSpec, ApiError> {
        Ok(RoleSpec {
            name: self.name.clone().unwrap_or_default(),
            scope: scope(self.scope.as_deref())?,
            description: self.description.clone(),
            mandatory2fa: self.mandatory2fa,
        })
    }

    async fn role(&self, state: &AppState) -> Result<Role, ApiError> {
        let key = self
            .role_id
            .as_deref()
            .or(self.role_name.as_deref())
            .filter(|k| !k.is_empty())
            .ok_or_else(invalid_properties)?;
        state
            .chat
            .find_role(key)
            .await?
            .ok_or_else(|| ChatError::refused("error-role-not-found", "Role not found").into())
    }

    async fn user(&self, state: &AppState) -> Result<User, ApiError> {
        if self.user_id.is_none() && self.username.is_none() {
            return Err(invalid_properties());
        }
        Ok(state
            .chat
            .find_user(self.user_id.as_deref(), self.username.as_deref())
            .await?)
    }
}

pub async fn create(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoleBody>,
) -> ApiResult {
    if body.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(invalid_properties());
    }
    let role = state.chat.create_role(&session.user, body.spec()?).await?;
    ok(json!({ "role": rest(&role) }))
}

pub async fn update(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoleBody>,
) -> ApiResult {
    let Some(role_id) = body.role_id.as_deref() else {
        return Err(invalid_properties());
    };
    let role = state
        .chat
        .update_role(&session.user, role_id, body.spec()?)
        .await?;
    ok(json!({ "role": rest(&role) }))
}

pub async fn delete(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoleBody>,
) -> ApiResult {
    let Some(role_id) = body.role_id.as_deref().filter(|r| !r.is_empty()) else {
        return Err(invalid_properties());
    };
    state.chat.delete_role(&session.user, role_id).await?;
    ok(json!({}))
}

pub async fn add_user_to_role(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoleBody>,
) -> ApiResult {
    let user = body.user(&state).await?;
    let role = body.role(&state).await?;
    state
        .chat
        .add_user_to_role(&session.user, &role, &user, body.room_id.as_deref())
        .await?;
    ok(json!({ "role": rest(&role) }))
}

pub async fn remove_user_from_role(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<RoleBody>,
) -> ApiResult {
    let user = body.user(&state).await?;
    let role = body.role(&state).await?;
    let scope = body.scope.as_deref().or(body.room_id.as_deref());
    state
        .chat
        .remove_user_from_role(&session.user, &role, &user, scope)
        .await?;
    ok(json!({ "role": rest(&role) }))
}

pub async fn users_in_role(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let Some(role) = params.get("role").filter(|r| !r.is_empty()) else {
        return Err(ChatError::refused(
            "error-param-not-provided",
            "Query param \"role\" is required",
        )
        .into());
    };
    let page = params.page()?;
    let listing = state
        .chat
        .users_in_role(&session.user, role, params.get("roomId"), page)
        .await?;
    let users: Vec<Value> = listing
        .items
        .iter()
        .map(|u| {
            json!({
                "_id": u.id,
                "username": u.username,
                "name": u.name,
                "emails": u.emails,
                "roles": u.roles,
                "createdAt": wire::iso(u.created_at.0),
                "_updatedAt": wire::iso(u.updated_at.0),
            })
        })
        .collect();
    ok(json!({ "users": users, "total": listing.total }))
}

pub async fn users_in_public_roles(State(state): State<AppState>, Auth(_): Auth) -> ApiResult {
    let users: Vec<Value> = state
        .chat
        .users_in_public_roles()
        .await?
        .iter()
        .map(|u| json!({"_id": u.id, "username": u.username, "roles": u.roles}))
        .collect();
    ok(json!({ "users": users }))
}

/// `channels.roles` / `groups.roles`: members holding room roles.
pub async fn room_roles<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let (room, subs) = state
        .chat
        .room_roles(&session.user, params_room_ref(&params)?)
        .await?;
    expect_kind(&room, super::rooms::kind(K))?;
    let roles: Vec<Value> = subs.iter().map(crate::wire::room_role_member).collect();
    ok(json!({ "roles": roles }))
}

/// `channels.addOwner` and the other five, for both kinds.
async fn set_room_role<const K: u8>(
    state: AppState,
    user: User,
    body: RoomBody,
    role: RoomRole,
    add: bool,
) -> ApiResult {
    let room = target(&state, &user, &body, K).await?;
    let target_user = body_user(&state, &body).await?;
    state
        .chat
        .set_room_role(&user, &room.id, &target_user.id, role, add)
        .await?;
    ok(json!({}))
}

macro_rules! room_role_handlers {
    ($($name:ident => $role:expr, $add:expr;)*) => {
        $(
            pub async fn $name<const K: u8>(
                State(state): State<AppState>,
                Auth(session): Auth,
                JsonBody(body): JsonBody<RoomBody>,
            ) -> ApiResult {
                set_room_role::<K>(state, session.user, body, $role, $add).await
            }
        )*
    };
}

room_role_handlers! {
    add_owner => RoomRole::Owner, true;
    remove_owner => RoomRole::Owner, false;
    add_moderator => RoomRole::Moderator, true;
    remove_moderator => RoomRole::Moderator, false;
    add_leader => RoomRole::Leader, true;
    remove_leader => RoomRole::Leader, false;
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetDefaultBody {
    room_id: Option<String>,
    room_name: Option<String>,
    default: Option<Value>,
}

/// `channels.setDefault`: `default` is a boolean or `"true"`/`"1"`.
pub async fn set_default<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<SetDefaultBody>,
) -> ApiResult {
    let default = match &body.default {
        None | Some(Value::Null) => {
            return Err(ChatError::refused(
                "error-channels-setdefault-is-same",
                "The bodyParam \"default\" is required",
            )
            .into())
        }
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            let text = match other {
                Value::String(s) => s.to_lowercase(),
                v => v.to_string(),
            };
            text == "true" || text == "1"
        }
    };
    let r = super::room_ref(body.room_id.as_deref(), body.room_name.as_deref())?;
    let (room, _) = state.chat.readable_room(&session.user, r).await?;
    expect_kind(&room, super::rooms::kind(K))?;
    let room = state
        .chat
        .set_room_default(
            &session.user,
            crate::chat::rooms::RoomRef::Id(&room.id),
            default,
        )
        .await?;
    ok(json!({ keys(K).0: wire::room(&room, DateStyle::Iso) }))
}
