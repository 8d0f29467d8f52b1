//! `users.*PersonalAccessToken*`, `users.logout`, `users.removeOtherTokens`,
//! `users.logoutOtherClients`: tokens and sessions, as Rocket.Chat answers them.

use axum::extract::State;
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::json;

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody};
use super::super::AppState;
use super::ok;
use crate::chat::ChatError;
use crate::wire;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/users.generatePersonalAccessToken",
            post(generate_personal_token),
        )
        .route(
            "/users.regeneratePersonalAccessToken",
            post(regenerate_personal_token),
        )
        .route("/users.getPersonalAccessTokens", get(personal_tokens))
        .route(
            "/users.removePersonalAccessToken",
            post(remove_personal_token),
        )
        .route("/users.logout", post(logout_user))
        .route("/users.removeOtherTokens", post(remove_other_tokens))
        .route("/users.logoutOtherClients", post(logout_other_clients))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenBody {
    token_name: Option<String>,
    #[serde(default)]
    bypass_two_factor: bool,
}

/// Rocket.Chat's `API.v1.failure("The 'tokenName' param is required")`.
fn token_name(body: &TokenBody) -> Result<&str, ChatError> {
    body.token_name
        .as_deref()
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ChatError::invalid("The 'tokenName' param is required"))
}

async fn generate_personal_token(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult {
    let token = state
        .chat
        .generate_personal_token(&session.user, token_name(&body)?, body.bypass_two_factor)
        .await?;
    ok(json!({ "token": token }))
}

async fn regenerate_personal_token(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult {
    let token = state
        .chat
        .regenerate_personal_token(&session.user, token_name(&body)?)
        .await?;
    ok(json!({ "token": token }))
}

async fn remove_personal_token(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<TokenBody>,
) -> ApiResult {
    state
        .chat
        .remove_personal_token(&session.user, token_name(&body)?)
        .await?;
    ok(json!({}))
}

async fn personal_tokens(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    let tokens: Vec<_> = state
        .chat
        .personal_tokens(&session.user)
        .await?
        .into_iter()
        .map(|t| {
            json!({
                "name": t.name,
                "createdAt": wire::iso(t.created_at.0),
                "lastTokenPart": t.last_token_part,
                "bypassTwoFactor": t.bypass_two_factor,
            })
        })
        .collect();
    ok(json!({ "tokens": tokens }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogoutBody {
    user_id: Option<String>,
}

async fn logout_user(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<LogoutBody>,
) -> ApiResult {
    let user_id = state
        .chat
        .logout_user(&session.user, body.user_id.as_deref())
        .await?;
    ok(json!({ "message": format!("User {user_id} has been logged out!") }))
}

async fn remove_other_tokens(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    state.chat.end_other_sessions_of(&session).await?;
    ok(json!({}))
}

/// Answers with the token in use and its expiry, as Rocket.Chat does.
async fn logout_other_clients(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    Auth(session): Auth,
) -> ApiResult {
    let Some(token) = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
    else {
        return Err(
            ChatError::refused("error-parameter-required", "x-auth-token is required").into(),
        );
    };
    let expires = state.chat.end_other_sessions_of(&session).await?;
    ok(json!({
        "token": token,
        "tokenExpires": expires.map(|e| wire::iso(e.0)).unwrap_or_default(),
    }))
}
