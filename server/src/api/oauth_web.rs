//! The browser side of OAuth/OIDC sign-in: `GET /_oauth/<service>/start` sends the
//! browser to the provider (setting the flow cookie), and `GET /_oauth/<service>`
//! (Rocket.Chat's callback path, the redirect URI registered at the provider)
//! finishes it: the web client's session cookies are set and the browser goes
//! back to `/`. A failure goes back to `/?oauth_error=<code>&service=<service>`,
//! which the login page explains; the flow cookie is cleared either way.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{session_cookie, AppState};
use crate::identity::oauth::{self, signin, OAuthError, FLOW_COOKIE, FLOW_TTL};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_oauth/{service}/start", get(start))
        .route("/_oauth/{service}", get(callback))
}

fn flow_cookie(value: &str, max_age: u64, secure: bool) -> Option<HeaderValue> {
    // Lax, not Strict: the provider's redirect back is a cross-site navigation.
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{FLOW_COOKIE}={value}; Path=/_oauth/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    ))
    .ok()
}

fn read_flow_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, v)| *name == FLOW_COOKIE && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

fn redirect(to: &str) -> Response {
    let mut resp = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    resp
}

/// Where a failed sign-in lands: the login page with a short reason code.
fn failed(service: &str, e: &OAuthError, secure: bool) -> Response {
    let code = e.error_type().trim_start_matches("error-oauth-");
    let service: String = url::form_urlencoded::byte_serialize(service.as_bytes()).collect();
    let mut resp = redirect(&format!("/?oauth_error={code}&service={service}"));
    if let Some(v) = flow_cookie("", 0, secure) {
        resp.headers_mut().append(SET_COOKIE, v);
    }
    resp
}

async fn start(State(state): State<AppState>, Path(service): Path<String>) -> Response {
    let secure = state.edge.secure_cookies;
    let cfg = match signin::provider(&state.chat, &service) {
        Ok(cfg) => cfg,
        Err(e) => return failed(&service, &e, secure),
    };
    let redirect_uri = signin::redirect_uri(&state.chat, &cfg);
    match oauth::client().begin(&cfg, &redirect_uri).await {
        Ok(started) => {
            let mut resp = redirect(&started.authorize_url);
            if let Some(v) = flow_cookie(&started.cookie_value, FLOW_TTL.as_secs(), secure) {
                resp.headers_mut().append(SET_COOKIE, v);
            }
            resp
        }
        Err(e) => {
            tracing::warn!(service = %cfg.name, error = %e, "cannot start an OAuth sign-in");
            failed(&cfg.name, &e, secure)
        }
    }
}

async fn callback(
    State(state): State<AppState>,
    Path(service): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let secure = state.edge.secure_cookies;
    let cfg = match signin::provider(&state.chat, &service) {
        Ok(cfg) => cfg,
        Err(e) => return failed(&service, &e, secure),
    };
    let redirect_uri = signin::redirect_uri(&state.chat, &cfg);
    let cookie = read_flow_cookie(&headers);
    let claims = match oauth::client()
        .finish(&cfg, &redirect_uri, &query, cookie.as_deref())
        .await
    {
        Ok(claims) => claims,
        Err(e) => {
            tracing::info!(service = %cfg.name, error = %e, "OAuth sign-in refused");
            return failed(&cfg.name, &e, secure);
        }
    };
    match state
        .chat
        .login_external(signin::identity(&cfg, &claims))
        .await
    {
        Ok(outcome) => {
            let mut resp = redirect("/");
            if let Some(v) = flow_cookie("", 0, secure) {
                resp.headers_mut().append(SET_COOKIE, v);
            }
            session_cookie::set(
                resp.headers_mut(),
                &outcome.user.id,
                &outcome.token,
                outcome.expires,
                secure,
            );
            resp
        }
        Err(e) => {
            tracing::info!(service = %cfg.name, error = %e, "OAuth sign-in: no session");
            let code = match &e {
                crate::chat::ChatError::Refused { error_type, .. } => {
                    error_type.trim_start_matches("error-").to_string()
                }
                _ => "account".to_string(),
            };
            let mut resp = redirect(&format!("/?oauth_error={code}&service={}", cfg.name));
            if let Some(v) = flow_cookie("", 0, secure) {
                resp.headers_mut().append(SET_COOKIE, v);
            }
            resp
        }
    }
}
