//! DDP as Rocket.Chat speaks it: parsing client frames, building server frames, and
//! Meteor's error objects. Frames that many connections receive are built once as
//! text and shared, so fan-out costs a reference count, not a serialization.

use axum::extract::ws::Utf8Bytes;
use serde_json::{json, Map, Value};

use crate::apps::AppsError;
use crate::chat::ChatError;
use crate::store::{StoreError, Ts};

/// DDP versions we speak, best first (Meteor's order).
pub const SUPPORTED_VERSIONS: [&str; 3] = ["1", "pre2", "pre1"];

/// Subscription (and collection) names of Rocket.Chat's streams.
pub const ROOM_MESSAGES: &str = "stream-room-messages";
pub const NOTIFY_USER: &str = "stream-notify-user";
pub const NOTIFY_ROOM: &str = "stream-notify-room";
pub const NOTIFY_LOGGED: &str = "stream-notify-logged";
pub const USER_PRESENCE: &str = "stream-user-presence";

/// The largest date JavaScript can represent; tokens without expiry show this.
const MAX_JS_DATE_MS: i64 = 8_640_000_000_000_000;

/// A client frame after the handshake, already checked for Meteor's required shape.
#[derive(Debug)]
pub enum ClientMsg {
    Connect {
        version: Option<String>,
    },
    Ping {
        id: Option<Value>,
    },
    Pong,
    Method {
        id: String,
        method: String,
        params: Vec<Value>,
    },
    Sub {
        id: String,
        name: String,
        params: Vec<Value>,
    },
    Unsub {
        id: Value,
    },
}

/// Why a frame could not be understood; answered with a DDP `error` frame.
#[derive(Debug)]
pub struct BadFrame {
    pub reason: &'static str,
    pub offending: Option<Value>,
}

/// Parses one text frame. Meteor's rules: unparsable → `Parse error`; no `msg` →
/// `Bad request`; a method or sub with wrongly typed fields → `Malformed …`.
pub fn parse(text: &str) -> Result<ClientMsg, BadFrame> {
    let value: Value = serde_json::from_str(text).map_err(|_| BadFrame {
        reason: "Parse error",
        offending: None,
    })?;
    let bad = |reason: &'static str, v: &Value| BadFrame {
        reason,
        offending: Some(v.clone()),
    };
    let Some(kind) = value.get("msg").and_then(Value::as_str) else {
        return Err(bad("Bad request", &value));
    };
    let params = |v: &Value| -> Option<Vec<Value>> {
        match v.get("params") {
            None | Some(Value::Null) => Some(Vec::new()),
            Some(Value::Array(items)) => Some(items.clone()),
            Some(_) => None,
        }
    };
    let string = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
    match kind {
        "connect" => Ok(ClientMsg::Connect {
            version: string("version"),
        }),
        "ping" => Ok(ClientMsg::Ping {
            id: value.get("id").cloned(),
        }),
        "pong" => Ok(ClientMsg::Pong),
        "method" => match (string("id"), string("method"), params(&value)) {
            (Some(id), Some(method), Some(params)) => Ok(ClientMsg::Method { id, method, params }),
            _ => Err(bad("Malformed method invocation", &value)),
        },
        "sub" => match (string("id"), string("name"), params(&value)) {
            (Some(id), Some(name), Some(params)) => Ok(ClientMsg::Sub { id, name, params }),
            _ => Err(bad("Malformed subscription", &value)),
        },
        "unsub" => Ok(ClientMsg::Unsub {
            id: value.get("id").cloned().unwrap_or(Value::Null),
        }),
        _ => Err(bad("Bad request", &value)),
    }
}

pub(super) fn frame(value: Value) -> Utf8Bytes {
    Utf8Bytes::from(value.to_string())
}

pub fn connected(session: &str) -> Utf8Bytes {
    frame(json!({"msg": "connected", "session": session}))
}

/// Refuses a handshake and names the version we would speak.
pub fn failed() -> Utf8Bytes {
    frame(json!({"msg": "failed", "version": SUPPORTED_VERSIONS[0]}))
}

