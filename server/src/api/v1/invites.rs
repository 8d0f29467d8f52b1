//! Invite links over REST, as Rocket.Chat's `v1/invites.ts`: `findOrCreateInvite`,
//! `listInvites`, `removeInvite/:_id`, `useInviteToken`, `validateInviteToken`, and
//! the invitation e-mail (`sendInvitationEmail`).
//! Bodies are checked as Rocket.Chat's parameter schemas check them (required
//! fields, no others, integers given as numbers or numeric strings).

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody};
use super::super::AppState;
use super::{ok, rest};
use crate::chat::invites::InviteLink;
use crate::chat::ChatError;

type Body = Map<String, Value>;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/findOrCreateInvite", post(find_or_create))
        .route("/listInvites", get(list))
        .route("/removeInvite/{_id}", delete(remove))
        .route("/useInviteToken", post(use_token))
        .route("/validateInviteToken", post(validate_token))
        .route("/sendInvitationEmail", post(send_invitation_email))
}

fn schema(message: impl Into<String>) -> ApiError {
    ChatError::schema(message).into()
}

/// Refuses properties the schema does not name (`additionalProperties: false`).
fn only(body: &Body, allowed: &[&str]) -> Result<(), ApiError> {
    if body.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(schema("must NOT have additional properties"));
    }
    Ok(())
}

/// A required string property (a number is taken as its digits, as Ajv's
/// `coerceTypes` does).
fn string(body: &Body, key: &str) -> Result<String, ApiError> {
    match body.get(key) {
        None => Err(schema(format!("must have required property '{key}'"))),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        Some(_) => Err(schema(format!("/{key} must be string"))),
    }
}

/// A required integer property (numeric strings and booleans coerced as Ajv does).
fn integer(body: &Body, key: &str) -> Result<i64, ApiError> {
    let bad = || schema(format!("/{key} must be integer"));
    match body.get(key) {
        None => Err(schema(format!("must have required property '{key}'"))),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64))
            .ok_or_else(bad),
        Some(Value::String(s)) => s.trim().parse().map_err(|_| bad()),
        Some(Value::Bool(b)) => Ok(i64::from(*b)),
        Some(_) => Err(bad()),
    }
}

/// An invite as Rocket.Chat's `IInvite`, with its link.
fn invite_json(link: &InviteLink) -> Value {
    let mut v = rest(&link.invite);
    v["url"] = json!(link.url);
    v
}

/// `POST findOrCreateInvite` `{rid, days, maxUses}`: the invite, with `url`.
pub async fn find_or_create(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let rid = string(&body, "rid")?;
    let days = integer(&body, "days")?;
    let max_uses = integer(&body, "maxUses")?;
    only(&body, &["rid", "days", "maxUses"])?;
    let link = state
        .chat
        .find_or_create_invite(&session.user, &rid, days, max_uses)
        .await?;
    ok(invite_json(&link))
}

/// `GET listInvites`: Rocket.Chat answers with the bare array of invites.
pub async fn list(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    let links = state.chat.list_invites(&session.user).await?;
    let items: Vec<Value> = links.iter().map(invite_json).collect();
    Ok(Json(Value::Array(items)).into_response())
}

/// `DELETE removeInvite/:_id`: Rocket.Chat answers with a bare `true`.
pub async fn remove(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    state.chat.remove_invite(&session.user, &id).await?;
    Ok(Json(Value::Bool(true)).into_response())
}

/// `POST useInviteToken` `{token}`: joins the invite's room; answers with the room.
pub async fn use_token(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let token = string(&body, "token")?;
    only(&body, &["token"])?;
    let room = state.chat.use_invite_token(&session.user, &token).await?;
    let mut summary = json!({
        "rid": room.id,
        "fname": room.fname,
        "name": room.name,
        "t": room.t,
    });
    if let Some(prid) = &room.extra.prid {
        summary["prid"] = json!(prid);
    }
    ok(json!({ "room": summary }))
}

/// `POST validateInviteToken` `{token}` (no login): `{valid}`; an unknown, expired
/// or used-up token is `valid: false`, not an error.
pub async fn validate_token(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    let token = string(&body, "token")?;
    only(&body, &["token"])?;
    let valid = match state.chat.validate_invite_token(&token).await {
        Ok(_) => true,
        Err(ChatError::Store(e)) => return Err(e.into()),
        Err(_) => false,
    };
    ok(json!({ "valid": valid }))
}

/// `POST sendInvitationEmail` `{emails: string[]}` (needs `bulk-register-user`):
/// mails the workspace's invitation to each well-formed address.
pub async fn send_invitation_email(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Body>,
) -> ApiResult {
    if !body.contains_key("emails") {
        return Err(schema("must have required property 'emails'"));
    }
    let emails = super::strings(&body, "emails")?;
    state
        .chat
        .send_invitation_email(&session.user, &emails)
        .await?;
    ok(json!({}))
}
