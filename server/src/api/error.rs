//! The one place errors become HTTP responses, in Rocket.Chat's envelopes.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::apps::AppsError;
use crate::chat::ChatError;
use crate::store::{StoreError, Ts};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Chat(#[from] ChatError),
    /// The body is not the JSON the endpoint takes.
    #[error("{0}")]
    BadBody(String),
    /// Rocket.Chat's `API.v1.failure(message)` where clients also read an
    /// `errorType`: the message as is, no `[type]` suffix.
    #[error("{1}")]
    Failure(&'static str, String),
    #[error("request body over {0} bytes")]
    TooLarge(usize),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Apps(#[from] crate::apps::AppsError),
    /// A cookie-authenticated request failed the cross-site checks.
    #[error(transparent)]
    Csrf(#[from] super::session_cookie::CsrfRefusal),
}

pub type ApiResult = Result<Response, ApiError>;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        ApiError::Chat(ChatError::Store(e))
    }
}

/// An error response: `body` (Rocket.Chat's error envelope) with `status`.
pub(crate) fn envelope(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::BadBody(msg) => envelope(
                StatusCode::BAD_REQUEST,
                json!({"success": false, "error": msg, "errorType": "invalid-params"}),
            ),
            ApiError::Failure(error_type, msg) => envelope(
                StatusCode::BAD_REQUEST,
                json!({"success": false, "error": msg, "errorType": error_type}),
            ),
            ApiError::TooLarge(limit) => {
                let mut resp = envelope(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    json!({
                        "success": false,
                        "error": format!("The request body is larger than {limit} bytes"),
                        "errorType": "error-request-too-large",
                    }),
                );
                // The rest of the body was not read: the connection cannot be reused.
                resp.headers_mut()
                    .insert("connection", HeaderValue::from_static("close"));
                resp
            }
            ApiError::NotFound => envelope(
                StatusCode::NOT_FOUND,
                json!({"success": false, "error": "Not found", "errorType": "error-not-found"}),
            ),
            ApiError::Csrf(e) => envelope(
                StatusCode::FORBIDDEN,
                json!({"success": false, "error": e.to_string(), "errorType": "error-csrf"}),
            ),
            ApiError::Chat(e) => chat_error_response(e),
            ApiError::Apps(e) => apps_error_response(e),
        }
    }
}

fn apps_error_response(e: AppsError) -> Response {
    let e = match e {
        AppsError::Chat(inner) => return chat_error_response(inner),
        other => other,
    };
    if let AppsError::PermissionsGrew { added, removed } = &e {
        return envelope(
            StatusCode::BAD_REQUEST,
            json!({
                "success": false,
                "error": e.to_string(),
                "errorType": "error-app-permissions-changed",
                "permissionDiff": {"added": added, "removed": removed},
            }),
        );
    }
    let (status, error_type) = match &e {
        AppsError::Chat(_) => (StatusCode::INTERNAL_SERVER_ERROR, "error-internal"),
        AppsError::NotInstalled(_) | AppsError::NotFound | AppsError::NotInMarketplace(_) => {
            (StatusCode::NOT_FOUND, "error-app-not-found")
        }
        AppsError::Grant(_) => (StatusCode::BAD_REQUEST, "error-app-grant-invalid"),
        AppsError::Disabled(_) => (StatusCode::SERVICE_UNAVAILABLE, "error-app-disabled"),
        AppsError::Fault { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "error-app-fault"),
        AppsError::AppError { .. } => (StatusCode::BAD_REQUEST, "error-app-error"),
        AppsError::AlreadyInstalled(_) => (StatusCode::BAD_REQUEST, "error-app-already-installed"),
        AppsError::Clash(_) => (StatusCode::BAD_REQUEST, "error-app-clash"),
        AppsError::Package(_) | AppsError::Manifest(_) | AppsError::Component(_) => {
            (StatusCode::BAD_REQUEST, "error-app-package-invalid")
        }
        AppsError::Invalid(_) | AppsError::PermissionsGrew { .. } => {
            (StatusCode::BAD_REQUEST, "error-app-invalid")
        }
        AppsError::Store(StoreError::Full(_)) => {
            (StatusCode::INSUFFICIENT_STORAGE, "error-storage-full")
        }
        AppsError::Store(_) | AppsError::Io(_) => {
            tracing::error!(error = %e, "apps engine failure while serving a request");
            (StatusCode::INTERNAL_SERVER_ERROR, "error-internal")
        }
    };
    envelope(
        status,
        json!({"success": false, "error": e.to_string(), "errorType": error_type}),
    )
}