pub fn ping() -> Utf8Bytes {
    Utf8Bytes::from_static(r#"{"msg":"ping"}"#)
}

pub fn pong(id: Option<Value>) -> Utf8Bytes {
    match id {
        Some(id) => frame(json!({"msg": "pong", "id": id})),
        None => Utf8Bytes::from_static(r#"{"msg":"pong"}"#),
    }
}

pub fn error(bad: BadFrame) -> Utf8Bytes {
    let mut v = json!({"msg": "error", "reason": bad.reason});
    if let Some(offending) = bad.offending {
        v["offendingMessage"] = offending;
    }
    frame(v)
}

/// `result` (without `result` when the method returns nothing, as Meteor does for
/// `undefined`) or `result` with `error`.
pub fn result(id: &str, outcome: Result<Option<Value>, DdpError>) -> Utf8Bytes {
    let mut v = json!({"msg": "result", "id": id});
    match outcome {
        Ok(Some(result)) => v["result"] = result,
        Ok(None) => {}
        Err(e) => v["error"] = e.to_json(),
    }
    frame(v)
}

pub fn updated(id: &str) -> Utf8Bytes {
    frame(json!({"msg": "updated", "methods": [id]}))
}

pub fn ready(id: &str) -> Utf8Bytes {
    frame(json!({"msg": "ready", "subs": [id]}))
}

pub fn nosub(id: &Value, error: Option<&DdpError>) -> Utf8Bytes {
    let mut v = json!({"msg": "nosub", "id": id});
    if let Some(e) = error {
        v["error"] = e.to_json();
    }
    frame(v)
}

/// The `added` a `useCollection: true` stream sends once at subscription, so that a
/// Meteor client has a document for the later `changed` frames to change.
pub fn added(collection: &str, event_name: &str) -> Utf8Bytes {
    frame(json!({
        "msg": "added",
        "collection": collection,
        "id": "id",
        "fields": {"eventName": event_name},
    }))
}

/// One stream event: `changed` with `fields: {eventName, args}`; `args_json` is the
/// already serialized argument array.
pub fn changed(collection: &str, event_name: &str, args_json: &str) -> Utf8Bytes {
    let name = Value::String(event_name.to_string());
    Utf8Bytes::from(format!(
        r#"{{"msg":"changed","collection":"{collection}","id":"id","fields":{{"eventName":{name},"args":{args_json}}}}}"#
    ))
}

/// A DDP date: `{"$date": ms}`, a number of ms, or an ISO-8601 string; `null` is none.
pub fn parse_date(v: &Value) -> Result<Option<Ts>, DdpError> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(|ms| Some(Ts(ms)))
            .ok_or_else(DdpError::match_failed),
        Value::Object(o) => match o.get("$date") {
            Some(inner) if !inner.is_object() => parse_date(inner),
            _ => Err(DdpError::match_failed()),
        },
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map(|d| Some(Ts(d.timestamp_millis())))
            .map_err(|_| DdpError::match_failed()),
        _ => Err(DdpError::match_failed()),
    }
}

pub fn ejson_date(ts: Ts) -> Value {
    json!({"$date": ts.0.clamp(-MAX_JS_DATE_MS, MAX_JS_DATE_MS)})
}

/// A `Meteor.Error`'s `error`: a string type (`error-room-not-found`) or a number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    Text(String),
    Number(i32),
}

impl From<&str> for ErrorCode {
    fn from(s: &str) -> Self {
        ErrorCode::Text(s.to_string())
    }
}

impl From<i32> for ErrorCode {
    fn from(n: i32) -> Self {
        ErrorCode::Number(n)
    }
}

/// A `Meteor.Error` as DDP carries it:
/// `{isClientSafe, error, reason, message: "reason [error]", errorType, details?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct DdpError {
    pub error: ErrorCode,
    pub reason: Option<String>,
    pub details: Option<Box<Value>>,
}

impl DdpError {
    pub fn new(error: impl Into<ErrorCode>, reason: impl Into<String>) -> DdpError {
        DdpError {
            error: error.into(),
            reason: Some(reason.into()),
            details: None,
        }
    }

    /// An error with a type and no reason (`message` is then `"[type]"`).
    pub fn bare(error: &str) -> DdpError {
        DdpError {
            error: error.into(),
            reason: None,
            details: None,
        }
    }

    /// What Meteor's `check()` answers when a parameter has the wrong type.
    pub fn match_failed() -> DdpError {
        DdpError::new(400, "Match failed")
    }

    pub fn not_logged_in() -> DdpError {
        DdpError::new("error-invalid-user", "Invalid user")
    }

    pub fn not_allowed(reason: impl Into<String>) -> DdpError {
        DdpError::new("not-allowed", reason)
    }

    pub fn to_json(&self) -> Value {
        let (error, error_text) = match &self.error {
            ErrorCode::Text(s) => (Value::String(s.clone()), s.clone()),
            ErrorCode::Number(n) => (json!(n), n.to_string()),
        };
        let mut map = Map::new();
        map.insert("isClientSafe".into(), Value::Bool(true));
        map.insert("error".into(), error);
        let message = match &self.reason {
            Some(reason) => {
                map.insert("reason".into(), Value::String(reason.clone()));
                format!("{reason} [{error_text}]")
            }
            None => format!("[{error_text}]"),
        };
        map.insert("message".into(), Value::String(message));
        map.insert("errorType".into(), Value::String("Meteor.Error".into()));
        if let Some(details) = &self.details {
            map.insert("details".into(), (**details).clone());
        }
        Value::Object(map)
    }
}

