//! The chat layer's typed errors. Each carries the Rocket.Chat `errorType` it is
//! reported as; the HTTP and realtime edges map them once into their envelopes.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ChatError {
    /// Request validation failed (`invalid-params`).
    #[error("{0}")]
    InvalidParams(String),
    /// A domain refusal with Rocket.Chat's error type, e.g. `error-room-not-found`.
    #[error("{message}")]
    Refused {
        error_type: &'static str,
        message: String,
    },
    /// Rocket.Chat's plain `Error` (not a `Meteor.Error`): REST shows the message
    /// alone, without the `[type]` suffix; `error_type` is still given to clients.
    #[error("{message}")]
    Failure {
        error_type: &'static str,
        message: String,
    },
    /// Authenticated, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// Not (or no longer) authenticated.
    #[error("{0}")]
    Unauthorized(String),
    /// Too many attempts; retry after `reset_ms` (epoch ms).
    #[error("Too many requests, try again later")]
    RateLimited {
        limit: u32,
        remaining: u32,
        reset_ms: i64,
    },
    /// Expensive work (password hashing) is at capacity; retry after a moment.
    #[error("The server is busy, try again in {retry_after_secs} seconds")]
    Busy { retry_after_secs: u64 },
    /// A password the workspace's password policy refuses, with every rule it breaks.
    #[error("The password provided does not meet the server's password policy.")]
    PasswordPolicy(Vec<super::password_policy::Violation>),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The file storage refused or failed (too large, missing, unreachable).
    #[error(transparent)]
    Files(crate::files::FilesError),
}

pub type ChatResult<T> = Result<T, ChatError>;

impl ChatError {
    pub fn refused(error_type: &'static str, message: impl Into<String>) -> ChatError {
        ChatError::Refused {
            error_type,
            message: message.into(),
        }
    }
    pub fn failure(error_type: &'static str, message: impl Into<String>) -> ChatError {
        ChatError::Failure {
            error_type,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> ChatError {
        ChatError::InvalidParams(message.into())
    }
    /// A request that fails Rocket.Chat's parameter schema (its `validateParams`):
    /// a Meteor error of type `invalid-params`, so the message carries the
    /// `[invalid-params]` suffix.
    pub fn schema(message: impl Into<String>) -> ChatError {
        ChatError::refused("invalid-params", message)
    }
    pub fn room_not_found() -> ChatError {
        ChatError::refused(
            "error-room-not-found",
            "The required \"roomId\" or \"roomName\" param provided does not match any channel",
        )
    }
    pub fn user_not_found() -> ChatError {
        ChatError::refused("error-invalid-user", "The required user was not found")
    }
    pub fn message_not_found() -> ChatError {
        ChatError::refused("error-message-not-found", "The message was not found")
    }
    /// Rocket.Chat's bare `API.v1.unauthorized()`: 403 with `error: "unauthorized"`
    /// (an endpoint's own permission check, as opposed to a route's
    /// `permissionsRequired`, which is [`ChatError::not_allowed`]).
    pub fn unauthorized_bare() -> ChatError {
        ChatError::Forbidden(String::new())
    }
    pub fn not_allowed() -> ChatError {
        ChatError::Forbidden("User does not have the permissions required for this action".into())
    }

    /// Rocket.Chat's `errorType` for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            ChatError::InvalidParams(_) => "invalid-params",
            ChatError::Refused { error_type, .. } | ChatError::Failure { error_type, .. } => {
                error_type
            }
            ChatError::Forbidden(_) => "error-not-allowed",
            ChatError::Unauthorized(_) => "error-unauthorized",
            ChatError::RateLimited { .. } => "error-too-many-requests",
            ChatError::Busy { .. } => "error-server-busy",
            ChatError::PasswordPolicy(_) => "error-password-policy-not-met",
            ChatError::Store(StoreError::Conflict(_)) => "error-duplicate",
            ChatError::Store(StoreError::Backend(_)) => "error-internal",
            ChatError::Store(StoreError::Full(_)) => "error-storage-full",
            ChatError::Files(e) => files_error_type(e),
        }
    }
}

/// Rocket.Chat's error type for a file storage error.
fn files_error_type(e: &crate::files::FilesError) -> &'static str {
    use crate::files::FilesError;
    match e {
        FilesError::TooLarge { .. } => "error-file-too-large",
        FilesError::NotFound(_) => "error-file-not-found",
        FilesError::RangeNotSatisfiable { .. } => "error-range-not-satisfiable",
        FilesError::InvalidKey { .. } => "invalid-file",
        FilesError::Body(_) => "error-upload-interrupted",
        FilesError::Damaged { .. } | FilesError::Denied { .. } | FilesError::Backend { .. } => {
            "error-file-storage"
        }
    }
}
