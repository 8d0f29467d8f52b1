//! The app's settings, read once per call (the admin may change them at any time).

use chrono_tz::Tz;
use palaver_apps_sdk::{settings, warn, Result};

/// Google's endpoints, used when the admin leaves a URL setting empty.
pub const GOOGLE_AUTHORIZE_URL: &str = "https://accounts.google.com/o/oauth2/v2/auth";
pub const GOOGLE_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const GOOGLE_REVOKE_URL: &str = "https://oauth2.googleapis.com/revoke";
pub const GOOGLE_CALENDAR_API: &str = "https://www.googleapis.com/calendar/v3";

/// The check interval of the reminder job when the setting is missing or invalid.
pub const DEFAULT_CHECK_SECONDS: i64 = 60;

/// What the admin configured.
#[derive(Debug, Clone)]
pub struct Config {
    pub client_id: String,
    pub client_secret: String,
    pub authorize_url: String,
    pub token_url: String,
    pub revoke_url: String,
    /// Without a trailing slash.
    pub api_base: String,
    /// How long before an event starts its reminder is sent.
    pub lead_minutes: i64,
    /// For users who did not pick a zone with `/gcal tz`.
    pub default_tz: Tz,
    /// How long a login link (its `state`) stays valid.
    pub login_ttl_seconds: i64,
}

/// A URL setting without trailing slashes; blank means `default`.
fn url_setting(id: &str, default: &str) -> Result<String> {
    Ok(settings::text_or(id, default)?
        .trim_end_matches('/')
        .to_string())
}

impl Config {
    /// Reads the settings. The OAuth client id and secret are required (the host keeps
    /// the app disabled while they are empty), so their absence is an error here.
    pub fn load() -> Result<Config> {
        let tz_name = settings::str_or("default-time-zone", "UTC")?;
        let default_tz = match tz_name.trim().parse::<Tz>() {
            Ok(tz) => tz,
            Err(_) => {
                warn!("the default time zone {tz_name:?} is not an IANA zone name; using UTC");
                Tz::UTC
            }
        };
        Ok(Config {
            client_id: settings::require_str("client-id")?.trim().to_string(),
            client_secret: settings::require_str("client-secret")?.trim().to_string(),
            authorize_url: url_setting("authorize-url", GOOGLE_AUTHORIZE_URL)?,
            token_url: url_setting("token-url", GOOGLE_TOKEN_URL)?,
            revoke_url: url_setting("revoke-url", GOOGLE_REVOKE_URL)?,
            api_base: url_setting("api-base-url", GOOGLE_CALENDAR_API)?,
            lead_minutes: settings::i64_or("reminder-lead-minutes", 10)?.clamp(0, 7 * 24 * 60),
            default_tz,
            login_ttl_seconds: settings::i64_or("login-link-seconds", 600)?.clamp(1, 86_400),
        })
    }
}

/// The reminder job's interval in seconds (at least 1, the scheduler's minimum).
pub fn check_seconds() -> Result<i64> {
    Ok(settings::i64_or("reminder-check-seconds", DEFAULT_CHECK_SECONDS)?.clamp(1, 3_600))
}
