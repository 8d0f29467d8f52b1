//! The app's settings, read once per call.

use palaver_apps_sdk::{settings, Result};

/// The default Graph API base URL (the version the app was written against).
pub const DEFAULT_GRAPH_URL: &str = "https://graph.facebook.com/v21.0";

/// The admin's settings; blank values are empty strings.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub access_token: String,
    pub phone_number_id: String,
    pub app_secret: String,
    pub verify_token: String,
    /// Without a trailing slash.
    pub graph_url: String,
    pub agents: String,
    pub welcome_message: String,
    pub offline_reply: String,
}

impl Config {
    /// Reads every setting.
    pub fn load() -> Result<Config> {
        let text = |id: &str| settings::text_or(id, "");
        let graph_url = settings::text_or("graph-api-url", DEFAULT_GRAPH_URL)?;
        Ok(Config {
            access_token: text("access-token")?,
            phone_number_id: text("phone-number-id")?,
            app_secret: text("app-secret")?,
            verify_token: text("verify-token")?,
            graph_url: normalise_base(&graph_url),
            agents: text("agents")?,
            // Messages keep their inner line breaks; only the ends are trimmed.
            welcome_message: text("welcome-message")?,
            offline_reply: text("offline-reply")?,
        })
    }

    /// The settings sending needs that are empty (their labels).
    pub fn missing_for_sending(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        if self.access_token.is_empty() {
            missing.push("Access token");
        }
        if self.phone_number_id.is_empty() {
            missing.push("Phone number ID");
        }
        missing
    }
}

/// The base URL without trailing slashes; the default when blank.
pub fn normalise_base(url: &str) -> String {
    let url = url.trim().trim_end_matches('/');
    if url.is_empty() {
        DEFAULT_GRAPH_URL.to_string()
    } else {
        url.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(normalise_base(""), DEFAULT_GRAPH_URL);
        assert_eq!(
            normalise_base(" https://graph.facebook.com/v22.0/ "),
            "https://graph.facebook.com/v22.0"
        );
    }

    #[test]
    fn missing_settings() {
        let config = Config {
            access_token: "t".into(),
            ..Config::default()
        };
        assert_eq!(config.missing_for_sending(), ["Phone number ID"]);
    }
}
