//! Reading a webhook payload the way Rocket.Chat's `processWebhookMessage` does:
//! Slack's field names (`text`, `username`, `icon_url`, `icon_emoji`, `attachments`)
//! and Rocket.Chat's own (`msg`, `alias`, `avatar`, `emoji`), with Slack attachments
//! mapped to Rocket.Chat's attachment documents.

use serde_json::{json, Map, Value};

pub use crate::chat::message_limits::is_http_url;
// Attachment keys copied as text are the ones the message limits check as text.
use crate::chat::message_limits::{MAX_FIELDS, TEXT_KEYS};
use crate::chat::messages::normalize_emoji;
use crate::chat::{ChatError, ChatResult};

/// Attachment keys holding links or images: only `http(s)` URLs are accepted, since
/// clients render them as links and `<img>` sources.
const URL_KEYS: &[&str] = &[
    "title_link",
    "image_url",
    "thumb_url",
    "author_link",
    "author_icon",
];

/// What a payload asks to post, before the integration's defaults are applied.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HookPayload {
    /// `channel` (a string, a comma-free list, or an array) or `roomId`.
    pub channels: Vec<String>,
    pub text: String,
    /// `username` (Slack) or `alias`.
    pub alias: Option<String>,
    /// `icon_url` (Slack) or `avatar`.
    pub avatar: Option<String>,
    /// `icon_emoji` (Slack) or `emoji`, normalized to `:name:`.
    pub emoji: Option<String>,
    pub attachments: Vec<Value>,
    /// Thread to reply in.
    pub tmid: Option<String>,
    pub custom_fields: Option<Value>,
}

fn invalid(message: impl Into<String>) -> ChatError {
    ChatError::invalid(message)
}

/// A non-empty string field; numbers and booleans are taken as their text, as
/// JavaScript senders often send them.
fn text_of(obj: &Map<String, Value>, key: &str, ctx: &str) -> ChatResult<Option<String>> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone()).filter(|s| !s.trim().is_empty())),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(Some(v.to_string())),
        Some(_) => Err(invalid(format!("{ctx}{key} must be a string"))),
    }
}

fn url_of(obj: &Map<String, Value>, key: &str, ctx: &str) -> ChatResult<Option<String>> {
    match text_of(obj, key, ctx)? {
        Some(url) if is_http_url(&url) => Ok(Some(url.trim().to_string())),
        Some(url) => Err(invalid(format!(
            "{ctx}{key} must be an http(s) URL, not {url:?}"
        ))),
        None => Ok(None),
    }
}

/// Slack's named colors as the hex values Slack renders them with.
fn color(value: &str) -> String {
    match value {
        "good" => "#2eb886".into(),
        "warning" => "#daa038".into(),
        "danger" => "#a30200".into(),
        other => other.to_string(),
    }
}

/// One Slack attachment as a Rocket.Chat attachment.
fn attachment(value: &Value, index: usize) -> ChatResult<Value> {
    let ctx = format!("attachments[{index}].");
    let Some(obj) = value.as_object() else {
        return Err(invalid(format!("attachments[{index}] must be an object")));
    };
    let mut out = Map::new();
    for key in TEXT_KEYS {
        if let Some(text) = text_of(obj, key, &ctx)? {
            out.insert((*key).to_string(), Value::String(text));
        }
    }
    // Rocket.Chat senders put the text in `msg` (processWebhookMessage renames it).
    if !out.contains_key("text") {
        if let Some(text) = text_of(obj, "msg", &ctx)? {
            out.insert("text".into(), Value::String(text.trim().to_string()));
        }
    }
    for key in URL_KEYS {
        if let Some(url) = url_of(obj, key, &ctx)? {
            out.insert((*key).to_string(), Value::String(url));
        }
    }
    if let Some(c) = text_of(obj, "color", &ctx)? {
        out.insert("color".into(), Value::String(color(c.trim())));
    }
    match obj.get("collapsed") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => {
            out.insert("collapsed".into(), Value::Bool(*b));
        }
        Some(_) => return Err(invalid(format!("{ctx}collapsed must be true or false"))),
    }
    match obj.get("fields") {
        None | Some(Value::Null) => {}
        Some(Value::Array(fields)) => {
            if fields.len() > MAX_FIELDS {
                return Err(ChatError::refused(
                    "error-message-size-exceeded",
                    format!("{ctx}fields: an attachment may have at most {MAX_FIELDS} fields"),
                ));
            }
            let mapped = fields
                .iter()
                .enumerate()
                .map(|(i, f)| field(f, &format!("{ctx}fields[{i}]")))
                .collect::<ChatResult<Vec<Value>>>()?;
            if !mapped.is_empty() {
                out.insert("fields".into(), Value::Array(mapped));
            }
        }
        Some(_) => return Err(invalid(format!("{ctx}fields must be an array"))),
    }
    Ok(Value::Object(out))
}

fn field(value: &Value, ctx: &str) -> ChatResult<Value> {
    let Some(obj) = value.as_object() else {
        return Err(invalid(format!("{ctx} must be an object")));
    };
    let inner = format!("{ctx}.");
    let title = text_of(obj, "title", &inner)?.unwrap_or_default();
    let value = text_of(obj, "value", &inner)?.unwrap_or_default();
    let short = match obj.get("short") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid(format!("{inner}short must be true or false"))),
    };
    Ok(json!({"title": title, "value": value, "short": short}))
}

