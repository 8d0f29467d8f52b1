//! An installed app's settings: the admin's view and changes.

use super::*;

impl AppsEngine {
    /// Current setting values with password values hidden (only whether set).
    pub fn settings_view(&self, id: &str) -> Result<Vec<Value>, AppsError> {
        let app = self.app(id)?;
        let record = app.record();
        Ok(app
            .manifest
            .settings
            .iter()
            .map(|s| {
                let stored = record.settings.get(&s.id);
                let default = s
                    .default
                    .as_ref()
                    .and_then(|d| crate::apps::settings::value_from_toml(s, d).ok());
                let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
                let secret = s.kind == SettingType::Password;
                v["value"] = if secret {
                    Value::Null
                } else {
                    stored.cloned().or(default).unwrap_or(Value::Null)
                };
                v["isSet"] = Value::Bool(crate::apps::settings::is_set(stored));
                if secret {
                    v["default"] = Value::Null;
                }
                v
            })
            .collect())
    }

    /// Updates settings (validated against the schema). A password left out keeps
    /// its value; `null` clears a value.
    pub async fn update_settings(
        &self,
        id: &str,
        values: serde_json::Map<String, Value>,
    ) -> Result<(), AppsError> {
        let app = self.app(id)?;
        let _guard = app.ops.lock().await;
        let mut checked = BTreeMap::new();
        let mut errors = Vec::new();
        for (key, value) in &values {
            let Some(def) = app.manifest.settings.iter().find(|s| s.id == *key) else {
                errors.push(format!("{key}: no such setting"));
                continue;
            };
            if value.is_null() {
                checked.insert(key.clone(), None);
                continue;
            }
            match crate::apps::settings::value_from_json(def, value) {
                Ok(v) => {
                    checked.insert(key.clone(), Some(v));
                }
                Err(e) => errors.push(format!("{key}: {e}")),
            }
        }
        if !errors.is_empty() {
            return Err(AppsError::Invalid(errors.join("; ")));
        }
        let record = self
            .save(&app, |r| {
                for (k, v) in &checked {
                    match v {
                        Some(v) => r.settings.insert(k.clone(), v.clone()),
                        None => r.settings.remove(k),
                    };
                }
            })
            .await?;
        if let Some(running) = app.running() {
            if let Ok(mut s) = running.pool.context().settings.write() {
                *s = record.settings.clone();
            }
            let ids: Vec<String> = checked.keys().cloned().collect();
            let _ = running.pool.call(Call::OnSettingsUpdated(ids)).await;
            self.after_call(&app, &running.pool);
        } else if record.status == status::INVALID_SETTINGS_DISABLED
            && Self::missing_setting(&app).is_none()
        {
            self.save(&app, |r| {
                r.status = status::MANUALLY_DISABLED.into();
                r.status_reason = None;
            })
            .await?;
        }
        Ok(())
    }
}
