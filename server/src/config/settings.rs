//! Workspace settings the operator locks at startup. A setting given here wins over
//! what admins store, and admins see it as locked, with where it comes from.
//!
//! Sources, later ones winning:
//! 1. the config file's startup keys that became settings (`site_name`, `site_url`,
//!    `max_message_chars`, `max_message_attachments`, `max_message_bytes`, and the
//!    `[realtime]` table);
//! 2. the config file's `[settings]` table, keyed by setting id (`Site_Name = "Acme"`);
//! 3. the same startup keys as environment variables (`PALAVER_SITE_NAME`,
//!    `PALAVER_REALTIME__QUEUE_FRAMES`, …);
//! 4. `PALAVER_SETTINGS__<ID>` (the id in any case, e.g. `PALAVER_SETTINGS__SITE_NAME`);
//! 5. `OVERWRITE_SETTING_<Id>` (Rocket.Chat's name for the same thing).
//!
//! Only what is actually given locks a setting: a startup key left at its default
//! leaves the setting editable.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{Config, ConfigError};
use crate::chat::settings::{registry, values, Def, Kind, Override};

/// Startup keys that are settings now: (TOML key, environment variable, setting id).
const STARTUP_KEYS: &[(&str, &str, &str)] = &[
    ("site_name", "PALAVER_SITE_NAME", "Site_Name"),
    ("site_url", "PALAVER_SITE_URL", "Site_Url"),
    (
        "max_message_chars",
        "PALAVER_MAX_MESSAGE_CHARS",
        "Message_MaxAllowedSize",
    ),
    (
        "max_message_attachments",
        "PALAVER_MAX_MESSAGE_ATTACHMENTS",
        "Message_MaxAttachments",
    ),
    (
        "max_message_bytes",
        "PALAVER_MAX_MESSAGE_BYTES",
        "Message_MaxPayloadBytes",
    ),
];

/// The `[realtime]` keys (and `PALAVER_REALTIME__*` variables) and their settings.
const REALTIME_KEYS: &[(&str, &str)] = &[
    ("heartbeat_interval_ms", "Realtime_Heartbeat_Interval_Ms"),
    ("heartbeat_timeout_ms", "Realtime_Heartbeat_Timeout_Ms"),
    ("connect_timeout_ms", "Realtime_Connect_Timeout_Ms"),
    ("max_bad_frames", "Realtime_Max_Bad_Frames"),
    ("queue_frames", "Realtime_Queue_Frames"),
];

const ENV_PREFIX: &str = "PALAVER_SETTINGS__";
const RC_ENV_PREFIX: &str = "OVERWRITE_SETTING_";

fn invalid(source: &str, reason: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid(format!("{source}: {reason}"))
}

/// A TOML (or JSON) value typed as `def` wants it: numbers and booleans may be
/// given as text too.
fn typed(def: &Def, value: Value) -> Result<Value, String> {
    match (&value, def.kind) {
        (Value::String(s), Kind::Int { .. } | Kind::Boolean) => values::from_text(def, s),
        _ => values::validate(def, &value),
    }
}

/// Every locked setting, checked against its type; an unknown id or a bad value
/// stops the start with the source and the reason.
pub(super) fn collect(
    config: &Config,
    file: Option<&Path>,
    env: &BTreeMap<String, String>,
) -> Result<Vec<Override>, ConfigError> {
    let mut locks: BTreeMap<&'static str, Override> = BTreeMap::new();
    let mut put = |def: &'static Def, value: Result<Value, String>, source: String| {
        let value = value.map_err(|reason| invalid(&source, reason))?;
        if matches!(def.kind, Kind::Action(_)) {
            return Err(invalid(
                &source,
                format!("{} is an action, not a value", def.id),
            ));
        }
        locks.insert(
            def.id,
            Override {
                id: def.id,
                value,
                source,
            },
        );
        Ok::<(), ConfigError>(())
    };
    let def_of = |id: &str| registry::find(id).expect("a startup key maps to a defined setting");

    // 1 and 2: the config file.
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .map_err(|e| ConfigError::Invalid(format!("config file {}: {e}", file.display())))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| ConfigError::Invalid(format!("config file {}: {e}", file.display())))?;
        let name = file.display();
        for (key, _, id) in STARTUP_KEYS {
            if table.contains_key(*key) {
                put(
                    def_of(id),
                    startup_value(config, id),
                    format!("config file {name}: {key}"),
                )?;
            }
        }
        if let Some(realtime) = table.get("realtime").and_then(toml::Value::as_table) {
            for (key, value) in realtime {
                let Some((_, id)) = REALTIME_KEYS.iter().find(|(k, _)| k == key) else {
                    return Err(invalid(
                        &format!("config file {name}: [realtime] {key}"),
                        "unknown key",
                    ));
                };
                let value = serde_json::to_value(value).map_err(|e| invalid(key, e))?;
                let def = def_of(id);
                put(
                    def,
                    typed(def, value),
                    format!("config file {name}: [realtime] {key}"),
                )?;
            }
        }
        if let Some(settings) = table.get("settings").and_then(toml::Value::as_table) {
            for (key, value) in settings {
                let source = format!("config file {name}: [settings] {key}");
                let def = registry::find_ignore_case(key)
                    .ok_or_else(|| invalid(&source, "no such setting"))?;
                let value = serde_json::to_value(value).map_err(|e| invalid(&source, e))?;
                put(def, typed(def, value), source)?;
            }
        }
    }

    // 3: the startup keys' environment variables.
    for (_, var, id) in STARTUP_KEYS {
        if env.contains_key(*var) {
            put(
                def_of(id),
                startup_value(config, id),
                format!("environment variable {var}"),
            )?;
        }
    }
    for (key, id) in REALTIME_KEYS {
        let var = format!("PALAVER_REALTIME__{}", key.to_ascii_uppercase());
        if let Some(raw) = env.get(&var) {
            let def = def_of(id);
            let source = format!("environment variable {var} (realtime.{key})");
            put(def, values::from_text(def, raw), source)?;
        }
    }

    // 4 then 5: settings by id.
    for prefix in [ENV_PREFIX, RC_ENV_PREFIX] {
        for (var, raw) in env {
            let Some(id) = strip_prefix_ignore_case(var, prefix) else {
                continue;
            };
            let source = format!("environment variable {var}");
            let def = registry::find_ignore_case(id)
                .ok_or_else(|| invalid(&source, "no such setting"))?;
            put(def, values::from_text(def, raw), source)?;
        }
    }
    Ok(locks.into_values().collect())
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
        .filter(|rest| !rest.is_empty())
}

