//! Rocket.Chat's `validateMessage`: attachment fields of the types its clients
//! render (links, sizes and the attachments' own links are the message limits'),
//! actions' links that can never run script (`javascript:` in an `href`), and the
//! custom fields a workspace allows (`Message_CustomFields_Enabled` and the JSON
//! schema in `Message_CustomFields`, of which the parts Rocket.Chat's admins use:
//! `type`, `enum`, `nullable`, `properties`, `required`, `additionalProperties`).

use serde_json::{Map, Value};

use super::error::{ChatError, ChatResult};
use super::message_limits::is_safe_link;

/// What a field of an attachment (or of one of its actions) must be.
#[derive(Clone, Copy)]
enum Want {
    Str,
    Bool,
    Num,
    StrOrNum,
    /// A link rendered as an `href`.
    Url,
    Array,
    Object,
}

const ATTACHMENT: &[(&str, Want)] = &[
    ("color", Want::Str),
    ("text", Want::Str),
    ("ts", Want::StrOrNum),
    ("thumb_url", Want::Url),
    ("button_alignment", Want::Str),
    ("actions", Want::Array),
    ("message_link", Want::Url),
    ("collapsed", Want::Bool),
    ("author_name", Want::Str),
    ("author_link", Want::Url),
    ("author_icon", Want::Url),
    ("title", Want::Str),
    ("title_link", Want::Url),
    ("title_link_download", Want::Bool),
    ("image_dimensions", Want::Object),
    ("image_url", Want::Url),
    ("image_preview", Want::Str),
    ("image_type", Want::Str),
    ("image_size", Want::Num),
    ("audio_url", Want::Url),
    ("audio_type", Want::Str),
    ("audio_size", Want::Num),
    ("video_url", Want::Url),
    ("video_type", Want::Str),
    ("video_size", Want::Num),
    ("fields", Want::Array),
];

const ACTION: &[(&str, Want)] = &[
    ("type", Want::Str),
    ("text", Want::Str),
    ("url", Want::Url),
    ("image_url", Want::Url),
    ("is_webview", Want::Bool),
    ("webview_height_ratio", Want::Str),
    ("msg", Want::Str),
    ("msg_in_chat_window", Want::Bool),
];

const FIELD: &[(&str, Want)] = &[("short", Want::Bool), ("title", Want::Str)];

fn check_fields(obj: &Map<String, Value>, spec: &[(&str, Want)], what: &str) -> ChatResult<()> {
    for (key, want) in spec {
        let Some(v) = obj.get(*key).filter(|v| !v.is_null()) else {
            continue;
        };
        let ok = match want {
            Want::Str => v.is_string(),
            Want::Bool => v.is_boolean(),
            Want::Num => v.is_number(),
            Want::StrOrNum => v.is_string() || v.is_number(),
            Want::Url => v.as_str().is_some_and(is_safe_link),
            Want::Array => v.is_array(),
            Want::Object => v.is_object(),
        };
        if !ok {
            return Err(ChatError::invalid(match want {
                Want::Url => format!("Invalid href value provided in {what}.{key}"),
                _ => format!("Match error: wrong type in {what}.{key}"),
            }));
        }
    }
    Ok(())
}

/// Checks each attachment as Rocket.Chat's `validateAttachment` does.
pub fn validate_attachments(attachments: &[Value]) -> ChatResult<()> {
    for a in attachments {
        let Some(obj) = a.as_object() else {
            return Err(ChatError::invalid(
                "Match error: an attachment must be an object",
            ));
        };
        check_fields(obj, ATTACHMENT, "attachment")?;
        for field in obj
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(f) = field.as_object() else {
                return Err(ChatError::invalid(
                    "Match error: wrong type in attachment.fields",
                ));
            };
            check_fields(f, FIELD, "attachment.fields")?;
            if f.get("value")
                .is_some_and(|v| !(v.is_string() || v.is_number() || v.is_boolean() || v.is_null()))
            {
                return Err(ChatError::invalid(
                    "Match error: wrong type in attachment.fields.value",
                ));
            }
        }
        for action in obj
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(act) = action.as_object() else {
                return Err(ChatError::invalid(
                    "Match error: wrong type in attachment.actions",
                ));
            };
            check_fields(act, ACTION, "attachment.actions")?;
        }
    }
    Ok(())
}

