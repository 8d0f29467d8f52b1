//! The web client and admin console: static assets compiled into the binary, so
//! running Palaver needs no separate web server and no front-end toolchain.
//!
//! The client is hash-routed (`#/channel/general`), so the server only serves `/`
//! and `/assets/*`; everything else the client does goes through the public REST
//! and realtime APIs like any other Rocket.Chat client.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::api::error::ApiError;
use crate::api::AppState;

/// Only our own scripts and styles run; the page cannot be framed (clickjacking).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self' ws: wss:; \
                   frame-ancestors 'none'; base-uri 'none'; form-action 'self'; \
                   object-src 'none'";

/// One file of the client.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $ct:expr) => {
        Asset {
            name: $name,
            content_type: $ct,
            body: include_bytes!(concat!("../../web/", $name)),
        }
    };
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

static ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("style.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("ddp.js", JS),
    asset!("dom.js", JS),
    asset!("markdown.js", JS),
    asset!("login.js", JS),
    asset!("sidebar.js", JS),
    asset!("presence.js", JS),
    asset!("desktop.js", JS),
    asset!("dialogs.js", JS),
    asset!("members.js", JS),
    asset!("avatars.js", JS),
    asset!("profile.js", JS),
    asset!("room.js", JS),
    asset!("messages.js", JS),
    asset!("thread.js", JS),
    asset!("composer.js", JS),
    asset!("command-previews.js", JS),
    asset!("attach.js", JS),
    asset!("viewer.js", JS),
    asset!("file-card.js", JS),
    asset!("files-list.js", JS),
    asset!("message-lists.js", JS),
    asset!("admin.js", JS),
    asset!("admin-ui.js", JS),
    asset!("admin-apps.js", JS),
    asset!("admin-app.js", JS),
    asset!("admin-users.js", JS),
    asset!("admin-outbox.js", JS),
    asset!("admin-logs.js", JS),
    asset!("admin-integrations.js", JS),
    asset!("admin-ldap.js", JS),
    asset!("admin-settings.js", JS),
    asset!("admin-roles.js", JS),
    asset!("admin-matrix.js", JS),
    asset!("admin.css", CSS),
    asset!("webpush.js", JS),
    asset!("sw.js", JS),
    asset!("manifest.webmanifest", "application/manifest+json"),
];

/// Strong validators, computed once: file names carry no content hash, so clients
/// revalidate every load and get a cheap 304 while the binary is unchanged.
fn etags() -> &'static [HeaderValue] {
    static ETAGS: OnceLock<Vec<HeaderValue>> = OnceLock::new();
    ETAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| {
                let digest = Sha256::digest(a.body);
                let tag = format!("\"{}\"", hex::encode(&digest[..12]));
                HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\""))
            })
            .collect()
    })
}

/// Routes serving the client's page and assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/index.html", get(index))
        .route("/favicon.ico", get(favicon))
        .route("/assets/{name}", get(asset))
        // The service worker's scope is its own path's folder: it is served from
        // the root to control the whole client.
        .route("/sw.js", get(service_worker))
        .route("/manifest.webmanifest", get(manifest))
        .route("/reset-password/{token}", get(reset_password))
        .route("/verify-email/{token}", get(verify_email))
        .route("/invite/{token}", get(invite))
}

async fn service_worker(headers: HeaderMap) -> Response {
    serve("sw.js", &headers).unwrap_or_else(|e| e.into_response())
}

async fn manifest(headers: HeaderMap) -> Response {
    serve("manifest.webmanifest", &headers).unwrap_or_else(|e| e.into_response())
}

/// A mailed token: user id, expiry and signature (nothing else reaches a header).
fn mail_token(token: &str) -> Option<&str> {
    (!token.is_empty() && token.len() <= 256)
        .then_some(token)
        .filter(|t| t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.'))
}

/// The password reset link of the e-mail: the client's reset page.
async fn reset_password(Path(token): Path<String>) -> Response {
    match mail_token(&token) {
        Some(t) => axum::response::Redirect::to(&format!("/#/reset-password/{t}")).into_response(),
        None => ApiError::NotFound.into_response(),
    }
}

/// An invite link (`<Site_Url>/invite/<token>`): the client joins the room once
/// the person is logged in.
async fn invite(Path(token): Path<String>) -> Response {
    let valid =
        !token.is_empty() && token.len() <= 64 && token.bytes().all(|b| b.is_ascii_alphanumeric());
    if valid {
        axum::response::Redirect::to(&format!("/#/invite/{token}")).into_response()
    } else {
        ApiError::NotFound.into_response()
    }
}

/// The verification link of the e-mail: verifies, then opens the client.
async fn verify_email(
    axum::extract::State(state): axum::extract::State<AppState>,
    Path(token): Path<String>,
) -> Response {
    let Some(token) = mail_token(&token) else {
        return ApiError::NotFound.into_response();
    };
    match state.chat.verify_email(token).await {
        Ok(_) => axum::response::Redirect::to("/#/").into_response(),
        Err(e) => {
            tracing::info!(error = %e, "e-mail verification link refused");
            (
                StatusCode::BAD_REQUEST,
                [(CONTENT_TYPE, "text/plain; charset=utf-8")],
                "This verification link has expired or is not valid. Ask for a new one.",
            )
                .into_response()
        }
    }
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers).unwrap_or_else(|e| e.into_response())
}

async fn favicon(headers: HeaderMap) -> Response {
    serve("favicon.svg", &headers).unwrap_or_else(|e| e.into_response())
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    if name == "index.html" {
        return ApiError::NotFound.into_response();
    }
    serve(&name, &headers).unwrap_or_else(|e| e.into_response())
}

fn serve(name: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let idx = ASSETS
        .iter()
        .position(|a| a.name == name)
        .ok_or(ApiError::NotFound)?;
    let asset = &ASSETS[idx];
    let etag = &etags()[idx];
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim() == etag.to_str().unwrap_or(""))
        });
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = asset.body.into_response();
        r.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
        r
    };
    let h = resp.headers_mut();
    h.insert(ETAG, etag.clone());
    // Revalidate every time: the names are stable across releases, the ETag is not.
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    Ok(resp)
}