/// The destination override: `channel` as a string (commas separate several, as
/// in the integration's own setting) or an array, else `roomId`.
fn channels(obj: &Map<String, Value>) -> ChatResult<Vec<String>> {
    let raw = match obj.get("channel") {
        None | Some(Value::Null) => obj.get("roomId"),
        given => given,
    };
    let not_strings = || invalid("channel must be a string or an array of strings");
    match raw {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(split_channels(s)),
        Some(Value::Array(items)) => {
            let mut list = Vec::new();
            for item in items {
                list.extend(channel_names(item.as_str().ok_or_else(not_strings)?));
            }
            Ok(list)
        }
        Some(_) => Err(not_strings()),
    }
}

/// The non-empty, trimmed names of a comma-separated list.
fn channel_names(s: &str) -> impl Iterator<Item = String> + '_ {
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
}

/// `"#a, @b"` → `["#a", "@b"]`.
pub fn split_channels(s: &str) -> Vec<String> {
    channel_names(s).collect()
}

/// Reads a payload (a JSON object).
pub fn parse(payload: &Value) -> ChatResult<HookPayload> {
    let Some(obj) = payload.as_object() else {
        return Err(invalid("The payload must be a JSON object"));
    };
    let text = match text_of(obj, "text", "")? {
        Some(t) => t,
        None => text_of(obj, "msg", "")?.unwrap_or_default(),
    };
    let alias = match text_of(obj, "username", "")? {
        Some(a) => Some(a),
        None => text_of(obj, "alias", "")?,
    };
    let avatar = match url_of(obj, "icon_url", "")? {
        Some(a) => Some(a),
        None => url_of(obj, "avatar", "")?,
    };
    let emoji = match text_of(obj, "icon_emoji", "")? {
        Some(e) => Some(e),
        None => text_of(obj, "emoji", "")?,
    }
    .map(|e| normalize_emoji(&e))
    .transpose()?;
    let attachments = match obj.get("attachments") {
        None | Some(Value::Null) => Vec::new(),
        // Their number and size are the message limits' to judge (in
        // `check_content`), as for every other way a message arrives.
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, a)| attachment(a, i))
            .collect::<ChatResult<Vec<Value>>>()?,
        Some(_) => return Err(invalid("attachments must be an array")),
    };
    let tmid = text_of(obj, "tmid", "")?;
    let custom_fields = match obj.get("customFields") {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) => Some(v.clone()),
        Some(_) => return Err(invalid("customFields must be an object")),
    };
    let payload = HookPayload {
        channels: channels(obj)?,
        text: text.trim().to_string(),
        alias,
        avatar,
        emoji,
        attachments,
        tmid,
        custom_fields,
    };
    if payload.text.is_empty() && payload.attachments.is_empty() {
        return Err(invalid(
            "The payload has no message: send \"text\" or \"attachments\"",
        ));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_slack_fields() {
        let p = parse(&json!({
            "text": " deploy done ",
            "username": "CI",
            "icon_emoji": ":rocket:",
            "channel": "#ops, @alice",
            "attachments": [{
                "title": "Build 42",
                "title_link": "https://ci.example.com/42",
                "text": "All green",
                "color": "good",
                "image_url": "https://ci.example.com/42.png",
                "author_name": "ci-bot",
                "fields": [{"title": "Duration", "value": 93, "short": true}],
                "mrkdwn_in": ["text"],
            }],
        }))
        .unwrap();
        assert_eq!(p.text, "deploy done");
        assert_eq!(p.alias.as_deref(), Some("CI"));
        assert_eq!(p.emoji.as_deref(), Some(":rocket:"));
        assert_eq!(p.channels, vec!["#ops", "@alice"]);
        assert_eq!(
            p.attachments,
            vec![json!({
                "title": "Build 42",
                "title_link": "https://ci.example.com/42",
                "text": "All green",
                "color": "#2eb886",
                "image_url": "https://ci.example.com/42.png",
                "author_name": "ci-bot",
                "fields": [{"title": "Duration", "value": "93", "short": true}],
            })]
        );
    }

    #[test]
    fn refuses_what_cannot_be_posted() {
        assert!(parse(&json!({})).is_err());
        assert!(parse(&json!({"text": "  "})).is_err());
        assert!(parse(&json!("text")).is_err());
        assert!(parse(&json!({"text": "x", "attachments": {"title": "t"}})).is_err());
        assert!(parse(&json!({"attachments": [{"title_link": "javascript:alert(1)"}]})).is_err());
        assert!(parse(&json!({"text": "x", "icon_url": "file:///etc/passwd"})).is_err());
        assert!(parse(&json!({"text": "x", "icon_emoji": "<b>"})).is_err());
        // Attachments alone are a message.
        assert!(parse(&json!({"attachments": [{"title": "t"}]})).is_ok());
    }

    #[test]
    fn rocket_chat_names_work_too() {
        let p = parse(&json!({
            "msg": "hi", "alias": "Bot", "avatar": "https://x.example/a.png",
            "roomId": "abc", "attachments": [{"msg": " body "}],
        }))
        .unwrap();
        assert_eq!(p.text, "hi");
        assert_eq!(p.alias.as_deref(), Some("Bot"));
        assert_eq!(p.avatar.as_deref(), Some("https://x.example/a.png"));
        assert_eq!(p.channels, vec!["abc"]);
        assert_eq!(p.attachments, vec![json!({"text": "body"})]);
    }

    #[test]
    fn channel_arrays_are_flattened() {
        let p = parse(&json!({"text": "x", "channel": ["#a, #b", " @c "], "roomId": "r"})).unwrap();
        assert_eq!(p.channels, vec!["#a", "#b", "@c"]);
        let p = parse(&json!({"text": "x", "channel": null, "roomId": "r"})).unwrap();
        assert_eq!(p.channels, vec!["r"]);
        assert!(parse(&json!({"text": "x", "channel": ["#a", 1]})).is_err());
        assert!(parse(&json!({"text": "x", "roomId": 7})).is_err());
    }
}