/// Custom fields against the workspace's settings.
pub fn validate_custom_fields(fields: &Value, enabled: bool, schema: &str) -> ChatResult<()> {
    if !enabled {
        return Err(ChatError::invalid("Custom fields not enabled"));
    }
    let schema: Value = serde_json::from_str(schema)
        .map_err(|_| ChatError::invalid("Invalid Message_CustomFields setting"))?;
    let Some(obj) = fields.as_object() else {
        return Err(ChatError::invalid("customFields must be an object"));
    };
    if obj.is_empty() {
        return Err(ChatError::invalid("customFields must not be empty"));
    }
    check_schema(fields, &schema, "customFields")
}

fn type_matches(v: &Value, ty: &str) -> bool {
    match ty {
        "string" => v.is_string(),
        "number" => v.is_number(),
        "integer" => v.is_i64() || v.is_u64(),
        "boolean" => v.is_boolean(),
        "object" => v.is_object(),
        "array" => v.is_array(),
        "null" => v.is_null(),
        _ => true,
    }
}

fn check_schema(v: &Value, schema: &Value, path: &str) -> ChatResult<()> {
    let bad = |why: &str| {
        Err(ChatError::invalid(format!(
            "Invalid custom fields: {path} {why}"
        )))
    };
    if v.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        return Ok(());
    }
    if let Some(ty) = schema.get("type").and_then(Value::as_str) {
        if !type_matches(v, ty) {
            return bad(&format!("must be {ty}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(v) {
            return bad("must be one of the allowed values");
        }
    }
    if let Some(obj) = v.as_object() {
        let props = schema.get("properties").and_then(Value::as_object);
        for required in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = required.as_str() {
                if !obj.contains_key(name) {
                    return bad(&format!("must have required property '{name}'"));
                }
            }
        }
        // Rocket.Chat's schemas list every field: anything else is refused unless
        // the schema allows more.
        let extra_ok = schema.get("additionalProperties").and_then(Value::as_bool) == Some(true);
        for (key, value) in obj {
            match props.and_then(|p| p.get(key)) {
                Some(sub) => check_schema(value, sub, &format!("{path}.{key}"))?,
                None if props.is_some() && !extra_ok => {
                    return bad(&format!("must not have property '{key}'"));
                }
                None => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn refuses_script_links_and_wrong_types() {
        assert!(
            validate_attachments(&[json!({"title_link": "https://x.y", "fields": []})]).is_ok()
        );
        assert!(validate_attachments(&[json!({"message_link": "javascript:alert(1)"})]).is_err());
        assert!(validate_attachments(&[json!({"message_link": 12})]).is_err());
        assert!(validate_attachments(&[json!({"fields": ""})]).is_err());
        assert!(validate_attachments(&[json!({"actions": [{"url": "JavaScript:x"}]})]).is_err());
        assert!(validate_attachments(&[json!({"fields": [{"title": 1}]})]).is_err());
    }

    #[test]
    fn custom_fields_follow_the_schema() {
        let schema = r#"{"properties":{"priority":{"type":"string","nullable":false,"enum":["low","high"]}},"required":["priority"]}"#;
        assert!(validate_custom_fields(&json!({"priority": "low"}), true, schema).is_ok());
        assert!(validate_custom_fields(&json!({"priority": "low"}), false, schema).is_err());
        assert!(validate_custom_fields(&json!({}), true, schema).is_err());
        assert!(validate_custom_fields(&json!({"field1": "v"}), true, schema).is_err());
        assert!(validate_custom_fields(&json!({"priority": "urgent"}), true, schema).is_err());
    }
}
