//! `login`, `logout`, `me`. Login answers use Rocket.Chat's `status`/`data` shape
//! rather than the `success` envelope.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody};
use super::super::session_cookie;
use super::super::AppState;
use super::ok;
use crate::chat::accounts::{LoginIdent, Password};
use crate::chat::ChatError;
use crate::store::User;
use crate::wire::{self, DateStyle};

fn login_failed(status: StatusCode, error: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"status": "error", "error": error, "message": message})),
    )
        .into_response()
}

/// The caller's own account, as `me` and the login answer show it.
/// `me` and the login answer's `me`: the user's own view, with Rocket.Chat's
/// `services.password.exists` (never the hash).
fn me_json(chat: &crate::chat::Chat, user: &User, has_password: bool) -> Value {
    let mut me = wire::user_full(user, DateStyle::Iso);
    if let Value::Object(map) = &mut me {
        let mut services = map
            .get("services")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        services["password"] = json!({ "exists": has_password });
        map.insert("services".into(), services);
        if let Some(email) = user.emails.first() {
            map.insert("email".into(), json!(email.address));
        }
        map.insert(
            "settings".into(),
            json!({"preferences": chat.preferences_of(user)}),
        );
    }
    me
}

/// Reads the password field: a plain string, or Meteor's `{digest, algorithm}`.
fn password_of(body: &Value) -> Option<Password> {
    match body.get("password")? {
        Value::String(p) => Some(Password::Plain(p.clone())),
        Value::Object(o) => {
            let algo = o
                .get("algorithm")
                .and_then(Value::as_str)
                .unwrap_or("sha-256");
            let digest = o
                .get("digest")
                .and_then(Value::as_str)
                .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))?;
            (algo == "sha-256").then(|| Password::Sha256Hex(digest.to_string()))
        }
        _ => None,
    }
}

