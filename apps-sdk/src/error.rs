//! The SDK's error type, mirroring the contract's `error` variant.

use std::fmt;

use crate::bindings::palaver::apps::types::Error as WitError;

/// A `Result` whose error is the SDK's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a host call or a handler failed. The variants are those of the contract's
/// `error` variant, so an error converts losslessly both ways.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Error {
    /// The app was not granted the named permission (e.g. `message.write`,
    /// `networking`); the admin must grant it. The host also logs the refusal.
    PermissionDenied(String),
    /// The user, room, message, key or job does not exist (or the app may not see it).
    NotFound,
    /// The arguments were refused; the string says why. The SDK also uses it for
    /// values it cannot decode (bad JSON, a setting of the wrong type, …).
    Invalid(String),
    /// A limit was reached; the string names it (`persistence-keys`,
    /// `persistence-bytes`, `http-in-flight`, `http-response-size`, `host-calls`,
    /// `log-rate`, …).
    LimitExceeded(String),
    /// The operation ran out of time.
    Timeout,
    /// An outbound HTTP request could not be made or was refused by the host's network
    /// policy (or, from [`http::Response::error_for_status`](crate::http::Response::error_for_status),
    /// answered with an error status); the string says why.
    Network(String),
    /// The host (or the app) failed; the string says what happened. Retrying may help.
    Internal(String),
}

impl Error {
    /// An [`Error::Invalid`] with this reason.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Error::Invalid(reason.into())
    }

    /// An [`Error::Internal`] with this description.
    pub fn internal(what: impl Into<String>) -> Self {
        Error::Internal(what.into())
    }

    /// The contract's name of the variant: `permission-denied`, `not-found`,
    /// `invalid`, `limit-exceeded`, `timeout`, `network` or `internal`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::PermissionDenied(_) => "permission-denied",
            Error::NotFound => "not-found",
            Error::Invalid(_) => "invalid",
            Error::LimitExceeded(_) => "limit-exceeded",
            Error::Timeout => "timeout",
            Error::Network(_) => "network",
            Error::Internal(_) => "internal",
        }
    }

    /// The variant's payload (the permission, the reason, the limit, …), if it has one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::PermissionDenied(s)
            | Error::Invalid(s)
            | Error::LimitExceeded(s)
            | Error::Network(s)
            | Error::Internal(s) => Some(s),
            Error::NotFound | Error::Timeout => None,
        }
    }

    /// The error written as in the contract: `permission-denied(networking)`,
    /// `not-found`, `limit-exceeded(persistence-bytes)`, … Handy for logs and tests.
    pub fn to_wit_string(&self) -> String {
        match self.detail() {
            Some(detail) => format!("{}({detail})", self.code()),
            None => self.code().to_string(),
        }
    }

    /// Whether this is a [`Error::PermissionDenied`].
    pub fn is_permission_denied(&self) -> bool {
        matches!(self, Error::PermissionDenied(_))
    }

    /// Whether this is a [`Error::NotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::NotFound)
    }

    /// The HTTP status that best describes this error, used when an endpoint handler
    /// fails: 403, 404, 400, 429, 504, 502 or 500.
    pub fn http_status(&self) -> u16 {
        match self {
            Error::PermissionDenied(_) => 403,
            Error::NotFound => 404,
            Error::Invalid(_) => 400,
            Error::LimitExceeded(_) => 429,
            Error::Timeout => 504,
            Error::Network(_) => 502,
            Error::Internal(_) => 500,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::PermissionDenied(permission) => {
                write!(
                    f,
                    "permission denied: the app was not granted `{permission}`"
                )
            }
            Error::NotFound => f.write_str("not found"),
            Error::Invalid(reason) => write!(f, "invalid: {reason}"),
            Error::LimitExceeded(which) => write!(f, "limit exceeded: {which}"),
            Error::Timeout => f.write_str("timed out"),
            Error::Network(reason) => write!(f, "network error: {reason}"),
            Error::Internal(what) => write!(f, "internal error: {what}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<WitError> for Error {
    fn from(e: WitError) -> Self {
        match e {
            WitError::PermissionDenied(s) => Error::PermissionDenied(s),
            WitError::NotFound => Error::NotFound,
            WitError::Invalid(s) => Error::Invalid(s),
            WitError::LimitExceeded(s) => Error::LimitExceeded(s),
            WitError::Timeout => Error::Timeout,
            WitError::Network(s) => Error::Network(s),
            WitError::Internal(s) => Error::Internal(s),
        }
    }
}

impl From<Error> for WitError {
    fn from(e: Error) -> Self {
        match e {
            Error::PermissionDenied(s) => WitError::PermissionDenied(s),
            Error::NotFound => WitError::NotFound,
            Error::Invalid(s) => WitError::Invalid(s),
            Error::LimitExceeded(s) => WitError::LimitExceeded(s),
            Error::Timeout => WitError::Timeout,
            Error::Network(s) => WitError::Network(s),
            Error::Internal(s) => WitError::Internal(s),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Invalid(format!("JSON: {e}"))
    }
}

impl From<std::string::FromUtf8Error> for Error {
    fn from(e: std::string::FromUtf8Error) -> Self {
        Error::Invalid(format!("not UTF-8: {e}"))
    }
}

impl From<std::str::Utf8Error> for Error {
    fn from(e: std::str::Utf8Error) -> Self {
        Error::Invalid(format!("not UTF-8: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_the_wit_error() {
        let all = [
            Error::PermissionDenied("networking".into()),
            Error::NotFound,
            Error::Invalid("bad".into()),
            Error::LimitExceeded("persistence-bytes".into()),
            Error::Timeout,
            Error::Network("refused".into()),
            Error::Internal("oops".into()),
        ];
        for e in all {
            let wit: WitError = e.clone().into();
            assert_eq!(Error::from(wit), e);
        }
    }

    #[test]
    fn displays_and_codes() {
        let e = Error::PermissionDenied("message.write".into());
        assert_eq!(
            e.to_string(),
            "permission denied: the app was not granted `message.write`"
        );
        assert_eq!(e.to_wit_string(), "permission-denied(message.write)");
        assert_eq!(Error::NotFound.to_wit_string(), "not-found");
        assert_eq!(Error::Timeout.to_string(), "timed out");
        assert_eq!(
            Error::LimitExceeded("log-rate".into()).to_string(),
            "limit exceeded: log-rate"
        );
        assert!(e.is_permission_denied());
        assert_eq!(e.http_status(), 403);
        assert_eq!(Error::Invalid("x".into()).http_status(), 400);
    }

    #[test]
    fn json_errors_are_invalid() {
        let e: Error = serde_json::from_str::<u32>("nope").unwrap_err().into();
        assert!(matches!(e, Error::Invalid(ref s) if s.starts_with("JSON: ")));
    }
}
