//! What can go wrong for a user, and how it is said.

use palaver_apps_sdk::Error;

use crate::google::ApiError;

/// A failure of a Google call made for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcalError {
    /// The user never connected (or logged out).
    NotConnected,
    /// Google no longer accepts the user's grant; their tokens were deleted.
    Reconnect(String),
    /// Google answered with an error.
    Google(String),
    /// The host refused or failed a call.
    Host(Error),
}

impl From<Error> for GcalError {
    fn from(e: Error) -> Self {
        GcalError::Host(e)
    }
}

impl From<ApiError> for GcalError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Unauthorized(m) => {
                GcalError::Google(format!("Google refused the access token: {m}"))
            }
            ApiError::Google { status, message } => {
                GcalError::Google(format!("Google Calendar answered {status}: {message}"))
            }
            ApiError::Host(e) => GcalError::Host(e),
        }
    }
}

impl GcalError {
    /// The text shown to the user.
    pub fn user_text(&self) -> String {
        match self {
            GcalError::NotConnected => {
                "Your Google Calendar is not connected. Run `/gcal login` first.".into()
            }
            GcalError::Reconnect(why) => format!(
                "{why} Your Google Calendar was disconnected; run `/gcal login` to connect it again."
            ),
            GcalError::Google(message) => format!("{message}. Please try again later."),
            GcalError::Host(Error::Network(reason)) => {
                format!("Could not reach Google: {reason}. Please try again later.")
            }
            GcalError::Host(Error::Timeout) => {
                "Google did not answer in time. Please try again later.".into()
            }
            GcalError::Host(Error::PermissionDenied(p)) => format!(
                "The Google Calendar app is missing the `{p}` permission; ask an admin to grant it."
            ),
            GcalError::Host(e) => format!("Something went wrong: {e}."),
        }
    }
}