/// A startup key's (already validated) value, as its setting's value.
fn startup_value(config: &Config, id: &str) -> Result<Value, String> {
    Ok(match id {
        "Site_Name" => Value::from(config.site_name.clone()),
        "Site_Url" => Value::from(config.site_url()),
        "Message_MaxAllowedSize" => Value::from(config.max_message_chars),
        "Message_MaxAttachments" => Value::from(config.max_message_attachments),
        "Message_MaxPayloadBytes" => Value::from(config.max_message_bytes),
        other => return Err(format!("{other} is not a startup key")),
    })
    .and_then(|v| values::validate(registry::find(id).ok_or("unknown")?, &v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn find<'a>(locks: &'a [Override], id: &str) -> &'a Override {
        locks.iter().find(|o| o.id == id).expect(id)
    }

    #[test]
    fn each_source_locks_and_later_ones_win() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("palaver.toml");
        std::fs::write(
            &file,
            "site_name = \"Acme\"\n[realtime]\nqueue_frames = 64\n\
             [settings]\nSMTP_Host = \"mx.example.com\"\nSMTP_Port = 25\nFrom_Email = \"a@b.c\"\n",
        )
        .unwrap();
        let config = Config {
            site_name: "Acme".into(),
            ..Config::default()
        };
        let locks = collect(
            &config,
            Some(&file),
            &env(&[
                ("PALAVER_SETTINGS__SMTP_PORT", "2525"),
                ("OVERWRITE_SETTING_From_Email", "x@y.z"),
                ("PALAVER_SETTINGS__smtp_password", "0123"),
                ("UNRELATED", "1"),
            ]),
        )
        .expect("valid");
        assert_eq!(find(&locks, "Site_Name").value, "Acme");
        assert!(find(&locks, "Site_Name").source.contains("site_name"));
        assert_eq!(find(&locks, "Realtime_Queue_Frames").value, 64);
        assert_eq!(find(&locks, "SMTP_Host").value, "mx.example.com");
        assert_eq!(find(&locks, "SMTP_Port").value, 2525);
        assert_eq!(
            find(&locks, "SMTP_Port").source,
            "environment variable PALAVER_SETTINGS__SMTP_PORT"
        );
        assert_eq!(find(&locks, "From_Email").value, "x@y.z");
        assert_eq!(find(&locks, "SMTP_Password").value, "0123");
        assert!(locks.iter().all(|o| o.id != "Message_MaxAllowedSize"));
    }

    #[test]
    fn refuses_unknown_ids_and_bad_values_naming_the_source() {
        let config = Config::default();
        for (var, raw) in [
            ("PALAVER_SETTINGS__NO_SUCH", "1"),
            ("PALAVER_SETTINGS__SMTP_PORT", "many"),
            ("OVERWRITE_SETTING_Accounts_RegistrationForm", "Open"),
            ("PALAVER_REALTIME__QUEUE_FRAMES", "1"),
            ("PALAVER_SETTINGS__SMTP_Test_Button", "x"),
        ] {
            let e = collect(&config, None, &env(&[(var, raw)]))
                .expect_err(var)
                .to_string();
            assert!(e.contains(var), "{var}: {e}");
        }
    }
}
