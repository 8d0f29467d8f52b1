//! File uploads over REST as Rocket.Chat has them: `rooms.media` + `rooms.mediaConfirm`,
//! the one-call `rooms.upload`, the rooms' file listings, and the download route
//! `GET /file-upload/:fileId/:name`.
//!
//! Uploads stream from the multipart body into the storage (no body limit on these
//! routes: `FileUpload_MaxFileSize` is enforced while streaming).

use std::io;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequestParts, Multipart, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Value};

use super::super::error::{ApiError, ApiResult};
use super::super::extract::{Auth, JsonBody, Params};
use super::super::AppState;
use super::{expect_kind, ok, params_room_ref, rest};
use crate::chat::files::{file_path, inline_safe, Confirm};
use crate::chat::settings::ChangeClient;
use crate::chat::ChatError;
use crate::files::{ByteRange, ByteStream};
use crate::store::uploads::Upload;
use crate::store::{RoomType, User};
use crate::wire;

/// The upload routes under `/api/v1` (no request body limit).
pub fn routes() -> Router<AppState> {
    let unlimited = axum::extract::DefaultBodyLimit::disable;
    Router::new()
        .route("/rooms.media/{rid}", post(media).layer(unlimited()))
        .route(
            "/rooms.upload/{rid}",
            post(upload_one_call).layer(unlimited()),
        )
        .route("/rooms.mediaConfirm/{rid}/{file_id}", post(media_confirm))
        .route("/channels.files", get(files_of::<{ RoomKind::CHANNEL }>))
        .route("/groups.files", get(files_of::<{ RoomKind::GROUP }>))
        .route("/im.files", get(files_of::<{ RoomKind::DIRECT }>))
        .route("/dm.files", get(files_of::<{ RoomKind::DIRECT }>))
        .route("/files.migrate", post(migrate))
}

/// The download routes (outside `/api/v1`); `/ufs/:store/:fileId/:name` is the
/// older form Rocket.Chat still serves (the store's name is not needed here).
pub fn download_routes() -> Router<AppState> {
    Router::new()
        .route("/file-upload/{file_id}", get(download_unnamed))
        .route("/file-upload/{file_id}/{name}", get(download))
        .route("/ufs/{store}/{file_id}/{name}", get(download_ufs))
}

struct RoomKind;
impl RoomKind {
    const CHANNEL: u8 = 0;
    const GROUP: u8 = 1;
    const DIRECT: u8 = 2;
}

/// Streams the multipart field `file` into an unconfirmed upload; the other fields
/// (before and after it) are returned as text.
async fn receive(
    state: &AppState,
    user: &User,
    rid: &str,
    mut multipart: Multipart,
) -> Result<(Upload, serde_json::Map<String, Value>), ApiError> {
    let mut fields = serde_json::Map::new();
    let mut upload: Option<Upload> = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return Err(ApiError::BadBody(format!("Invalid multipart body: {e}"))),
        };
        let name = field.name().unwrap_or("").to_string();
        // As Rocket.Chat's busboy limits: one file part, and only under `file`.
        let refusal = match (field.file_name().is_some(), name == "file") {
            (true, false) => Some(ChatError::refused("invalid-field", "")),
            (true, true) if upload.is_some() => Some(ChatError::failure(
                "error-too-many-files",
                "Just 1 file is allowed",
            )),
            _ => None,
        };
        if let Some(e) = refusal {
            drop(field);
            drain(&mut multipart).await;
            return Err(refuse_multipart(state, upload, e).await);
        }
        if name != "file" {
            let text = field
                .text()
                .await
                .map_err(|e| ApiError::BadBody(format!("Invalid multipart field {name}: {e}")))?;
            if text.len() <= 64 * 1024 {
                fields.insert(name, Value::String(text));
            }
            continue;
        }
        let file_name = field.file_name().unwrap_or("file").to_string();
        let content_type = field
            .content_type()
            .map(str::to_string)
            .filter(|t| t.contains('/'))
            .unwrap_or_else(|| "application/octet-stream".into())
            .to_ascii_lowercase();
        // The field borrows the body: a channel carries its chunks to the storage,
        // which reads them as they arrive (a bounded buffer of 4 chunks).
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(4);
        let body: ByteStream = Box::pin(futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        let mut field = field;
        let pump = async move {
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        if tx.send(Ok(chunk)).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                        break;
                    }
                }
            }
        };
        let store = state
            .chat
            .upload_file(user, rid, &file_name, &content_type, body);
        let ((), stored) = tokio::join!(pump, store);
        upload = Some(stored?);
    }
    let upload = upload.ok_or_else(|| {
        ApiError::Chat(ChatError::refused(
            "invalid-field",
            "The multipart field \"file\" is required",
        ))
    })?;
    Ok((upload, fields))
}

