//! Server settings as Rocket.Chat clients read them (`settings.public`).

use serde_json::{json, Value};

use super::error::ChatResult;
use super::Chat;
use crate::store::Setting;

/// Public defaults every client expects to find. Values the configuration owns
/// (site URL and name) are rewritten at every start; the rest only when missing.
fn defaults(chat: &Chat) -> Vec<(&'static str, Value, bool)> {
    let o = chat.options();
    vec![
        ("Site_Url", json!(o.site_url), true),
        ("Site_Name", json!(o.site_name), true),
        ("Language", json!("en"), false),
        ("Message_MaxAllowedSize", json!(o.max_message_len), false),
        ("Message_AllowEditing", json!(true), false),
        ("Message_AllowDeleting", json!(true), false),
        ("Threads_enabled", json!(true), false),
        ("Accounts_RegistrationForm", json!("Disabled"), false),
        ("Accounts_AllowAnonymousRead", json!(false), false),
        (
            "UTF8_User_Names_Validation",
            json!("[0-9a-zA-Z-_.]+"),
            false,
        ),
        (
            "UTF8_Channel_Names_Validation",
            json!("[0-9a-zA-Z-_.]+"),
            false,
        ),
        ("API_Default_Count", json!(50), false),
        ("API_Upper_Count_Limit", json!(100), false),
    ]
}

impl Chat {
    /// Writes the default settings (at start-up).
    pub async fn seed_settings(&self) -> ChatResult<()> {
        for (id, value, owned_by_config) in defaults(self) {
            let setting = Setting {
                id: id.to_string(),
                value,
                public: true,
            };
            if owned_by_config {
                self.store.put_setting(&setting).await?;
            } else {
                self.store.insert_setting_if_missing(&setting).await?;
            }
        }
        Ok(())
    }

    /// Public settings, optionally only the named ones, sorted by id.
    pub async fn public_settings(&self, only: Option<&[String]>) -> ChatResult<Vec<Setting>> {
        let mut all = self.store.settings().await?;
        all.retain(|s| s.public && only.is_none_or(|ids| ids.contains(&s.id)));
        Ok(all)
    }
}
