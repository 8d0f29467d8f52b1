//! `/api/apps`: the admin API of the apps engine (marketplace, install, status,
//! settings, logs, uninstall); the apps' own HTTP endpoints are in
//! [`super::app_endpoints`].

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::{ApiError, ApiResult};
use super::extract::{Auth, JsonBody, Params};
use super::AppState;
use crate::apps::engine::status;
use crate::apps::manifest::Manifest;
use crate::apps::marketplace::permission_views;
use crate::apps::AppsError;
use crate::chat::accounts::Session;
use crate::chat::permissions::Perm;
use crate::chat::ChatError;
use crate::store::apps::{log_level_rank, AppRecord};
use crate::wire;

pub fn routes(upload_limit: usize) -> Router<AppState> {
    Router::new()
        .route("/api/apps/marketplace", get(marketplace))
        .route(
            "/api/apps",
            get(list)
                .post(install)
                .layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/apps/{id}", get(one).delete(uninstall))
        .route(
            "/api/apps/{id}/update",
            post(update).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/api/apps/{id}/status", post(set_status))
        .route(
            "/api/apps/{id}/settings",
            get(settings).post(update_settings),
        )
        .route("/api/apps/{id}/logs", get(logs))
        .route("/api/apps/{id}/icon", get(icon))
        .merge(super::app_endpoints::routes())
}

fn ok(body: Value) -> ApiResult {
    Ok(Json(wire::success(body)).into_response())
}

/// The apps admin API needs `manage-apps`.
async fn require_manage_apps(state: &AppState, session: &Session) -> Result<(), ApiError> {
    Ok(state
        .chat
        .require_permission(&session.user, Perm::MANAGE_APPS, None)
        .await?)
}

/// An installed app as the admin API shows it.
pub fn app_view(record: &AppRecord, m: &Manifest) -> Value {
    json!({
        "id": record.id,
        "name": m.name,
        "version": record.version,
        "description": m.description,
        "author": m.author,
        "apiVersion": m.api_version,
        "status": record.status,
        "statusReason": record.status_reason,
        "enabled": status::is_enabled(&record.status),
        "permissions": permission_views(m),
        "permissionsGranted": record.granted,
        "settings": m.settings,
        "commands": m.commands,
        "endpoints": m.endpoints,
        "events": m.events,
        "essential": m.essential,
        "priority": m.priority,
        "botUserId": record.bot_user_id,
        "installedAt": wire::iso(record.installed_at.0),
        "updatedAt": wire::iso(record.updated_at.0),
    })
}

async fn marketplace(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    let apps = state.marketplace.list(&state.apps).await;
    ok(json!({ "apps": apps }))
}

async fn list(State(state): State<AppState>, Auth(session): Auth) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    let apps: Vec<Value> = state
        .apps
        .installed()
        .iter()
        .map(|(r, m)| app_view(r, m))
        .collect();
    ok(json!({ "apps": apps }))
}

async fn one(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    let (record, manifest) = state.apps.installed_app(&id)?;
    let mut view = app_view(&record, &manifest);
    view["readme"] = json!(state.apps.readme(&id)?);
    ok(json!({ "app": view }))
}

/// An installed app's icon, as Rocket.Chat serves it: no auth (clients show it in
/// message lists), 404 when the package has none.
async fn icon(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let Some(bytes) = state.apps.icon(&id)? else {
        return Err(AppsError::NotFound.into());
    };
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "public, max-age=300"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        bytes,
    )
        .into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct InstallBody {
    app_id: Option<String>,
    version: Option<String>,
    permissions_granted: Option<Vec<String>>,
    #[serde(default)]
    enable: bool,
}

/// Reads `permissionsGranted` from a form field: a JSON array or comma list.
fn grant_field(text: &str) -> Vec<String> {
    serde_json::from_str::<Vec<String>>(text).unwrap_or_else(|_| {
        text.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    })
}

/// The package of an install or update request: an upload (multipart `app`), or
/// the marketplace's by `appId` (and `version`); with the grant and `enable`.
async fn package_source(
    state: &AppState,
    req: Request,
    app_id: Option<&str>,
) -> Result<(Vec<u8>, Option<Vec<String>>, bool), ApiError> {
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (bytes, grant, enable) = if is_multipart {
        let mut form = Multipart::from_request(req, state)
            .await
            .map_err(|e| ApiError::BadBody(format!("invalid upload: {e}")))?;
        let (mut package, mut signature, mut grant, mut enable) = (None, None, None, false);
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| ApiError::BadBody(format!("invalid upload: {e}")))?
        {
            let name = field.name().unwrap_or_default().to_string();
            let data = field.bytes().await.map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge(state.apps.config().package_limits.max_package_bytes)
                } else {
                    ApiError::BadBody(format!("invalid upload field {name}: {e}"))
                }
            })?;
            match name.as_str() {
                "app" => package = Some(data.to_vec()),
                "signature" => signature = Some(data.to_vec()),
                "permissionsGranted" => grant = Some(grant_field(&String::from_utf8_lossy(&data))),
                "enable" => enable = matches!(&data[..], b"true" | b"1"),
                _ => {}
            }
        }
        let package = package.ok_or_else(|| {
            ApiError::BadBody("the upload needs an \"app\" field with the package".into())
        })?;
        check_upload_signature(state, &package, signature.as_deref())?;
        (package, grant, enable)
    } else {
        let JsonBody(body) = JsonBody::<InstallBody>::from_request(req, state).await?;
        let app_id = body
            .app_id
            .filter(|a| !a.is_empty())
            .or(app_id.map(str::to_string))
            .ok_or_else(|| ChatError::invalid("must have required property 'appId'"))?;
        let bytes = state
            .marketplace
            .package_for(&state.apps, &app_id, body.version.as_deref())
            .await?;
        (bytes, body.permissions_granted, body.enable)
    };
    Ok((bytes, grant, enable))
}

