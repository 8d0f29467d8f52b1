//! App settings: values typed and checked against the manifest's schema.

use serde_json::Value;

use super::manifest::{SettingDef, SettingType};

/// Checks a value an admin submitted (JSON) against the setting's type; returns the
/// value to store. Numbers in strings are accepted for `int`, as HTML forms send them.
pub fn value_from_json(def: &SettingDef, value: &Value) -> Result<Value, String> {
    match (def.kind, value) {
        (
            SettingType::String | SettingType::Password | SettingType::Multiline,
            Value::String(s),
        ) => {
            if s.len() > 64 * 1024 {
                return Err("is longer than 64 KiB".into());
            }
            if def.kind == SettingType::String && s.contains('\n') {
                return Err("must be a single line".into());
            }
            Ok(Value::String(s.clone()))
        }
        (SettingType::Int, Value::Number(n)) => n
            .as_i64()
            .map(Value::from)
            .ok_or_else(|| "must be a whole number".to_string()),
        (SettingType::Int, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "must be a whole number".to_string()),
        (SettingType::Bool, Value::Bool(b)) => Ok(Value::Bool(*b)),
        (SettingType::Select, Value::String(s)) => {
            if def.options.iter().any(|o| o.value == *s) {
                Ok(Value::String(s.clone()))
            } else {
                Err(format!(
                    "must be one of {}",
                    def.options
                        .iter()
                        .map(|o| o.value.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
        (kind, _) => Err(format!("must be a {}", type_name(kind))),
    }
}

fn type_name(kind: SettingType) -> &'static str {
    match kind {
        SettingType::String | SettingType::Password | SettingType::Multiline => "string",
        SettingType::Int => "whole number",
        SettingType::Bool => "boolean",
        SettingType::Select => "string",
    }
}

/// Checks a manifest default (TOML) the same way.
pub fn value_from_toml(def: &SettingDef, value: &toml::Value) -> Result<Value, String> {
    let json = match value {
        toml::Value::String(s) => Value::String(s.clone()),
        toml::Value::Integer(i) => Value::from(*i),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => return Err(format!("{} values are not supported", other.type_str())),
    };
    value_from_json(def, &json)
}

/// Whether a stored value counts as filled in (for required settings).
pub fn is_set(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::manifest::SettingOption;
    use serde_json::json;

    fn def(kind: SettingType) -> SettingDef {
        SettingDef {
            id: "s".into(),
            kind,
            label: "S".into(),
            description: None,
            required: false,
            default: None,
            options: vec![SettingOption {
                value: "a".into(),
                label: "A".into(),
            }],
        }
    }

    #[test]
    fn types_are_enforced() {
        assert_eq!(
            value_from_json(&def(SettingType::Int), &json!("42")).unwrap(),
            json!(42)
        );
        assert!(value_from_json(&def(SettingType::Int), &json!("x")).is_err());
        assert!(value_from_json(&def(SettingType::Bool), &json!("true")).is_err());
        assert!(value_from_json(&def(SettingType::Select), &json!("b")).is_err());
        assert!(value_from_json(&def(SettingType::String), &json!("a\nb")).is_err());
        assert!(value_from_json(&def(SettingType::Multiline), &json!("a\nb")).is_ok());
        assert!(!is_set(Some(&json!("  "))));
    }
}