/// The most of a refused multipart body read before answering.
const REFUSED_BODY_DRAIN: usize = 64 * 1024 * 1024;

/// Reads what is left of a refused body (up to [`REFUSED_BODY_DRAIN`]): answering
/// while the client still writes resets the connection under it, and it sees a
/// broken pipe instead of the refusal.
async fn drain(multipart: &mut Multipart) {
    let mut left = REFUSED_BODY_DRAIN;
    while let Ok(Some(mut field)) = multipart.next_field().await {
        while let Ok(Some(chunk)) = field.chunk().await {
            left = left.saturating_sub(chunk.len());
            if left == 0 {
                return;
            }
        }
    }
}

/// Refuses a multipart body, removing the file already stored from it.
async fn refuse_multipart(state: &AppState, stored: Option<Upload>, e: ChatError) -> ApiError {
    if let Some(upload) = stored {
        state.chat.discard_upload(&upload).await;
    }
    e.into()
}

/// `POST /api/v1/rooms.media/:rid` → `{file: {_id, url}}`.
async fn media(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(rid): Path<String>,
    multipart: Multipart,
) -> ApiResult {
    let (upload, _) = receive(&state, &session.user, &rid, multipart).await?;
    ok(json!({"file": {"_id": upload.id, "url": file_path(&upload)}}))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct ConfirmBody {
    msg: Option<String>,
    description: Option<String>,
    tmid: Option<String>,
    file_name: Option<String>,
    custom_fields: Option<Value>,
}

/// `POST /api/v1/rooms.mediaConfirm/:rid/:fileId` → `{message}`.
async fn media_confirm(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path((rid, file_id)): Path<(String, String)>,
    JsonBody(body): JsonBody<ConfirmBody>,
) -> ApiResult {
    let confirm = Confirm {
        msg: body.msg.unwrap_or_default(),
        description: body.description,
        tmid: body.tmid,
        file_name: body.file_name,
        custom_fields: body.custom_fields.filter(|v| !v.is_null()),
    };
    let (_, message) = state
        .chat
        .confirm_upload(&session.user, &rid, &file_id, confirm)
        .await?;
    ok(json!({"message": rest(&message)}))
}

/// `POST /api/v1/rooms.upload/:rid`: upload and post in one call (fields `msg`,
/// `description`, `tmid` beside `file`).
async fn upload_one_call(
    State(state): State<AppState>,
    Auth(session): Auth,
    Path(rid): Path<String>,
    multipart: Multipart,
) -> ApiResult {
    let (upload, fields) = receive(&state, &session.user, &rid, multipart).await?;
    let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_string);
    // `customFields` arrives as a form field holding JSON.
    let custom_fields = match text("customFields").map(|raw| serde_json::from_str::<Value>(&raw)) {
        None => None,
        Some(Ok(fields)) => Some(fields),
        Some(Err(e)) => {
            state.chat.discard_upload(&upload).await;
            return Err(ChatError::invalid(format!("customFields is not valid JSON: {e}")).into());
        }
    };
    let confirm = Confirm {
        msg: text("msg").unwrap_or_default(),
        description: text("description"),
        tmid: text("tmid"),
        file_name: None,
        custom_fields,
    };
    let confirmed = state
        .chat
        .confirm_upload(&session.user, &rid, &upload.id, confirm)
        .await;
    match confirmed {
        Ok((_, message)) => ok(json!({"message": rest(&message)})),
        Err(e) => {
            // Not posted: the file goes now rather than at the sweep.
            state.chat.discard_upload(&upload).await;
            Err(e.into())
        }
    }
}

