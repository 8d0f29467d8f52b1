//! Per-user preferences: the time zone picked with `/gcal tz`.

use chrono_tz::Tz;
use palaver_apps_sdk::{persistence, Result};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::when::parse_tz;

const PREFIX: &str = "prefs/";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Prefs {
    #[serde(default)]
    time_zone: Option<String>,
}

fn key(user_id: &str) -> String {
    format!("{PREFIX}{user_id}")
}

/// The zone the user picked, if any.
pub fn chosen_tz(user_id: &str) -> Result<Option<Tz>> {
    let prefs: Prefs = persistence::get_json(&key(user_id))?.unwrap_or_default();
    Ok(prefs.time_zone.as_deref().and_then(parse_tz))
}

/// The user's zone: their own, or the app's default.
pub fn user_tz(cfg: &Config, user_id: &str) -> Result<Tz> {
    Ok(chosen_tz(user_id)?.unwrap_or(cfg.default_tz))
}

/// Remembers the user's zone; `None` goes back to the default.
pub fn set_tz(user_id: &str, tz: Option<Tz>) -> Result<()> {
    match tz {
        Some(tz) => persistence::set_json(
            &key(user_id),
            &Prefs {
                time_zone: Some(tz.name().to_string()),
            },
        ),
        None => persistence::delete(&key(user_id)).map(drop),
    }
}
