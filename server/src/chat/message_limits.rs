//! The one check a message's content passes before it is stored, whichever way it
//! arrives (REST, realtime, incoming webhook, an app's host call, an app's pre-send
//! `modify`): text length, attachments (count, nesting, fields, text, links) and the
//! serialized size of everything besides the text, so no sender can make a room's
//! history arbitrarily large.

use std::io;

use serde_json::{Map, Value};

use super::error::{ChatError, ChatResult};
use super::messages::NewMessage;
use crate::store::Message;

/// Most fields one attachment may carry (Slack's limit).
pub const MAX_FIELDS: usize = 100;
/// How deep attachments nest: a top-level attachment may hold attachments (a quoted
/// message's), those may not hold more.
pub const MAX_DEPTH: usize = 2;
/// Longest link (attachment URLs, avatar), in bytes.
pub const MAX_URL_BYTES: usize = 2048;
/// Longest alias, in characters.
pub const MAX_ALIAS_CHARS: usize = 200;

/// Attachment keys holding text, each limited like the message text (Rocket.Chat
/// checks an attachment's `text` against `Message_MaxAllowedSize`).
pub(crate) const TEXT_KEYS: &[&str] = &["text", "pretext", "title", "fallback", "author_name"];
/// Attachment keys holding links or images: clients render them as `href`s and
/// media sources, so only `http(s)` URLs and site paths are accepted.
const URL_KEYS: &[&str] = &[
    "title_link",
    "image_url",
    "thumb_url",
    "author_link",
    "author_icon",
    "audio_url",
    "video_url",
    "message_link",
];

/// The limits, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct MessageLimits {
    /// Longest text (and attachment text), in characters (`Message_MaxAllowedSize`).
    pub max_text_chars: usize,
    /// Most attachments, nested ones included.
    pub max_attachments: usize,
    /// Largest serialized size of attachments, custom fields, alias, emoji and
    /// avatar together (everything but the text), in bytes.
    pub max_bytes: usize,
}

impl Default for MessageLimits {
    fn default() -> Self {
        MessageLimits {
            max_text_chars: 5000,
            max_attachments: 100,
            max_bytes: 64 * 1024,
        }
    }
}

/// The parts of a message a sender (or an app) chooses.
#[derive(Clone, Copy, Debug)]
pub struct Content<'a> {
    pub msg: &'a str,
    pub alias: Option<&'a str>,
    pub emoji: Option<&'a str>,
    pub avatar: Option<&'a str>,
    pub attachments: &'a [Value],
    pub custom_fields: Option<&'a Value>,
}

impl<'a> From<&'a Message> for Content<'a> {
    fn from(m: &'a Message) -> Self {
        Content {
            msg: &m.msg,
            alias: m.alias.as_deref(),
            emoji: m.emoji.as_deref(),
            avatar: m.avatar.as_deref(),
            attachments: &m.attachments,
            custom_fields: m.custom_fields.as_ref(),
        }
    }
}

impl<'a> From<&'a NewMessage> for Content<'a> {
    fn from(m: &'a NewMessage) -> Self {
        Content {
            msg: &m.msg,
            alias: m.alias.as_deref(),
            emoji: m.emoji.as_deref(),
            avatar: m.avatar.as_deref(),
            attachments: &m.attachments,
            custom_fields: m.custom_fields.as_ref(),
        }
    }
}

fn size_exceeded(message: String) -> ChatError {
    ChatError::refused("error-message-size-exceeded", message)
}

/// Whether `url` is an absolute `http`/`https` URL.
pub fn is_http_url(url: &str) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/'))
        && !url.chars().any(|c| c.is_control() || c.is_whitespace())
}

/// Whether `url` may be rendered as a link or media source: `http(s)`, or a path on
/// this site (`/file-upload/…`), never `javascript:`, `data:` or `//other.host`.
pub fn is_safe_link(url: &str) -> bool {
    url.len() <= MAX_URL_BYTES
        && (is_http_url(url)
            || (url.starts_with('/')
                && !url.starts_with("//")
                && !url.starts_with("/\\")
                && !url.chars().any(|c| c.is_control() || c.is_whitespace())))
}

/// Counts bytes and gives up past `limit`, so an oversized value is never fully
/// serialized.
struct Budget {
    used: usize,
    limit: usize,
}

