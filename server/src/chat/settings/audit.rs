//! The settings audit log: who changed which setting when, from what to what.
//! A secret's values are never recorded, only whether it was set.

use serde_json::{json, Value};

use super::registry::Def;
use super::values;
use crate::chat::error::{ChatError, ChatResult};
use crate::chat::ids;
use crate::chat::permissions::CAN_AUDIT;
use crate::chat::Chat;
use crate::store::settings_audit::{ChangeActor, SettingChange, SettingChangeQuery};
use crate::store::{Listing, Page, Ts, User};

/// What the log records for a secret that holds a value.
pub const REDACTED: &str = "********";

/// A value as the audit log may record it.
fn recorded(def: &Def, value: &Value) -> Value {
    match (def.secret(), values::is_set(value)) {
        (false, _) => value.clone(),
        (true, true) => json!(REDACTED),
        (true, false) => json!(""),
    }
}

impl Chat {
    pub(super) async fn record_setting_change(
        &self,
        def: &Def,
        actor: ChangeActor,
        ts: Ts,
        previous: &Value,
        current: &Value,
    ) -> ChatResult<()> {
        let change = SettingChange {
            id: ids::new_id(),
            setting_id: def.id.to_string(),
            ts,
            actor,
            previous: recorded(def, previous),
            current: recorded(def, current),
        };
        Ok(self.store.insert_setting_change(&change).await?)
    }

    /// The audit log, for admins (Rocket.Chat's `can-audit`).
    pub async fn setting_changes(
        &self,
        actor: &User,
        query: &SettingChangeQuery,
        page: Page,
    ) -> ChatResult<Listing<SettingChange>> {
        if !self.has_permission(actor, CAN_AUDIT, None).await? {
            return Err(ChatError::not_allowed());
        }
        Ok(self.store.setting_changes(query, page).await?)
    }
}
