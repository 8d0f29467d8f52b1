//! A provider's configuration, read from its settings family
//! (`chat::settings::oauth_family`) each time it is used, so changes apply at once.

use crate::chat::settings::oauth_family::id;
use crate::chat::settings::Settings;

/// How the client authenticates at the token endpoint (Rocket.Chat's `token_sent_via`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic (`client_secret_basic`).
    Header,
    /// In the form body (`client_secret_post`).
    Payload,
}

/// One custom OAuth / OpenID Connect provider.
#[derive(Clone, Debug)]
pub struct ProviderConfig {
    /// The lowercase service name (`/_oauth/<name>`, `serviceName`).
    pub name: String,
    pub enabled: bool,
    /// OIDC issuer: discovery, and ID tokens required and verified.
    pub issuer: Option<String>,
    pub server_url: String,
    pub token_path: String,
    pub identity_path: String,
    pub authorize_path: String,
    pub scope: String,
    pub client_auth: ClientAuth,
    /// Userinfo request: token in the `Authorization` header, or as a query parameter.
    pub identity_via_header: bool,
    pub access_token_param: String,
    pub client_id: String,
    pub client_secret: String,
    pub login_style: String,
    pub key_field: String,
    pub username_field: String,
    pub email_field: String,
    pub name_field: String,
    pub avatar_field: String,
    pub roles_claim: String,
    pub merge_roles: bool,
    pub roles_to_sync: Vec<String>,
    pub merge_users: bool,
    /// Group → channel mapping (Rocket.Chat's `map_channels`).
    pub map_channels: bool,
    pub groups_claim: String,
    pub channels_admin: String,
    /// Group name → channel names, from `groups_channel_map` (invalid JSON: none).
    pub groups_channel_map: Vec<(String, Vec<String>)>,
    pub show_button: bool,
    pub button_label_text: String,
    pub button_label_color: String,
    pub button_color: String,
}

impl ProviderConfig {
    /// The provider `name` as its settings say now (enabled or not); `None` when no
    /// setting of the family exists.
    pub fn load(settings: &Settings, name: &str) -> Option<ProviderConfig> {
        let name = name.to_ascii_lowercase();
        if !settings.custom_oauth_names().contains(&name) {
            return None;
        }
        let s = |field: &str| settings.string(&id(&name, field)).trim().to_string();
        let b = |field: &str| settings.bool(&id(&name, field));
        let issuer = Some(s("oidc_issuer"))
            .filter(|i| !i.is_empty())
            .map(|i| i.trim_end_matches('/').to_string());
        Some(ProviderConfig {
            enabled: b(""),
            issuer,
            server_url: s("url").trim_end_matches('/').to_string(),
            token_path: s("token_path"),
            identity_path: s("identity_path"),
            authorize_path: s("authorize_path"),
            scope: s("scope"),
            client_auth: if s("token_sent_via") == "header" {
                ClientAuth::Header
            } else {
                ClientAuth::Payload
            },
            identity_via_header: s("identity_token_sent_via") != "payload",
            access_token_param: Some(s("access_token_param"))
                .filter(|p| !p.is_empty())
                .unwrap_or_else(|| "access_token".into()),
            client_id: s("id"),
            client_secret: s("secret"),
            login_style: s("login_style"),
            key_field: s("key_field"),
            username_field: s("username_field"),
            email_field: s("email_field"),
            name_field: s("name_field"),
            avatar_field: s("avatar_field"),
            roles_claim: s("roles_claim"),
            merge_roles: b("merge_roles"),
            roles_to_sync: s("roles_to_sync")
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect(),
            merge_users: b("merge_users"),
            map_channels: b("map_channels"),
            groups_claim: s("groups_claim"),
            channels_admin: s("channels_admin"),
            groups_channel_map: channel_map(&s("groups_channel_map")),
            show_button: b("show_button"),
            button_label_text: s("button_label_text"),
            button_label_color: s("button_label_color"),
            button_color: s("button_color"),
            name,
        })
    }

    /// Every enabled provider, by name.
    pub fn enabled(settings: &Settings) -> Vec<ProviderConfig> {
        settings
            .custom_oauth_names()
            .iter()
            .filter_map(|n| ProviderConfig::load(settings, n))
            .filter(|p| p.enabled)
            .collect()
    }

    /// `path` against the server URL (a path that is already a URL is kept).
    pub fn url_of(&self, path: &str) -> String {
        if path.starts_with("http://") || path.starts_with("https://") {
            path.to_string()
        } else {
            format!("{}{}", self.server_url, path)
        }
    }

    /// The label on the login button.
    pub fn label(&self) -> String {
        if self.button_label_text.is_empty() {
            self.name.clone()
        } else {
            self.button_label_text.clone()
        }
    }
}

/// Parses Rocket.Chat's channel map: `{"group": "channel" | ["channel", ...]}`.
/// Anything else in it is ignored (logged once per read).
pub fn channel_map(raw: &str) -> Vec<(String, Vec<String>)> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(raw) else {
        if !raw.trim().is_empty() {
            tracing::warn!("the OAuth groups channel map is not a JSON object");
        }
        return vec![];
    };
    map.into_iter()
        .map(|(group, v)| {
            let channels = match v {
                serde_json::Value::String(c) => vec![c],
                serde_json::Value::Array(list) => list
                    .into_iter()
                    .filter_map(|c| c.as_str().map(str::to_string))
                    .collect(),
                _ => vec![],
            };
            let channels = channels
                .into_iter()
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            (group, channels)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_map_takes_names_and_lists() {
        let m = channel_map(r#"{"dev": "engineering", "ops": ["oncall", " infra "], "x": 3}"#);
        assert_eq!(
            m,
            vec![
                ("dev".to_string(), vec!["engineering".to_string()]),
                (
                    "ops".to_string(),
                    vec!["oncall".to_string(), "infra".to_string()]
                ),
                ("x".to_string(), vec![]),
            ]
        );
        assert!(channel_map("not json").is_empty());
    }
}
