//! User custom fields (Rocket.Chat's `Accounts_CustomFields`): a JSON object naming
//! the workspace's own profile fields and their rules. Only configured fields are
//! stored; with the setting blank, none are.

use serde_json::{Map, Value};

use super::error::{ChatError, ChatResult};
use super::Chat;

fn field_error(message: String) -> ChatError {
    ChatError::refused("error-user-registration-custom-field", message)
}

/// A submitted value as the rules read it: text trimmed, other values as JSON.
fn text_of(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.trim().to_string(),
        Some(other) => other.to_string(),
    }
}

/// Rocket.Chat's `validateCustomFields` over one field's rules.
fn check_field(name: &str, rules: &Value, value: Option<&Value>) -> ChatResult<()> {
    let text = text_of(value);
    let len = text.chars().count() as u64;
    if rules.get("required").and_then(Value::as_bool) == Some(true) && text.is_empty() {
        return Err(field_error(format!("Field {name} is required")));
    }
    if rules.get("type").and_then(Value::as_str) == Some("select") {
        let options = rules.get("options").and_then(Value::as_array);
        let listed = value.is_some_and(|v| options.is_some_and(|o| o.contains(v)));
        if !listed {
            return Err(field_error(format!("Value for field {name} is invalid")));
        }
    }
    if let Some(max) = rules.get("maxLength").and_then(Value::as_u64) {
        if max > 0 && len > max {
            return Err(field_error(format!("Max length of field {name} {max}")));
        }
    }
    if let Some(min) = rules.get("minLength").and_then(Value::as_u64) {
        if min > 0 && len > 0 && len < min {
            return Err(field_error(format!("Min length of field {name} {min}")));
        }
    }
    Ok(())
}

/// Checks `given` against the configured fields (`config`, the setting's text) and
/// returns what is stored: the configured fields only. `None` when nothing is
/// configured.
pub fn checked_custom_fields(
    config: &str,
    given: &Map<String, Value>,
) -> ChatResult<Option<Map<String, Value>>> {
    if config.trim().is_empty() {
        return Ok(None);
    }
    let meta: Map<String, Value> = serde_json::from_str(config).map_err(|_| {
        ChatError::refused(
            "error-invalid-customfield-json",
            "Invalid JSON for Custom Fields",
        )
    })?;
    let mut stored = Map::new();
    for (name, rules) in &meta {
        let value = given.get(name);
        check_field(name, rules, value)?;
        if let Some(v) = value.filter(|v| !v.is_null()) {
            stored.insert(name.clone(), v.clone());
        }
    }
    Ok(Some(stored))
}

impl Chat {
    /// [`checked_custom_fields`] against the current `Accounts_CustomFields`.
    pub fn check_custom_fields(
        &self,
        given: &Map<String, Value>,
    ) -> ChatResult<Option<Map<String, Value>>> {
        checked_custom_fields(&self.settings().string("Accounts_CustomFields"), given)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn given(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    const TEXT: &str =
        r#"{"customFieldText":{"type":"text","required":true,"minLength":2,"maxLength":10}}"#;

    #[test]
    fn text_fields_follow_their_rules() {
        let ok = checked_custom_fields(
            TEXT,
            &given(json!({"customFieldText": "success", "other": 1})),
        )
        .expect("valid");
        assert_eq!(ok, Some(given(json!({"customFieldText": "success"}))));
        for bad in [
            json!({"customFieldText": ""}),
            json!({}),
            json!({"customFieldText": "0"}),
            json!({"customFieldText": "0123456789-0"}),
        ] {
            let err = checked_custom_fields(TEXT, &given(bad.clone())).expect_err("invalid");
            assert_eq!(
                err.error_type(),
                "error-user-registration-custom-field",
                "{bad}"
            );
        }
    }

    #[test]
    fn select_fields_take_listed_options_and_blank_config_stores_nothing() {
        let config = r#"{"team":{"type":"select","options":["red","blue"]}}"#;
        assert!(checked_custom_fields(config, &given(json!({"team": "red"}))).is_ok());
        assert!(checked_custom_fields(config, &given(json!({"team": "green"}))).is_err());
        assert_eq!(
            checked_custom_fields("  ", &given(json!({"x": "y"}))).expect("blank"),
            None
        );
        assert_eq!(
            checked_custom_fields("{not json", &given(json!({})))
                .expect_err("bad json")
                .error_type(),
            "error-invalid-customfield-json"
        );
    }
}