fn chat_error_response(e: ChatError) -> Response {
    let error_type = e.error_type();
    match e {
        ChatError::Failure { message, .. } => envelope(
            StatusCode::BAD_REQUEST,
            json!({"success": false, "error": message, "errorType": error_type}),
        ),
        ChatError::InvalidParams(msg) => envelope(
            StatusCode::BAD_REQUEST,
            json!({"success": false, "error": msg, "errorType": error_type}),
        ),
        ChatError::Refused { message, .. } => envelope(
            StatusCode::BAD_REQUEST,
            json!({
                "success": false,
                // Meteor's `Error.message`: `reason [error]`, or `[error]` without a reason.
                "error": if message.is_empty() {
                    format!("[{error_type}]")
                } else {
                    format!("{message} [{error_type}]")
                },
                "errorType": error_type,
            }),
        ),
        ChatError::Forbidden(msg) if msg.is_empty() => envelope(
            StatusCode::FORBIDDEN,
            json!({"success": false, "error": "unauthorized"}),
        ),
        ChatError::Forbidden(msg) => envelope(
            StatusCode::FORBIDDEN,
            json!({
                "success": false,
                "error": format!("{msg} [error-unauthorized]"),
                "errorType": "error-unauthorized",
            }),
        ),
        ChatError::Unauthorized(_) => envelope(
            StatusCode::UNAUTHORIZED,
            // Rocket.Chat's `API.v1.unauthorized()`: no `success` field.
            json!({"status": "error", "message": "You must be logged in to do this."}),
        ),
        ChatError::RateLimited {
            limit,
            remaining,
            reset_ms,
        } => {
            let wait = ((reset_ms - Ts::now().0).max(0) + 999) / 1000;
            let mut resp = envelope(
                StatusCode::TOO_MANY_REQUESTS,
                json!({
                    "success": false,
                    "error": format!("Error, too many requests. Please slow down. You must wait {wait} seconds before trying this endpoint again. [error-too-many-requests]"),
                    "errorType": error_type,
                }),
            );
            let headers = resp.headers_mut();
            for (name, value) in [
                ("x-ratelimit-limit", limit as i64),
                ("x-ratelimit-remaining", remaining as i64),
                ("x-ratelimit-reset", reset_ms),
                ("retry-after", wait),
            ] {
                headers.insert(name, HeaderValue::from(value));
            }
            resp
        }
        ChatError::Busy { retry_after_secs } => {
            let mut resp = envelope(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({
                    "success": false,
                    "error": format!("The server is busy. Please try again in {retry_after_secs} seconds. [{error_type}]"),
                    "errorType": error_type,
                }),
            );
            resp.headers_mut()
                .insert("retry-after", HeaderValue::from(retry_after_secs));
            resp
        }
        ChatError::PasswordPolicy(violations) => envelope(
            StatusCode::BAD_REQUEST,
            json!({
                "success": false,
                "error": format!("{} [{error_type}]", ChatError::PasswordPolicy(Vec::new())),
                "errorType": error_type,
                "details": violations
                    .iter()
                    .map(|v| json!({"error": v.error, "message": v.message}))
                    .collect::<Vec<_>>(),
            }),
        ),
        ChatError::Store(StoreError::Conflict(what)) => envelope(
            StatusCode::BAD_REQUEST,
            json!({
                "success": false,
                "error": format!("Duplicate {what} [{error_type}]"),
                "errorType": error_type,
            }),
        ),
        // Logged once per episode where it is detected (store::full), not here.
        ChatError::Store(StoreError::Full(_)) => envelope(
            StatusCode::INSUFFICIENT_STORAGE,
            json!({
                "success": false,
                "error": "The server's storage is full: nothing can be saved until an administrator frees space. [error-storage-full]",
                "errorType": error_type,
            }),
        ),
        ChatError::Store(StoreError::Backend(detail)) => {
            tracing::error!(error = %detail, "storage failure while serving a request");
            envelope(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"success": false, "error": "Internal server error", "errorType": error_type}),
            )
        }
        ChatError::Files(e) => {
            use crate::files::FilesError;
            let status = match &e {
                FilesError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                FilesError::NotFound(_) => StatusCode::NOT_FOUND,
                FilesError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
                FilesError::InvalidKey { .. } | FilesError::Body(_) => StatusCode::BAD_REQUEST,
                FilesError::Damaged { .. }
                | FilesError::Denied { .. }
                | FilesError::Backend { .. } => {
                    // The detail is for the operator; the client learns only that it failed.
                    tracing::error!(error = %e, "file storage failure while serving a request");
                    return envelope(
                        StatusCode::BAD_GATEWAY,
                        json!({"success": false, "error": "File storage failure", "errorType": error_type}),
                    );
                }
            };
            envelope(
                status,
                json!({"success": false, "error": e.to_string(), "errorType": error_type}),
            )
        }
    }
}