/// `channels.files`, `groups.files`, `im.files`: a room's confirmed files.
async fn files_of<const K: u8>(
    State(state): State<AppState>,
    Auth(session): Auth,
    params: Params,
) -> ApiResult {
    let page = params.page()?;
    let kind = match K {
        RoomKind::CHANNEL => RoomType::Channel,
        RoomKind::GROUP => RoomType::Group,
        _ => RoomType::Direct,
    };
    let name = params.name_filter()?;
    let (room, listing) = state
        .chat
        .room_files(
            &session.user,
            params_room_ref(&params)?,
            name.as_deref(),
            page,
        )
        .await?;
    expect_kind(&room, kind)?;
    let files: Vec<Value> = listing.items.iter().map(file_json).collect();
    ok(json!({
        "files": files,
        "count": files.len(),
        "offset": page.offset,
        "total": listing.total,
    }))
}

#[derive(Deserialize)]
struct MigrateBody {
    to: String,
    batch: Option<u64>,
}

/// `POST /api/v1/files.migrate` `{to, batch}` (Palaver's own; `palaver files
/// migrate` calls it until nothing remains): copies up to `batch` files (default
/// 20) to the `to` backend, verified; once all are there, copies the app packages
/// (verified) and switches the storage.
async fn migrate(
    State(state): State<AppState>,
    Auth(session): Auth,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<MigrateBody>,
) -> ApiResult {
    let client = ChangeClient {
        ip: Some(peer.ip().to_string()),
        useragent: headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    };
    // Read before any switch: the storage packages not cached here come from (a
    // broken one is no reason to refuse leaving it).
    let source = state.chat.file_storage().ok();
    let mut step = state
        .chat
        .migrate_files(&session.user, &body.to, body.batch.unwrap_or(20))
        .await?;
    let mut packages = 0;
    if step.remaining == 0 {
        // Every file is there: the app packages too, then the switch, then the
        // packages again for an install that wrote to the old storage meanwhile.
        let target = state.chat.migration_storage(&body.to)?;
        packages += state
            .apps
            .copy_packages_to(source.as_ref(), &target)
            .await?;
        step.switched = state
            .chat
            .switch_storage(&session.user, client, &body.to)
            .await?;
        if step.switched {
            packages += state
                .apps
                .copy_packages_to(source.as_ref(), &target)
                .await?;
        }
    }
    ok(json!({
        "storageType": step.storage_type,
        "migrated": step.migrated,
        "remaining": step.remaining,
        "packages": packages,
        "switched": step.switched,
    }))
}

/// An upload as Rocket.Chat lists it.
pub(super) fn file_json(u: &Upload) -> Value {
    let path = file_path(u);
    let mut v = json!({
        "_id": u.id,
        "name": u.name,
        "size": u.size,
        "type": u.content_type,
        "rid": u.rid,
        "userId": u.user_id,
        "store": "Uploads",
        "complete": true,
        "uploading": false,
        "progress": 1,
        "extension": u.name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default(),
        "typeGroup": u.content_type.split('/').next().unwrap_or(""),
        "uploadedAt": wire::iso(u.uploaded_at.0),
        "_updatedAt": wire::iso(u.uploaded_at.0),
        "url": path,
        "path": path,
        "user": {"_id": u.user_id, "username": u.username},
    });
    if let Some(d) = &u.description {
        v["description"] = json!(d);
    }
    if let Some(dim) = &u.dimensions {
        v["identify"] = json!({"size": {"width": dim.width, "height": dim.height}});
    }
    v
}

