//! Avatars over HTTP as Rocket.Chat has them: `users.setAvatar` (multipart `image`,
//! or `avatarUrl`), `users.resetAvatar`, and `GET /avatar/:username`,
//! `/avatar/room/:rid` (`?size=`, `?format=png` for the initials), cached with ETags.

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{parse_json, read_body, Auth, JsonBody};
use super::super::AppState;
use super::ok;
use crate::chat::avatars::{AvatarImage, AvatarSource, AvatarTarget};
use crate::chat::ChatError;
use crate::media;

/// `users.setAvatar` and `users.resetAvatar` (under `/api/v1`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/users.setAvatar",
            post(set_avatar).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route("/users.resetAvatar", post(reset_avatar))
}

/// The avatar images (outside `/api/v1`).
pub fn image_routes() -> Router<AppState> {
    Router::new()
        .route("/avatar/room/{rid}", get(room_avatar))
        .route("/avatar/{username}", get(user_avatar))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SetAvatarBody {
    avatar_url: Option<String>,
    user_id: Option<String>,
    username: Option<String>,
}

fn target<'a>(user_id: Option<&'a str>, username: Option<&'a str>) -> AvatarTarget<'a> {
    match (
        user_id.filter(|s| !s.is_empty()),
        username.filter(|s| !s.is_empty()),
    ) {
        (Some(id), _) => AvatarTarget::Id(id),
        (None, Some(name)) => AvatarTarget::Username(name),
        (None, None) => AvatarTarget::Me,
    }
}

/// `POST /api/v1/users.setAvatar`: multipart `image` (with optional `userId` or
/// `username` fields), or a JSON `{avatarUrl, userId?, username?}`.
async fn set_avatar(State(state): State<AppState>, Auth(session): Auth, req: Request) -> ApiResult {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/"));
    if !multipart {
        let bytes = read_body(req, state.max_body_bytes).await?;
        let body: SetAvatarBody = parse_json(&bytes)?;
        let Some(url) = body.avatar_url.filter(|u| !u.trim().is_empty()) else {
            return Err(ApiError::Chat(ChatError::refused(
                "error-invalid-params",
                "The 'image' param is required",
            )));
        };
        state
            .chat
            .set_user_avatar(
                &session.user,
                target(body.user_id.as_deref(), body.username.as_deref()),
                AvatarSource::Url(url.trim().to_string()),
            )
            .await?;
        return ok(json!({}));
    }
    let mut form = Multipart::from_request(req, &state)
        .await
        .map_err(|e| ApiError::BadBody(format!("Invalid multipart body: {e}")))?;
    let limit = state.chat.avatar_max_bytes();
    let mut image: Option<(Vec<u8>, String)> = None;
    let mut fields = serde_json::Map::new();
    loop {
        let mut field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(ApiError::BadBody(format!("Invalid multipart body: {e}"))),
        };
        let name = field.name().unwrap_or("").to_string();
        if name == "image" && image.is_none() {
            let content_type = field
                .content_type()
                .unwrap_or("application/octet-stream")
                .to_string();
            let mut bytes = Vec::new();
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        if (bytes.len() + chunk.len()) as u64 > limit {
                            return Err(ApiError::Chat(ChatError::refused(
                                "error-file-too-large",
                                format!("The avatar is larger than the limit of {limit} bytes"),
                            )));
                        }
                        bytes.extend_from_slice(&chunk);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(ApiError::BadBody(format!("Invalid multipart body: {e}")))
                    }
                }
            }
            image = Some((bytes, content_type));
        } else {
            let text = field
                .text()
                .await
                .map_err(|e| ApiError::BadBody(format!("Invalid multipart field {name}: {e}")))?;
            if text.len() <= 4096 {
                fields.insert(name, Value::String(text));
            }
        }
    }
    let Some((bytes, content_type)) = image else {
        return Err(ApiError::Chat(ChatError::refused(
            "error-invalid-params",
            "The 'image' param is required",
        )));
    };
    let text = |k: &str| fields.get(k).and_then(Value::as_str);
    state
        .chat
        .set_user_avatar(
            &session.user,
            target(text("userId"), text("username")),
            AvatarSource::Image {
                bytes,
                content_type,
            },
        )
        .await?;
    ok(json!({}))
}

/// `POST /api/v1/users.resetAvatar` `{userId?, username?}`.
async fn reset_avatar(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<SetAvatarBody>,
) -> ApiResult {
    state
        .chat
        .reset_user_avatar(
            &session.user,
            target(body.user_id.as_deref(), body.username.as_deref()),
        )
        .await?;
    ok(json!({}))
}

#[derive(Deserialize, Default)]
struct AvatarQuery {
    size: Option<String>,
    format: Option<String>,
}

impl AvatarQuery {
    fn size(&self) -> Option<u32> {
        self.size
            .as_deref()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .filter(|s| *s > 0)
    }
}

/// `GET /avatar/:username` (`@name`: always the initials of `name`).
async fn user_avatar(
    State(state): State<AppState>,
    Path(username): Path<String>,
    Query(query): Query<AvatarQuery>,
    headers: HeaderMap,
) -> Response {
    let result = match username.strip_prefix('@') {
        Some(name) => Ok(AvatarImage::Initials {
            name: name.to_string(),
        }),
        None => state.chat.user_avatar(&username, query.size()).await,
    };
    respond(&state, result.map(Some), &query, &headers)
}

/// `GET /avatar/room/:rid`.
async fn room_avatar(
    State(state): State<AppState>,
    Path(rid): Path<String>,
    Query(query): Query<AvatarQuery>,
    headers: HeaderMap,
) -> Response {
    let result = state.chat.room_avatar(&rid, query.size()).await;
    respond(&state, result, &query, &headers)
}

fn respond(
    state: &AppState,
    result: Result<Option<AvatarImage>, ChatError>,
    query: &AvatarQuery,
    headers: &HeaderMap,
) -> Response {
    let avatar = match result {
        Ok(Some(a)) => a,
        Ok(None) => return StatusCode::NOT_FOUND.into_response(),
        Err(e) => return ApiError::Chat(e).into_response(),
    };
    let (bytes, content_type, etag) = match avatar {
        AvatarImage::Stored { image, etag } => {
            (image.bytes.clone(), image.content_type.to_string(), etag)
        }
        AvatarImage::Initials { name } => {
            let size = query.size().unwrap_or(200).clamp(16, 1024);
            let png = matches!(query.format.as_deref(), Some("png" | "jpg" | "jpeg"));
            let (bytes, content_type) = if png {
                match media::initials_png(&name, size) {
                    Ok(img) => (img.bytes, "image/png".to_string()),
                    Err(e) => {
                        return ApiError::Chat(ChatError::refused(
                            "error-image-processing",
                            e.to_string(),
                        ))
                        .into_response()
                    }
                }
            } else {
                (
                    media::initials_svg(&name, size).into_bytes(),
                    "image/svg+xml".to_string(),
                )
            };
            let etag = format!("i{}", hex::encode(&Sha256::digest(&bytes)[..12]));
            (bytes, content_type, etag)
        }
    };
    let etag = format!("\"{etag}\"");
    let cache_secs = state.chat.settings().int("Accounts_AvatarCacheTime").max(0);
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let len = bytes.len();
        let mut r = Response::new(Body::from(bytes));
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        if let Ok(v) = HeaderValue::from_str(&content_type) {
            r.headers_mut().insert(header::CONTENT_TYPE, v);
        }
        r
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={cache_secs}")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
    );
    response
}