impl From<ChatError> for DdpError {
    fn from(e: ChatError) -> DdpError {
        match e {
            ChatError::RateLimited { reset_ms, .. } => {
                let wait_ms = (reset_ms - Ts::now().0).max(0);
                DdpError {
                    error: "too-many-requests".into(),
                    reason: Some(format!(
                        "Error, too many requests. Please slow down. You must wait {} seconds before trying again.",
                        (wait_ms + 999) / 1000
                    )),
                    details: Some(Box::new(json!({"timeToReset": wait_ms}))),
                }
            }
            ChatError::Store(StoreError::Backend(detail)) => {
                tracing::error!(error = %detail, "storage failure while serving a realtime call");
                DdpError::new(500, "Internal server error")
            }
            other => DdpError::new(other.error_type(), other.to_string()),
        }
    }
}

/// The apps engine's errors with the `errorType`s REST gives them, so a client sees
/// one name for one refusal whichever API it uses.
impl From<AppsError> for DdpError {
    fn from(e: AppsError) -> DdpError {
        let e = match e {
            AppsError::Chat(inner) => return inner.into(),
            other => other,
        };
        let error_type = match &e {
            AppsError::Chat(_) => "error-internal",
            AppsError::Store(_) | AppsError::Io(_) => {
                tracing::error!(error = %e, "apps engine failure while serving a realtime call");
                return DdpError::new(500, "Internal server error");
            }
            AppsError::NotInstalled(_) | AppsError::NotFound | AppsError::NotInMarketplace(_) => {
                "error-app-not-found"
            }
            AppsError::Grant(_) => "error-app-grant-invalid",
            AppsError::Disabled(_) => "error-app-disabled",
            AppsError::Fault { .. } => "error-app-fault",
            AppsError::AppError { .. } => "error-app-error",
            AppsError::AlreadyInstalled(_) => "error-app-already-installed",
            AppsError::Clash(_) => "error-app-clash",
            AppsError::Package(_) | AppsError::Manifest(_) | AppsError::Component(_) => {
                "error-app-package-invalid"
            }
            AppsError::Invalid(_) => "error-app-invalid",
            AppsError::PermissionsGrew { .. } => "error-app-permissions-changed",
        };
        DdpError::new(error_type, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_frames_like_meteor() {
        assert!(matches!(
            parse("{"),
            Err(BadFrame {
                reason: "Parse error",
                offending: None
            })
        ));
        assert_eq!(parse(r#"{"x":1}"#).unwrap_err().reason, "Bad request");
        assert_eq!(
            parse(r#"{"msg":"nope"}"#).unwrap_err().reason,
            "Bad request"
        );
        assert_eq!(
            parse(r#"{"msg":"method","id":"1","method":"m","params":{}}"#)
                .unwrap_err()
                .reason,
            "Malformed method invocation"
        );
        assert!(matches!(
            parse(r#"{"msg":"method","id":"1","method":"m"}"#),
            Ok(ClientMsg::Method { params, .. }) if params.is_empty()
        ));
        assert_eq!(
            parse(r#"{"msg":"sub","id":1,"name":"n"}"#)
                .unwrap_err()
                .reason,
            "Malformed subscription"
        );
    }

    #[test]
    fn meteor_errors() {
        let e = DdpError::new("error-room-not-found", "No room").to_json();
        assert_eq!(
            e,
            json!({"isClientSafe": true, "error": "error-room-not-found", "reason": "No room",
                   "message": "No room [error-room-not-found]", "errorType": "Meteor.Error"})
        );
        let e = DdpError::new(404, "Method 'x' not found").to_json();
        assert_eq!(e["message"], "Method 'x' not found [404]");
    }

    #[test]
    fn changed_frames_are_json() {
        let f = changed(ROOM_MESSAGES, "a\"b", r#"[{"x":1}]"#);
        let v: Value = serde_json::from_str(f.as_str()).unwrap();
        assert_eq!(v["fields"]["eventName"], "a\"b");
        assert_eq!(v["fields"]["args"][0]["x"], 1);
    }

    #[test]
    fn apps_errors_keep_their_rest_types() {
        let e = DdpError::from(AppsError::AppError {
            app: "Polite".into(),
            message: "no".into(),
        });
        assert_eq!(e.error, ErrorCode::from("error-app-error"));
        assert_eq!(
            e.reason.as_deref(),
            Some("the app Polite answered with an error: no")
        );
        let e = DdpError::from(AppsError::Chat(ChatError::room_not_found()));
        assert_eq!(e.error, ErrorCode::from("error-room-not-found"));
        let e = DdpError::from(AppsError::Io("disk".into()));
        assert_eq!(e.to_json()["reason"], "Internal server error");
    }

    #[test]
    fn dates() {
        assert_eq!(parse_date(&json!({"$date": 5})).unwrap(), Some(Ts(5)));
        assert_eq!(parse_date(&json!(null)).unwrap(), None);
        assert_eq!(
            parse_date(&json!("1970-01-01T00:00:01.000Z")).unwrap(),
            Some(Ts(1000))
        );
        assert!(parse_date(&json!(true)).is_err());
    }
}
