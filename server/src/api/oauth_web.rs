//! The browser side of OAuth/OIDC sign-in: `GET /_oauth/<service>/start` sends the
//! browser to the provider (setting the flow cookie), and `GET /_oauth/<service>`
//! (Rocket.Chat's callback path, the redirect URI registered at the provider)
//! finishes it: the web client's session cookies are set and the browser goes
//! back to `/`. A failure goes back to `/?oauth_error=<code>&service=<service>`,
//! which the login page explains; the flow cookie is cleared either way.
//!
//! The same callback serves Rocket.Chat's mobile app, whose `state` is Meteor's
//! (base64 JSON with a `credentialToken`): see [`oauth::mobile`]. Its answer is
//! the end-of-flow page (or the app's `rocketchat://auth` redirect), with the
//! script `GET /_oauth/end_of_popup_response.js`.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, LOCATION, REFERRER_POLICY,
    SET_COOKIE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{session_cookie, AppState};
use crate::identity::oauth::mobile::{self, AppState as AppFlow};
use crate::identity::oauth::{self, signin, OAuthError, FLOW_COOKIE, FLOW_TTL};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_oauth/end_of_popup_response.js", get(popup_script))
        .route("/_oauth/{service}/start", get(start))
        .route("/_oauth/{service}", get(callback))
}

/// The app's end page may run only this script; nothing may frame it.
const PAGE_CSP: &str =
    "default-src 'none'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'";

async fn popup_script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        mobile::POPUP_SCRIPT,
    )
        .into_response()
}

fn page(status: StatusCode, html: String) -> Response {
    let mut resp = (status, html).into_response();
    let h = resp.headers_mut();
    h.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

/// The callback of the app's flow: the credential waits for the app's login call.
async fn app_callback(
    state: &AppState,
    cfg: &oauth::ProviderConfig,
    query: &HashMap<String, String>,
    app: &AppFlow,
) -> Response {
    let redirect_uri = signin::redirect_uri(&state.chat, cfg);
    let result = mobile::complete(&state.chat, cfg, &redirect_uri, query, app).await;
    if let Err(e) = &result {
        tracing::info!(service = %cfg.name, error = %e, "OAuth sign-in for the app refused");
    }
    if !app.popup {
        let site = state.chat.settings().string("Site_Url");
        let (secret, error) = match &result {
            Ok(secret) => (Some(secret.as_str()), None),
            Err(e) => (None, Some(e.error_type())),
        };
        return redirect(&mobile::app_redirect_url(
            &site,
            &app.credential_token,
            secret,
            error,
        ));
    }
    match result {
        Ok(secret) => page(StatusCode::OK, mobile::popup_page(app, Some(&secret), None)),
        Err(e) => {
            let status = match e {
                OAuthError::Unreachable(_) => StatusCode::BAD_GATEWAY,
                _ => StatusCode::BAD_REQUEST,
            };
            page(status, mobile::popup_page(app, None, Some(&e.to_string())))
        }
    }
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
    let cookie = read_flow_cookie(&headers);
    // Meteor's state (Rocket.Chat's app); our own flow's state is random bytes and
    // never parses as one.
    if let Some(app) = query.get("state").and_then(|s| mobile::parse_state(s)) {
        return app_callback(&state, &cfg, &query, &app).await;
    }
    let redirect_uri = signin::redirect_uri(&state.chat, &cfg);
    let claims = match oauth::client()
        .finish(&state.chat, &cfg, &redirect_uri, &query, cookie.as_deref())
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
