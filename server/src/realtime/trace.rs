//! Method and subscription traces (`Log_Trace_Methods`, `Log_Trace_Subscriptions`
//! and their filters): a log line per call with the connection it came on, in
//! Rocket.Chat's shape (`<name> { id, clientAddress, httpHeaders, userId }`, as
//! Node prints an object), so what administrators grep for reads the same. The
//! connection's credentials never reach the log: `x-auth-token` and
//! `authorization` are redacted, and the `rc_token` cookie.

use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use axum::http::HeaderMap;

use crate::chat::Chat;
use crate::server_log::TRACE_TARGET;

/// The connection a call came on, as a trace shows it. Kept as received: the
/// credentials are redacted when (if ever) a trace is written.
#[derive(Clone, Debug)]
pub struct ConnTrace {
    /// The DDP session id; `None` over REST, where each traced call gets a new
    /// id (Rocket.Chat's).
    id: Option<String>,
    pub client_address: IpAddr,
    headers: HeaderMap,
}

impl ConnTrace {
    pub fn new(id: Option<String>, client_address: IpAddr, headers: HeaderMap) -> ConnTrace {
        ConnTrace {
            id,
            client_address,
            headers,
        }
    }

    /// Rocket.Chat's trace object, printed as Node prints it.
    fn render(&self, user_id: Option<&str>) -> String {
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes());
                let value = match name.as_str() {
                    "x-auth-token" | "authorization" => "[redacted]".into(),
                    "cookie" => redact_cookies(&value),
                    _ => value.into_owned(),
                };
                format!("{}: {}", js_key(name.as_str()), js_string(&value))
            })
            .collect();
        let id = self.id.clone().unwrap_or_else(crate::chat::ids::new_id);
        format!(
            "{{ id: {}, clientAddress: {}, httpHeaders: {{ {} }}, userId: {} }}",
            js_string(&id),
            js_string(&self.client_address.to_string()),
            headers.join(", "),
            user_id.map_or("null".to_string(), js_string),
        )
    }
}

/// What is traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Traced {
    Method,
    Subscription,
}

impl Traced {
    fn settings(self) -> (&'static str, &'static str) {
        match self {
            Traced::Method => ("Log_Trace_Methods", "Log_Trace_Methods_Filter"),
            Traced::Subscription => ("Log_Trace_Subscriptions", "Log_Trace_Subscriptions_Filter"),
        }
    }
}

/// Logs the call when its kind is traced and `name` passes the filter; the
/// caller's user is looked up only then.
pub fn trace(
    chat: &Chat,
    kind: Traced,
    name: &str,
    conn: &ConnTrace,
    user_id: impl FnOnce() -> Option<String>,
) {
    let (enabled, filter) = kind.settings();
    let settings = chat.settings();
    if !settings.bool(enabled) {
        return;
    }
    let pattern = settings.string(filter);
    if !pattern.is_empty() && !FILTERS.matches(kind, &pattern, name) {
        return;
    }
    let line = conn.render(user_id().as_deref());
    tracing::info!(target: TRACE_TARGET, "{name} {line}");
}

/// The compiled filters, kept until their setting changes.
struct Filters(Mutex<Vec<(Traced, String, Option<regex::Regex>)>>);

static FILTERS: Filters = Filters(Mutex::new(Vec::new()));

impl Filters {
    fn matches(&self, kind: Traced, pattern: &str, name: &str) -> bool {
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = match cache.iter().position(|(k, _, _)| *k == kind) {
            Some(i) if cache[i].1 == pattern => i,
            found => {
                // A stored filter was checked when set; one that no longer
                // compiles (a newer engine) lets everything through.
                let entry = (kind, pattern.to_string(), regex::Regex::new(pattern).ok());
                match found {
                    Some(i) => {
                        cache[i] = entry;
                        i
                    }
                    None => {
                        cache.push(entry);
                        cache.len() - 1
                    }
                }
            }
        };
        cache[slot].2.as_ref().is_none_or(|re| re.is_match(name))
    }
}

/// Each `rc_token=…` of a `Cookie` header as `rc_token=[redacted]`.
fn redact_cookies(value: &str) -> String {
    value
        .split("; ")
        .map(|c| {
            if c.starts_with("rc_token=") {
                "rc_token=[redacted]"
            } else {
                c
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// An object key as Node prints it: bare when an identifier, else quoted.
fn js_key(key: &str) -> String {
    let identifier = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
    if identifier {
        key.to_string()
    } else {
        js_string(key)
    }
}

/// A string as Node prints it: single quotes, escaped.
fn js_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("\\'"),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted_as_rocket_chat_prints_them() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "chat.example".parse().unwrap());
        headers.insert("x-auth-token", "secret-token".parse().unwrap());
        headers.insert("x-user-id", "u1".parse().unwrap());
        headers.insert(
            "cookie",
            "a=1; rc_token=secret-token; rc_uid=u1".parse().unwrap(),
        );
        let conn = ConnTrace::new(Some("c1".into()), "127.0.0.1".parse().unwrap(), headers);
        let line = conn.render(Some("u1"));
        assert!(!line.contains("secret-token"), "{line}");
        assert!(line.contains("'x-auth-token': '[redacted]'"), "{line}");
        assert!(
            line.contains("cookie: 'a=1; rc_token=[redacted]; rc_uid=u1'"),
            "{line}"
        );
        assert!(
            line.starts_with(
                "{ id: 'c1', clientAddress: '127.0.0.1', httpHeaders: { host: 'chat.example'"
            ),
            "{line}"
        );
        assert!(line.ends_with("userId: 'u1' }"), "{line}");
        assert!(conn.render(None).ends_with("userId: null }"));
        let rest = ConnTrace::new(None, "127.0.0.1".parse().unwrap(), HeaderMap::new());
        assert!(
            rest.render(None).starts_with("{ id: '"),
            "a new id per call"
        );
    }

    #[test]
    fn strings_are_quoted_as_node_does() {
        assert_eq!(js_string("it's \\ ok\n"), r"'it\'s \\ ok\n'");
        assert_eq!(js_key("user-agent"), "'user-agent'");
        assert_eq!(js_key("host"), "host");
    }

    #[test]
    fn filters_are_compiled_once_per_pattern() {
        let filters = Filters(Mutex::new(Vec::new()));
        assert!(filters.matches(Traced::Method, "^get", "getRoomRoles"));
        assert!(!filters.matches(Traced::Method, "^get", "sendMessage"));
        assert!(filters.matches(Traced::Method, "send", "sendMessage"));
        assert!(!filters.matches(
            Traced::Subscription,
            "^stream-",
            "meteor.loginServiceConfiguration"
        ));
        assert_eq!(filters.0.lock().unwrap().len(), 2);
    }
}
