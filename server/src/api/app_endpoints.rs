//! Apps' own HTTP endpoints, `/api/apps/public/<app>/…` (no login) and
//! `/api/apps/private/<app>/…` (a logged-in caller).
//!
//! What an app answers is the app's, not Palaver's: every response on these paths
//! (the app's, and the errors the host answers for it) is sandboxed with
//! [`harden`], so an app's HTML never runs script in Palaver's origin, cannot be
//! framed and cannot set or clear cookies there. With `apps_origin` configured the
//! endpoints are moreover served on that origin only (see [`super::edge`]).

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::json;

use super::edge::AppWritten;
use super::error::ApiError;
use super::extract::Auth;
use super::AppState;
use crate::apps::engine::EndpointCall;
use crate::apps::AppsError;
use crate::chat::accounts::Session;

const PUBLIC_PREFIX: &str = "/api/apps/public/";
const PRIVATE_PREFIX: &str = "/api/apps/private/";

/// `sandbox` without `allow-scripts` or `allow-same-origin`: the document gets an
/// opaque origin and runs no script at all, so it can reach neither the web
/// client's storage nor its cookies, whatever it contains. Styles and images of its
/// own still render (an OAuth "you can close this window" page).
const APP_CSP: &str = "sandbox; default-src 'none'; img-src 'self' data:; \
                       style-src 'self' 'unsafe-inline'; media-src 'self'; \
                       frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/apps/public/{app_id}/{*path}", any(public_endpoint))
        .route("/api/apps/private/{app_id}/{*path}", any(private_endpoint))
}

/// Whether `path` is under an app's endpoints.
pub fn is_endpoint_path(path: &str) -> bool {
    path.starts_with(PUBLIC_PREFIX) || path.starts_with(PRIVATE_PREFIX)
}

/// Headers an app never sees: the caller's credentials.
fn hidden_header(name: &str) -> bool {
    matches!(
        name,
        "x-auth-token" | "x-user-id" | "cookie" | "authorization"
    )
}

/// Headers an app may not set: framing (the server's job), cookies and site data of
/// Palaver's origin, and what [`harden`] decides.
fn forbidden_response_header(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "transfer-encoding"
            | "content-length"
            | "keep-alive"
            | "upgrade"
            | "set-cookie"
            | "set-cookie2"
            | "clear-site-data"
            | "service-worker-allowed"
            | "access-control-allow-credentials"
            | "content-security-policy"
            | "content-security-policy-report-only"
            | "x-content-type-options"
            | "x-frame-options"
            | "referrer-policy"
    )
}

/// Puts the sandbox on a response of an app endpoint path, replacing whatever the
/// app or an inner layer set.
pub fn harden(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    for name in [
        "set-cookie",
        "set-cookie2",
        "clear-site-data",
        "service-worker-allowed",
        "access-control-allow-credentials",
        "content-security-policy-report-only",
    ] {
        h.remove(name);
    }
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(APP_CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    resp
}

async fn endpoint(
    state: AppState,
    app_id: String,
    path: String,
    req: Request,
    session: Option<Session>,
) -> Response {
    let method: Method = req.method().clone();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .filter(|(n, _)| {
            !hidden_header(n.as_str()) || (session.is_none() && n.as_str() == "authorization")
        })
        .filter_map(|(n, v)| {
            v.to_str()
                .ok()
                .map(|v| (n.as_str().to_string(), v.to_string()))
        })
        .collect();
    let body = match axum::body::to_bytes(req.into_body(), state.max_body_bytes).await {
        Ok(b) => b.to_vec(),
        Err(_) => return ApiError::TooLarge(state.max_body_bytes).into_response(),
    };
    let call = EndpointCall {
        method: method.to_string(),
        path,
        query,
        headers,
        body,
        public: session.is_none(),
        user: session.map(|s| s.user),
    };
    match state.apps.handle_request(&app_id, call).await {
        Ok(r) => {
            let mut out = HeaderMap::new();
            for (name, value) in &r.headers {
                let lower = name.to_ascii_lowercase();
                if forbidden_response_header(&lower) {
                    continue;
                }
                if let (Ok(n), Ok(v)) = (
                    HeaderName::try_from(lower),
                    HeaderValue::try_from(value.as_str()),
                ) {
                    out.append(n, v);
                }
            }
            let status =
                StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut resp = (status, out, Body::from(r.body)).into_response();
            resp.extensions_mut().insert(AppWritten);
            resp
        }
        Err(AppsError::Fault { app, fault }) => {
            let status = match fault {
                crate::apps::pool::Fault::Deadline(_) => StatusCode::GATEWAY_TIMEOUT,
                crate::apps::pool::Fault::Busy(_) => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_GATEWAY,
            };
            (
                status,
                Json(json!({"success": false, "error": format!("the app {app} {fault}"), "errorType": "error-app-fault"})),
            )
                .into_response()
        }
        Err(e) => ApiError::Apps(e).into_response(),
    }
}

async fn public_endpoint(
    State(state): State<AppState>,
    Path((app_id, path)): Path<(String, String)>,
    req: Request,
) -> Response {
    endpoint(state, app_id, path, req, None).await
}

async fn private_endpoint(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((app_id, path)): Path<(String, String)>,
    req: Request,
) -> Response {
    endpoint(state, app_id, path, req, Some(session)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardening_replaces_what_an_app_set() {
        let mut resp = Response::new(Body::empty());
        let h = resp.headers_mut();
        h.insert(
            "content-security-policy",
            HeaderValue::from_static("default-src *"),
        );
        h.insert("x-frame-options", HeaderValue::from_static("ALLOWALL"));
        h.insert("set-cookie", HeaderValue::from_static("rc_token=x"));
        let resp = harden(resp);
        let h = resp.headers();
        assert_eq!(h["content-security-policy"], APP_CSP);
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.get("set-cookie").is_none());
        assert!(APP_CSP.starts_with("sandbox;"));
        assert!(!APP_CSP.contains("allow-"));
    }
}