fn ident_of(body: &Value) -> Option<LoginIdent> {
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    if let Some(user) = s("user") {
        return Some(LoginIdent::from_user_field(user));
    }
    if let Some(user) = body.get("user").and_then(Value::as_object) {
        if let Some(u) = user.get("username").and_then(Value::as_str) {
            return Some(LoginIdent::Username(u.to_string()));
        }
        if let Some(e) = user.get("email").and_then(Value::as_str) {
            return Some(LoginIdent::Email(e.to_string()));
        }
        if let Some(id) = user.get("id").and_then(Value::as_str) {
            return Some(LoginIdent::Id(id.to_string()));
        }
    }
    s("username")
        .map(|u| LoginIdent::Username(u.to_string()))
        .or_else(|| s("email").map(|e| LoginIdent::Email(e.to_string())))
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    JsonBody(body): JsonBody<Value>,
) -> Response {
    // The web client's login: the session goes into HttpOnly cookies, never into
    // the script. Refused from other sites (login CSRF).
    let cookie_mode = session_cookie::wants_cookie(&headers);
    if cookie_mode {
        if let Err(e) = session_cookie::same_origin(&headers, &uri, state.edge.site_host.as_deref())
        {
            return ApiError::Csrf(e).into_response();
        }
    }
    let result = if let Some(token) = body.get("resume").and_then(Value::as_str) {
        state.chat.login_with_token(token).await
    } else if body.get("ldap") == Some(&Value::Bool(true)) {
        // Rocket.Chat's LDAP login: {ldap: true, username, ldapPass, ldapOptions}.
        let s = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        match (s("username"), s("ldapPass")) {
            (Some(username), Some(password)) => {
                state.ldap.login(username, password, Some(peer.ip())).await
            }
            _ => {
                return ApiError::Chat(ChatError::invalid(
                    "An LDAP login needs \"username\" and \"ldapPass\"",
                ))
                .into_response()
            }
        }
    } else if body.get("saml") == Some(&Value::Bool(true)) {
        // Rocket.Chat's SAML login: {saml: true, credentialToken} after /_saml/validate.
        let token = body
            .get("credentialToken")
            .and_then(Value::as_str)
            .unwrap_or("");
        crate::identity::saml::login_with_credential(&state.chat, token).await
    } else if let Some(oauth) = body.get("oauth").filter(|o| o.is_object()) {
        // Meteor's OAuth credential (Rocket.Chat's app after its web view sign-in).
        let s = |k: &str| oauth.get(k).and_then(Value::as_str).unwrap_or("");
        crate::identity::oauth::mobile::login_with_credential(
            &state.chat,
            s("credentialToken"),
            s("credentialSecret"),
        )
        .await
    } else if let Some(service) = body.get("serviceName").and_then(Value::as_str) {
        // Rocket.Chat's mobile OAuth login: the provider vouches for the token.
        let token = body
            .get("accessToken")
            .and_then(Value::as_str)
            .unwrap_or("");
        crate::identity::oauth::signin::login_with_access_token(&state.chat, service, token).await
    } else {
        match (ident_of(&body), password_of(&body)) {
            (Some(LoginIdent::Username(name)), Some(Password::Plain(plain)))
                if state.ldap.enabled() =>
            {
                // With LDAP on, the normal form signs directory users in through it.
                match state.ldap.login_form(&name, &plain, Some(peer.ip())).await {
                    Some(result) => result,
                    None => {
                        state
                            .chat
                            .login_with_password(
                                &LoginIdent::Username(name),
                                &Password::Plain(plain),
                                Some(peer.ip()),
                            )
                            .await
                    }
                }
            }
            (Some(ident), Some(password)) => {
                state
                    .chat
                    .login_with_password(&ident, &password, Some(peer.ip()))
                    .await
            }
            _ => return ApiError::Chat(ChatError::invalid(
                "Login needs \"user\" (or \"username\"/\"email\") and \"password\", or \"resume\"",
            ))
            .into_response(),
        }
    };
    let has_password = match &result {
        Ok(outcome) => state
            .chat
            .has_password(&outcome.user.id)
            .await
            .unwrap_or(false),
        Err(_) => false,
    };
    match result {
        Ok(outcome) if cookie_mode => {
            let mut resp = Json(json!({
                "status": "success",
                "data": {"userId": outcome.user.id, "me": me_json(&state.chat, &outcome.user, has_password)}
            }))
            .into_response();
            session_cookie::set(
                resp.headers_mut(),
                &outcome.user.id,
                &outcome.token,
                outcome.expires,
                state.edge.secure_cookies,
            );
            resp
        }
        Ok(outcome) => Json(json!({
            "status": "success",
            "data": {
                "userId": outcome.user.id,
                "authToken": outcome.token,
                "me": me_json(&state.chat, &outcome.user, has_password),
            }
        }))
        .into_response(),
        Err(ChatError::Unauthorized(_)) => {
            login_failed(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
        }
        Err(ChatError::Refused {
            error_type: error_type @ ("error-user-is-not-activated" | "error-invalid-email"),
            message,
        }) => login_failed(StatusCode::UNAUTHORIZED, error_type, &message),
        Err(ChatError::Refused {
            error_type: "error-ldap-unavailable",
            message,
        }) => login_failed(
            StatusCode::SERVICE_UNAVAILABLE,
            "error-ldap-unavailable",
            &message,
        ),
        Err(ChatError::Refused {
            error_type,
            message,
        }) if error_type.starts_with("error-oauth-")
            || error_type.starts_with("error-saml-")
            || error_type == "error-password-login-disabled" =>
        {
            login_failed(
                if error_type == "error-oauth-provider-unreachable" {
                    StatusCode::SERVICE_UNAVAILABLE
                } else {
                    StatusCode::UNAUTHORIZED
                },
                error_type,
                &message,
            )
        }
        Err(other) => ApiError::Chat(other).into_response(),
    }
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Auth(session): Auth,
) -> ApiResult {
    state.chat.logout(&session).await?;
    let mut resp = Json(json!({
        "status": "success",
        "data": {"message": "You've been logged out!"}
    }))
    .into_response();
    if session_cookie::credentials(&headers).is_some() {
        session_cookie::clear(resp.headers_mut(), state.edge.secure_cookies);
    }
    Ok(resp)
}

pub async fn me(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    let has_password = state.chat.has_password(&session.user.id).await?;
    ok(me_json(&state.chat, &session.user, has_password))
}