async fn install(State(state): State<AppState>, Auth(session): Auth, req: Request) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    let (bytes, grant, enable) = package_source(&state, req, None).await?;
    let record = match state.apps.install(&bytes, grant, enable).await {
        Ok(r) => r,
        // Installed, but enabling failed: report the app with its status.
        Err(AppsError::Invalid(reason)) if enable => {
            tracing::info!(reason, "installed app could not be enabled");
            let id = crate::apps::package::read(&bytes, &state.apps.config().package_limits)
                .map(|p| p.manifest.id)
                .unwrap_or_default();
            state.apps.installed_app(&id)?.0
        }
        Err(e) => return Err(e.into()),
    };
    let (record, manifest) = state.apps.installed_app(&record.id)?;
    ok(json!({ "app": app_view(&record, &manifest) }))
}

/// With `apps.require_signatures`, an uploaded package must come with a signature
/// by a trusted key (form field `signature`).
fn check_upload_signature(
    state: &AppState,
    package: &[u8],
    signature: Option<&[u8]>,
) -> Result<(), ApiError> {
    let cfg = state.apps.config();
    let Some(sig) = signature else {
        if cfg.require_signatures {
            return Err(AppsError::Invalid(
                "this server requires signed packages: upload a \"signature\" too".into(),
            )
            .into());
        }
        return Ok(());
    };
    let dir = tempfile_dir(cfg)?;
    let path = dir.join("upload.zip");
    std::fs::write(format!("{}.sig", path.display()), sig)
        .map_err(|e| AppsError::Io(e.to_string()))?;
    let result = crate::apps::marketplace::verify_signature(&path, package, &cfg.trusted_keys);
    let _ = std::fs::remove_dir_all(&dir);
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(AppsError::Invalid("the signature could not be read".into()).into()),
        Err(e) => Err(AppsError::Invalid(e).into()),
    }
}

fn tempfile_dir(cfg: &crate::apps::EngineConfig) -> Result<std::path::PathBuf, ApiError> {
    let dir = cfg
        .data_dir
        .join("apps")
        .join("uploads")
        .join(crate::chat::ids::new_id());
    std::fs::create_dir_all(&dir).map_err(|e| AppsError::Io(e.to_string()))?;
    Ok(dir)
}

async fn update(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
    req: Request,
) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    let (bytes, grant, _) = package_source(&state, req, Some(&id)).await?;
    let (record, added, removed) = state.apps.update(&id, &bytes, grant).await?;
    let (_, manifest) = state.apps.installed_app(&record.id)?;
    ok(json!({
        "app": app_view(&record, &manifest),
        "permissionDiff": {"added": added, "removed": removed},
    }))
}

#[derive(Deserialize)]
struct StatusBody {
    status: Option<String>,
}

async fn set_status(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<StatusBody>,
) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    let enable = match body.status.as_deref() {
        Some(status::MANUALLY_ENABLED) => true,
        Some(status::MANUALLY_DISABLED) => false,
        other => {
            return Err(ChatError::invalid(format!(
                "status must be \"manually_enabled\" or \"manually_disabled\", not {other:?}"
            ))
            .into())
        }
    };
    let record = state.apps.set_status(&id, enable).await?;
    ok(json!({ "status": record.status, "statusReason": record.status_reason }))
}

async fn settings(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    ok(json!({ "settings": state.apps.settings_view(&id)? }))
}

#[derive(Deserialize)]
struct SettingsBody {
    settings: Option<serde_json::Map<String, Value>>,
}

async fn update_settings(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<SettingsBody>,
) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    let values = body
        .settings
        .ok_or_else(|| ChatError::invalid("must have required property 'settings'"))?;
    state.apps.update_settings(&id, values).await?;
    let (record, _) = state.apps.installed_app(&id)?;
    ok(
        json!({ "settings": state.apps.settings_view(&id)?, "status": record.status, "statusReason": record.status_reason }),
    )
}

async fn logs(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
    params: Params,
) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    let page = params.page()?;
    let min = match params.get("level") {
        None => 0,
        Some(l @ ("debug" | "info" | "warn" | "error")) => log_level_rank(l),
        Some(other) => {
            return Err(ChatError::invalid(format!(
                "level must be debug, info, warn or error, not {other:?}"
            ))
            .into())
        }
    };
    let listing = state.apps.logs(&id, min, page).await?;
    let entries: Vec<Value> = listing
        .items
        .iter()
        .map(|e| {
            json!({
                "ts": wire::iso(e.ts.0),
                "level": e.level,
                "handler": e.handler,
                "message": e.message,
                "fault": e.fault,
            })
        })
        .collect();
    ok(json!({
        "logs": entries,
        "count": entries.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}

async fn uninstall(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(id): Path<String>,
) -> ApiResult {
    require_manage_apps(&state, &session).await?;
    state.apps.uninstall(&id).await?;
    ok(json!({}))
}