/// Who is downloading: `X-User-Id`/`X-Auth-Token`, the `rc_uid`/`rc_token` cookies,
/// or the `rc_uid`/`rc_token` query parameters; `None` when no credentials came.
async fn downloader(parts: &mut Parts, state: &AppState) -> Result<Option<User>, ApiError> {
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let param = |k: &str| {
        query
            .iter()
            .find(|(key, v)| key == k && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    // Credentials that name no session count as none: Rocket.Chat answers both
    // with the same 403.
    if let (Some(uid), Some(token)) = (param("rc_uid"), param("rc_token")) {
        return match state.chat.session_for_token(&token, Some(&uid)).await {
            Ok(session) => Ok(Some(session.user)),
            Err(ChatError::Unauthorized(_)) => Ok(None),
            Err(e) => Err(e.into()),
        };
    }
    match Auth::from_request_parts(parts, state).await {
        Ok(Auth(session)) => Ok(Some(session.user)),
        Err(ApiError::Chat(ChatError::Unauthorized(_))) => Ok(None),
        Err(e) => Err(e),
    }
}

async fn download_unnamed(
    State(state): State<AppState>,
    Path(file_id): Path<String>,
    request: Request,
) -> Response {
    serve_file(state, file_id, request).await
}

async fn download(
    State(state): State<AppState>,
    Path((file_id, _name)): Path<(String, String)>,
    request: Request,
) -> Response {
    serve_file(state, file_id, request).await
}

async fn download_ufs(
    State(state): State<AppState>,
    Path((_store, file_id, _name)): Path<(String, String, String)>,
    request: Request,
) -> Response {
    serve_file(state, file_id, request).await
}

/// The most of a (pointless) request body a download reads before answering.
const DOWNLOAD_BODY_DRAIN: usize = 1024 * 1024;

async fn serve_file(state: AppState, file_id: String, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    // A GET may still carry a body; answering before it was read resets the
    // connection under a client still writing it (it sees EPIPE, not our answer).
    let _ = axum::body::to_bytes(body, DOWNLOAD_BODY_DRAIN).await;
    match try_serve_file(&state, &file_id, &mut parts).await {
        Ok(r) => r,
        Err(e) => {
            let mut r = e.into_response();
            r.headers_mut().insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            r
        }
    }
}

async fn try_serve_file(
    state: &AppState,
    file_id: &str,
    parts: &mut Parts,
) -> Result<Response, ApiError> {
    let user = downloader(parts, state).await?;
    let upload = state.chat.readable_upload(user.as_ref(), file_id).await?;
    let range = match parse_range(&parts.headers, upload.size) {
        Ok(r) => r,
        Err(()) => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", upload.size)) {
                r.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(r);
        }
    };
    let read = state.chat.open_upload(&upload, range).await?;
    let mut response = Response::new(Body::from_stream(read.body));
    let headers = response.headers_mut();
    let inline = inline_safe(&upload.content_type);
    let content_type = if inline {
        upload.content_type.clone()
    } else {
        // Anything not shown inline is served as opaque bytes.
        "application/octet-stream".to_string()
    };
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox"),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000"),
    );
    let disposition = format!(
        "{}; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        url::form_urlencoded::byte_serialize(upload.name.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    match range {
        Some(r) => {
            *response.status_mut() = StatusCode::PARTIAL_CONTENT;
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(r.len()));
            if let Ok(v) =
                HeaderValue::from_str(&format!("bytes {}-{}/{}", r.start, r.end, upload.size))
            {
                headers.insert(header::CONTENT_RANGE, v);
            }
        }
        None => {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(upload.size));
        }
    }
    Ok(response)
}

/// One `Range: bytes=…` range resolved against `size` (several ranges: the whole
/// file, as servers may); `Err` when it cannot be satisfied.
fn parse_range(headers: &HeaderMap, size: u64) -> Result<Option<ByteRange>, ()> {
    let Some(value) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = (start.trim(), end.trim());
    let range = if start.is_empty() {
        // The last `end` bytes.
        let n: u64 = end.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        ByteRange {
            start: size.saturating_sub(n),
            end: size - 1,
        }
    } else {
        let start: u64 = start.parse().map_err(|_| ())?;
        let end = if end.is_empty() {
            size.saturating_sub(1)
        } else {
            end.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Err(());
        }
        ByteRange { start, end }
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(v: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        parse_range(&h, size).map(|r| r.map(|r| (r.start, r.end)))
    }

    #[test]
    fn ranges() {
        assert_eq!(range("bytes=0-9", 100), Ok(Some((0, 9))));
        assert_eq!(range("bytes=90-", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=-10", 100), Ok(Some((90, 99))));
        assert_eq!(range("bytes=50-500", 100), Ok(Some((50, 99))));
        assert_eq!(range("bytes=100-", 100), Err(()));
        assert_eq!(range("bytes=5-2", 100), Err(()));
        assert_eq!(range("bytes=0-1,5-6", 100), Ok(None));
        assert_eq!(range("items=0-1", 100), Ok(None));
    }
}