impl io::Write for Budget {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.used += buf.len();
        if self.used > self.limit {
            return Err(io::Error::other("over budget"));
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl MessageLimits {
    /// The text alone: for edits, which change nothing else.
    pub fn check_text(&self, text: &str) -> ChatResult<()> {
        if text.chars().count() > self.max_text_chars {
            return Err(size_exceeded(format!(
                "Message size exceeds Message_MaxAllowedSize ({} characters)",
                self.max_text_chars
            )));
        }
        Ok(())
    }

    /// Checks a whole message's content; cheap checks (counts) come before the ones
    /// that walk it.
    pub fn check(&self, c: Content<'_>) -> ChatResult<()> {
        self.check_text(c.msg)?;
        let count = count_attachments(c.attachments, self.max_attachments);
        if count > self.max_attachments {
            return Err(size_exceeded(format!(
                "A message may have at most {} attachments",
                self.max_attachments
            )));
        }
        self.check_bytes(c)?;
        if let Some(alias) = c.alias {
            if alias.chars().count() > MAX_ALIAS_CHARS || alias.chars().any(char::is_control) {
                return Err(ChatError::invalid(format!(
                    "The alias must be at most {MAX_ALIAS_CHARS} characters, without control characters"
                )));
            }
        }
        if let Some(avatar) = c.avatar {
            if !is_safe_link(avatar) {
                return Err(ChatError::invalid(format!(
                    "The avatar must be an http(s) URL or a path of this site, at most {MAX_URL_BYTES} bytes"
                )));
            }
        }
        if let Some(emoji) = c.emoji {
            super::messages::normalize_emoji(emoji)?;
        }
        if c.custom_fields.is_some_and(|v| !v.is_object()) {
            return Err(ChatError::invalid("customFields must be an object"));
        }
        for (i, a) in c.attachments.iter().enumerate() {
            self.check_attachment(a, &format!("attachments[{i}]"), 1)?;
        }
        Ok(())
    }

    fn check_bytes(&self, c: Content<'_>) -> ChatResult<()> {
        let mut budget = Budget {
            used: 0,
            limit: self.max_bytes,
        };
        let fits = serde_json::to_writer(&mut budget, c.attachments).is_ok()
            && serde_json::to_writer(&mut budget, &c.custom_fields).is_ok()
            && serde_json::to_writer(&mut budget, &(c.alias, c.emoji, c.avatar)).is_ok();
        if !fits {
            return Err(size_exceeded(format!(
                "Message size exceeds the allowed {} bytes of attachments and custom fields",
                self.max_bytes
            )));
        }
        Ok(())
    }

    fn check_attachment(&self, value: &Value, ctx: &str, depth: usize) -> ChatResult<()> {
        let Some(obj) = value.as_object() else {
            return Err(ChatError::invalid(format!("{ctx} must be an object")));
        };
        for key in TEXT_KEYS {
            match obj.get(*key) {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    if s.chars().count() > self.max_text_chars {
                        return Err(size_exceeded(format!(
                            "{ctx}.{key} exceeds Message_MaxAllowedSize ({} characters)",
                            self.max_text_chars
                        )));
                    }
                }
                Some(_) => return Err(ChatError::invalid(format!("{ctx}.{key} must be a string"))),
            }
        }
        for key in URL_KEYS {
            match obj.get(*key) {
                None | Some(Value::Null) => {}
                Some(Value::String(url)) if url.is_empty() || is_safe_link(url) => {}
                Some(_) => {
                    return Err(ChatError::invalid(format!(
                        "{ctx}.{key} must be an http(s) URL or a path of this site, at most {MAX_URL_BYTES} bytes"
                    )))
                }
            }
        }
        check_fields(obj, ctx)?;
        match obj.get("attachments") {
            None | Some(Value::Null) => {}
            Some(Value::Array(inner)) if depth < MAX_DEPTH => {
                for (i, a) in inner.iter().enumerate() {
                    self.check_attachment(a, &format!("{ctx}.attachments[{i}]"), depth + 1)?;
                }
            }
            Some(Value::Array(_)) => {
                return Err(ChatError::invalid(format!(
                    "{ctx}: attachments nest at most {MAX_DEPTH} deep"
                )))
            }
            Some(_) => {
                return Err(ChatError::invalid(format!(
                    "{ctx}.attachments must be an array"
                )))
            }
        }
        Ok(())
    }
}

/// Attachments including nested ones; stops counting once past `limit`.
fn count_attachments(list: &[Value], limit: usize) -> usize {
    let mut count = list.len();
    if count > limit {
        return count;
    }
    for a in list {
        if let Some(Value::Array(inner)) = a.get("attachments") {
            count += count_attachments(inner, limit.saturating_sub(count));
            if count > limit {
                break;
            }
        }
    }
    count
}

fn check_fields(obj: &Map<String, Value>, ctx: &str) -> ChatResult<()> {
    let fields = match obj.get("fields") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(fields)) => fields,
        Some(_) => return Err(ChatError::invalid(format!("{ctx}.fields must be an array"))),
    };
    if fields.len() > MAX_FIELDS {
        return Err(size_exceeded(format!(
            "{ctx}: an attachment may have at most {MAX_FIELDS} fields"
        )));
    }
    for (i, f) in fields.iter().enumerate() {
        let ctx = format!("{ctx}.fields[{i}]");
        let Some(f) = f.as_object() else {
            return Err(ChatError::invalid(format!("{ctx} must be an object")));
        };
        let ok = matches!(f.get("title"), None | Some(Value::Null | Value::String(_)))
            && matches!(
                f.get("value"),
                None | Some(Value::Null | Value::String(_) | Value::Number(_) | Value::Bool(_))
            )
            && matches!(f.get("short"), None | Some(Value::Null | Value::Bool(_)));
        if !ok {
            return Err(ChatError::invalid(format!(
                "{ctx}: title must be a string, value a string, number or boolean, short a boolean"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn content(attachments: &[Value]) -> Content<'_> {
        Content {
            msg: "hi",
            alias: None,
            emoji: None,
            avatar: None,
            attachments,
            custom_fields: None,
        }
    }

    fn error_type(r: ChatResult<()>) -> &'static str {
        r.map(|_| "ok").unwrap_or_else(|e| e.error_type())
    }

    #[test]
    fn refuses_each_kind_of_oversized_message() {
        let limits = MessageLimits {
            max_text_chars: 10,
            max_attachments: 3,
            max_bytes: 1000,
        };
        let check = |a: Vec<Value>| error_type(limits.check(content(&a)));
        let size = "error-message-size-exceeded";
        assert_eq!(check(vec![json!({"title": "t"}); 3]), "ok");
        assert_eq!(check(vec![json!({}); 4]), size);
        // Nested attachments count too.
        assert_eq!(
            check(vec![
                json!({"attachments": [{}, {}]}),
                json!({"attachments": [{}]})
            ]),
            size
        );
        assert_eq!(check(vec![json!({"text": "x".repeat(11)})]), size);
        assert_eq!(check(vec![json!({"title": "x".repeat(2000)})]), size);
        let fields: Vec<Value> = (0..=MAX_FIELDS).map(|_| json!({})).collect();
        let limits_big = MessageLimits {
            max_bytes: 1 << 20,
            ..limits
        };
        assert_eq!(
            error_type(limits_big.check(content(&[json!({ "fields": fields })]))),
            size
        );
        assert_eq!(
            error_type(limits.check(Content {
                msg: &"x".repeat(11),
                ..content(&[])
            })),
            size
        );
        assert_eq!(
            error_type(limits.check(Content {
                custom_fields: Some(&json!({"k": "x".repeat(1000)})),
                ..content(&[])
            })),
            size
        );
    }

    #[test]
    fn refuses_malformed_attachments() {
        let limits = MessageLimits::default();
        let check = |a: Value| error_type(limits.check(content(std::slice::from_ref(&a))));
        let invalid = "invalid-params";
        assert_eq!(check(json!("text")), invalid);
        assert_eq!(check(json!({"title_link": "javascript:alert(1)"})), invalid);
        assert_eq!(check(json!({"image_url": "//evil.example/x.png"})), invalid);
        assert_eq!(check(json!({"text": 7})), invalid);
        assert_eq!(check(json!({"fields": [{"title": {}}]})), invalid);
        assert_eq!(
            check(json!({"attachments": [{"attachments": [{}]}]})),
            invalid
        );
        assert_eq!(
            check(
                json!({"title_link": "https://x.example/a", "image_url": "/file-upload/a.png",
                "fields": [{"title": "n", "value": 3, "short": true}], "attachments": [{"text": "q"}]})
            ),
            "ok"
        );
        let with = |avatar: &'static str| {
            error_type(limits.check(Content {
                avatar: Some(avatar),
                ..content(&[])
            }))
        };
        assert_eq!(with("https://x.example/a.png"), "ok");
        assert_eq!(with("javascript:alert(1)"), invalid);
    }

    #[test]
    fn urls() {
        assert!(is_http_url("https://example.com/x"));
        assert!(is_http_url("HTTP://example.com"));
        assert!(!is_http_url("https://"));
        assert!(!is_http_url("javascript:alert(1)"));
        assert!(!is_http_url("https://exa mple.com"));
        assert!(!is_http_url("//example.com"));
        assert!(is_safe_link("/avatar/x"));
        assert!(!is_safe_link("/\\evil.example"));
        assert!(!is_safe_link(&format!(
            "https://x.example/{}",
            "a".repeat(MAX_URL_BYTES)
        )));
    }
}
