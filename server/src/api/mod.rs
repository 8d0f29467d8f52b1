//! HTTP: the Rocket.Chat-compatible REST API (`/api/v1`), `/api/info`, the
//! operator endpoints (`/livez`, `/readyz`, `/metrics`), and the JSON 404 for
//! everything else.

pub mod app_endpoints;
pub mod apps;
pub mod edge;
pub mod error;
pub mod extract;
mod oauth_web;
pub mod ops;
mod saml_web;
pub mod session_cookie;
mod v1;

pub use edge::{AppsOrigin, EdgeOptions};

use std::borrow::Cow;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::Request;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;

use crate::apps::marketplace::Marketplace;
use crate::apps::AppsEngine;
use crate::chat::Chat;
use error::ApiError;

/// The setting holding the Rocket.Chat server version Palaver reports.
pub const REPORTED_VERSION_SETTING: &str = "Palaver_RocketChat_Version";

/// Client versions Rocket.Chat reports as the oldest it serves (`minimumClientVersions`).
const MINIMUM_CLIENT_VERSIONS: (&str, &str) = ("3.9.6", "4.39.0");

#[derive(Clone)]
pub struct AppState {
    pub chat: Arc<Chat>,
    pub apps: Arc<AppsEngine>,
    pub marketplace: Arc<Marketplace>,
    pub max_body_bytes: usize,
    /// Apps origin and cookie settings of the HTTP edge.
    pub edge: Arc<EdgeOptions>,
    /// The realtime hub, kept here so that shutdown can close its sockets.
    pub realtime: Arc<crate::realtime::Realtime>,
    /// Readiness and request metrics (`/readyz`, `/metrics`).
    pub ops: Arc<ops::Ops>,
    /// The delivery queue (admin API, metrics).
    pub outbox: Arc<crate::worker::outbox::Outbox>,
    /// LDAP sign-in and sync.
    pub ldap: Arc<crate::identity::ldap::Ldap>,
    /// Push devices and sending (`push.*`).
    pub push: Arc<crate::notify::push::PushService>,
    /// The Matrix bridge, when enabled.
    pub matrix: Option<Arc<crate::bridges::matrix::MatrixBridge>>,
    /// The last lines of this instance's log (`stdout.queue`).
    pub server_log: crate::server_log::ServerLog,
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/info", get(info))
        .merge(ops::routes())
        .nest("/api/v1", v1::routes())
        .merge(v1::integrations::hook_routes())
        .merge(v1::files::download_routes())
        .merge(v1::avatars::image_routes())
        .merge(crate::realtime::routes_with(state.realtime.clone()))
        .merge(apps::routes(
            state.apps.config().package_limits.max_package_bytes + 64 * 1024,
        ))
        .merge(oauth_web::routes())
        .merge(saml_web::routes())
        .merge(crate::web::routes())
        .fallback(|| async { ApiError::NotFound })
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            tracing::error!("request handler panicked");
            let body = json!({"success": false, "error": "Internal server error", "errorType": "error-internal"});
            (axum::http::StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                tracing::debug_span!("http", method = %req.method(), path = %traced_path(req.uri().path()))
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.ops.clone(),
            ops::track,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.edge.clone(),
            edge::edge,
        ))
        .with_state(state)
}

/// The path as traces record it: a hook path carries the integration's secret token,
/// so only the integration id is kept (`/hooks/{id}/…`).
fn traced_path(path: &str) -> Cow<'_, str> {
    match path.strip_prefix("/hooks/") {
        Some(rest) => {
            let id = rest.split_once('/').map_or(rest, |(id, _)| id);
            Cow::Owned(format!("/hooks/{id}/…"))
        }
        None => Cow::Borrowed(path),
    }
}

/// Rocket.Chat's `/api/info`: the version (`major.minor` for anonymous callers, the
/// full one and `info` for admins, as Rocket.Chat shows holders of
/// `view-statistics`) and `minimumClientVersions`. No `supportedVersions`: that is a
/// token Rocket.Chat's cloud signs, so the apps ask the cloud themselves.
async fn info(
    axum::extract::State(state): axum::extract::State<AppState>,
    extract::MaybeAuth(session): extract::MaybeAuth,
) -> Json<serde_json::Value> {
    let version = state.chat.settings().string(REPORTED_VERSION_SETTING);
    let (desktop, mobile) = MINIMUM_CLIENT_VERSIONS;
    let mut body = json!({
        "version": major_minor(&version),
        "minimumClientVersions": {"desktop": desktop, "mobile": mobile},
        "success": true,
        "server": {"name": "palaver", "version": env!("CARGO_PKG_VERSION")},
    });
    let full = match &session {
        Some(s) => state
            .chat
            .has_permission(
                &s.user,
                crate::chat::permissions::Perm::VIEW_STATISTICS,
                None,
            )
            .await
            .unwrap_or(false),
        None => false,
    };
    if full {
        body["version"] = json!(version);
        body["info"] = json!({
            "version": version,
            "build": {"platform": std::env::consts::OS, "arch": std::env::consts::ARCH},
            "commit": {},
            "marketplaceApiVersion": "1.0.0",
        });
    }
    Json(body)
}

/// `8.4.0` → `8.4`, as Rocket.Chat hides the patch level from anonymous callers.
fn major_minor(version: &str) -> &str {
    match version.match_indices('.').nth(1) {
        Some((i, _)) => &version[..i],
        None => version,
    }
}

#[cfg(test)]
mod tests {
    use super::{major_minor, traced_path};

    #[test]
    fn anonymous_version_drops_the_patch_level() {
        assert_eq!(major_minor("8.4.0"), "8.4");
        assert_eq!(major_minor("8.4"), "8.4");
    }

    #[test]
    fn traces_leave_hook_tokens_out() {
        assert_eq!(traced_path("/hooks/abc/s3cret"), "/hooks/abc/…");
        assert_eq!(traced_path("/hooks/abc/user/s3cret/"), "/hooks/abc/…");
        assert_eq!(traced_path("/hooks/abc"), "/hooks/abc/…");
        assert_eq!(traced_path("/api/v1/me"), "/api/v1/me");
    }
}
