//! The app's settings, as the admin filled them in (declared in the manifest's
//! `[[settings]]`). No permission needed.
//!
//! `string`, `select`, `password` and `multiline` settings are text, `int` settings
//! numbers, `bool` settings booleans. The typed getters fail with `Error::Invalid`
//! when a value has another type.
//!
//! ```ignore
//! use palaver_apps_sdk::settings;
//!
//! let word = settings::str_or("forbidden-word", "")?;
//! let limit = settings::i64_or("max-results", 10)?;
//! let base = settings::text_or("api-url", "https://api.example.com")?; // trimmed; blank = default
//! let token = settings::require_str("api-token")?; // Error::Invalid when unset
//! ```

use crate::bindings::palaver::apps::settings as wit;
use crate::{Error, Result, SettingValue};

/// The value of setting `id`; `None` when unset and without a default.
pub fn get(id: &str) -> Result<Option<SettingValue>> {
    Ok(wit::get(id)?)
}

/// A text setting's value.
pub fn get_str(id: &str) -> Result<Option<String>> {
    get(id)?.map(|v| text_value(id, v)).transpose()
}

/// A boolean setting's value.
pub fn get_bool(id: &str) -> Result<Option<bool>> {
    get(id)?.map(|v| bool_value(id, &v)).transpose()
}

/// An integer setting's value.
pub fn get_i64(id: &str) -> Result<Option<i64>> {
    get(id)?.map(|v| i64_value(id, &v)).transpose()
}

/// A text setting's value, or `default` when unset.
pub fn str_or(id: &str, default: &str) -> Result<String> {
    Ok(get_str(id)?.unwrap_or_else(|| default.to_string()))
}

/// A text setting's value without surrounding whitespace, or `default` when it is
/// unset or blank: an admin clearing a field means "use the default", not "use
/// nothing".
pub fn text_or(id: &str, default: &str) -> Result<String> {
    Ok(trimmed_or(get_str(id)?, default))
}

fn trimmed_or(value: Option<String>, default: &str) -> String {
    match value.as_deref().map(str::trim) {
        Some(text) if !text.is_empty() => text.to_string(),
        _ => default.to_string(),
    }
}

/// A boolean setting's value, or `default` when unset.
pub fn bool_or(id: &str, default: bool) -> Result<bool> {
    Ok(get_bool(id)?.unwrap_or(default))
}

/// An integer setting's value, or `default` when unset.
pub fn i64_or(id: &str, default: i64) -> Result<i64> {
    Ok(get_i64(id)?.unwrap_or(default))
}

/// A text setting's value; `Error::Invalid` when it is unset or blank.
pub fn require_str(id: &str) -> Result<String> {
    match get_str(id)? {
        Some(text) if !text.trim().is_empty() => Ok(text),
        _ => Err(Error::Invalid(format!("setting `{id}` is not set"))),
    }
}

fn wrong_type(id: &str, expected: &str, value: &SettingValue) -> Error {
    Error::Invalid(format!(
        "setting `{id}` is a {}, not a {expected}",
        value.kind()
    ))
}

fn text_value(id: &str, value: SettingValue) -> Result<String> {
    match value {
        SettingValue::Text(text) => Ok(text),
        other => Err(wrong_type(id, "text", &other)),
    }
}

fn bool_value(id: &str, value: &SettingValue) -> Result<bool> {
    value
        .as_bool()
        .ok_or_else(|| wrong_type(id, "boolean", value))
}

fn i64_value(id: &str, value: &SettingValue) -> Result<i64> {
    value
        .as_i64()
        .ok_or_else(|| wrong_type(id, "number", value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_text_or_default() {
        assert_eq!(trimmed_or(Some("  x y \n".into()), "d"), "x y");
        assert_eq!(trimmed_or(Some(" \t ".into()), "d"), "d");
        assert_eq!(trimmed_or(Some(String::new()), "d"), "d");
        assert_eq!(trimmed_or(None, "d"), "d");
        assert_eq!(trimmed_or(None, ""), "");
    }

    #[test]
    fn typed_values() {
        assert_eq!(
            text_value("a", SettingValue::Text("x".into())).unwrap(),
            "x"
        );
        assert_eq!(
            text_value("a", SettingValue::Number(1)),
            Err(Error::Invalid("setting `a` is a number, not a text".into()))
        );
        assert!(bool_value("b", &SettingValue::Boolean(true)).unwrap());
        assert!(bool_value("b", &SettingValue::Text("x".into())).is_err());
        assert_eq!(
            i64_value("n", &SettingValue::Text("42".into())).unwrap(),
            42
        );
        assert_eq!(
            i64_value("n", &SettingValue::Boolean(false)),
            Err(Error::Invalid(
                "setting `n` is a boolean, not a number".into()
            ))
        );
    }
}
