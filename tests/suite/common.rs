//! Assertions shared by the REST end-to-end tests: Rocket.Chat's envelopes and the
//! shapes of its documents.

#![allow(dead_code)]

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset};
use reqwest::StatusCode;
use serde_json::{json, Value};

pub use palaver_tests::server::{
    enc, password_for, Body, Palaver, Session, ADMIN_EMAIL, ADMIN_PASSWORD, ADMIN_USERNAME,
};

/// The exact body of Rocket.Chat's 401 for a request without valid credentials.
pub const LOGGED_OUT_ERROR: &str = "You must be logged in to do this.";

/// 401 `{"status": "error", "message": "You must be logged in to do this."}`
/// (Rocket.Chat's `API.v1.unauthorized()`).
#[track_caller]
pub fn assert_unauthorized(status: StatusCode, body: &Value, ctx: &str) {
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "{ctx}: expected 401, got {status} {body}"
    );
    assert_eq!(
        body,
        &json!({"status": "error", "message": LOGGED_OUT_ERROR}),
        "{ctx}: 401 body"
    );
}

/// A failure envelope with the given status: `success: false` and an `error` string;
/// a 400 also carries an `errorType` string, equal to `error_type` when given.
#[track_caller]
pub fn assert_error(
    status: StatusCode,
    body: &Value,
    expected: u16,
    error_type: Option<&str>,
    ctx: &str,
) {
    assert_eq!(
        status.as_u16(),
        expected,
        "{ctx}: expected {expected}, got {status} {body}"
    );
    assert_eq!(
        body["success"],
        json!(false),
        "{ctx}: failure body must carry success:false: {body}"
    );
    assert!(
        body["error"].is_string(),
        "{ctx}: failure body must carry an `error` string: {body}"
    );
    if expected == 400 {
        assert!(
            body["errorType"].is_string(),
            "{ctx}: a 400 must carry an `errorType` string: {body}"
        );
    }
    if let Some(t) = error_type {
        assert_eq!(body["errorType"], json!(t), "{ctx}: errorType: {body}");
    }
}

/// 400 with one of several acceptable `errorType`s.
#[track_caller]
pub fn assert_error_one_of(status: StatusCode, body: &Value, types: &[&str], ctx: &str) {
    assert_error(status, body, 400, None, ctx);
    let t = body["errorType"].as_str().unwrap_or_default();
    assert!(
        types.contains(&t),
        "{ctx}: errorType {t:?} is not one of {types:?}: {body}"
    );
}

/// A refusal of something the caller may not do. Rocket.Chat answers these with 403
/// (permission checks) or 400 with an error type (method-level checks such as
/// `error-action-not-allowed`, `error-not-allowed`, `error-room-not-found`); both are
/// accepted, anything else (200, 401, 404, 5xx) is not.
#[track_caller]
pub fn assert_refused(status: StatusCode, body: &Value, ctx: &str) {
    assert!(
        status == StatusCode::FORBIDDEN || status == StatusCode::BAD_REQUEST,
        "{ctx}: expected a refusal (403, or 400 with an errorType), got {status} {body}"
    );
    assert_error(status, body, status.as_u16(), None, ctx);
}

/// Parses an ISO-8601 (RFC 3339) date string, as REST renders every date.
#[track_caller]
pub fn ts(v: &Value, ctx: &str) -> DateTime<FixedOffset> {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("{ctx}: expected an ISO-8601 date string, got {v}"));
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{ctx}: {s:?} is not an ISO-8601 date: {e}"))
}

/// The current time as Rocket.Chat renders dates (`2024-01-02T03:04:05.678Z`).
pub fn iso_now() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

/// `_id`s of the objects of a JSON array.
#[track_caller]
pub fn ids(arr: &Value) -> Vec<String> {
    arr.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {arr}"))
        .iter()
        .map(|o| {
            o["_id"]
                .as_str()
                .unwrap_or_else(|| panic!("no _id in {o}"))
                .to_string()
        })
        .collect()
}

pub fn id_set(arr: &Value) -> BTreeSet<String> {
    ids(arr).into_iter().collect()
}

pub fn str_of<'a>(v: &'a Value, ctx: &str) -> &'a str {
    v.as_str()
        .unwrap_or_else(|| panic!("{ctx}: expected a string, got {v}"))
}

/// Messages of an array that are not system messages (no `t`).
pub fn user_messages(arr: &Value) -> Vec<Value> {
    arr.as_array()
        .unwrap_or_else(|| panic!("expected a messages array, got {arr}"))
        .iter()
        .filter(|m| m.get("t").is_none_or(|t| t.is_null()))
        .cloned()
        .collect()
}

pub fn msg_texts(arr: &Value) -> Vec<String> {
    user_messages(arr)
        .iter()
        .map(|m| m["msg"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A Rocket.Chat-style id: 17 characters from `[0-9A-Za-z]`.
#[track_caller]
pub fn assert_rc_id(v: &Value, ctx: &str) {
    let s = str_of(v, ctx);
    assert!(
        s.len() == 17 && s.chars().all(|c| c.is_ascii_alphanumeric()),
        "{ctx}: expected a 17-character Rocket.Chat id, got {s:?}"
    );
}

/// The `{success, count, offset, total}` of a paginated answer.
#[track_caller]
pub fn assert_page(body: &Value, key: &str, count: usize, offset: u64, total: u64, ctx: &str) {
    let items = body[key]
        .as_array()
        .unwrap_or_else(|| panic!("{ctx}: no `{key}` array in {body}"));
    assert_eq!(items.len(), count, "{ctx}: number of {key}: {body}");
    assert_eq!(body["count"], json!(count), "{ctx}: count: {body}");
    assert_eq!(body["offset"], json!(offset), "{ctx}: offset: {body}");
    assert_eq!(body["total"], json!(total), "{ctx}: total: {body}");
    assert_eq!(body["success"], json!(true), "{ctx}: success: {body}");
}

/// No password material in a user document (or anywhere in a body).
#[track_caller]
pub fn assert_no_secrets(body: &Value, ctx: &str) {
    let text = body.to_string();
    assert!(
        !text.contains("argon2"),
        "{ctx}: a password hash leaked: {text}"
    );
    // `services` is shown to the user themself as Rocket.Chat does
    // (`password.exists`, session dates), never with hashes or tokens.
    for secret in ["bcrypt", "hashedToken", "passwordHash", "\"hashed\""] {
        assert!(
            !text.contains(secret),
            "{ctx}: credentials ({secret}) leaked: {text}"
        );
    }
    assert!(
        !text.contains(&password_for("")) && !text.contains(ADMIN_PASSWORD),
        "{ctx}: a password leaked: {text}"
    );
}

/// Rocket.Chat's message document.
#[track_caller]
pub fn assert_message_shape(m: &Value, rid: &str, author: &Session, text: &str, ctx: &str) {
    assert!(m["_id"].is_string(), "{ctx}: message _id: {m}");
    assert_eq!(m["rid"], json!(rid), "{ctx}: message rid: {m}");
    assert_eq!(m["msg"], json!(text), "{ctx}: message msg: {m}");
    ts(&m["ts"], &format!("{ctx}: message ts"));
    ts(&m["_updatedAt"], &format!("{ctx}: message _updatedAt"));
    assert_eq!(
        m["u"]["_id"],
        json!(author.user_id),
        "{ctx}: message u._id: {m}"
    );
    assert_eq!(
        m["u"]["username"],
        json!(author.username),
        "{ctx}: message u.username: {m}"
    );
}

/// Rocket.Chat's room document (`channel`/`group`/`room`).
#[track_caller]
pub fn assert_room_shape(r: &Value, t: &str, name: Option<&str>, ctx: &str) {
    assert!(r["_id"].is_string(), "{ctx}: room _id: {r}");
    assert_eq!(r["t"], json!(t), "{ctx}: room t: {r}");
    if let Some(name) = name {
        assert_eq!(r["name"], json!(name), "{ctx}: room name: {r}");
    }
    assert!(r["usersCount"].is_u64(), "{ctx}: room usersCount: {r}");
    assert!(r["msgs"].is_u64(), "{ctx}: room msgs: {r}");
    ts(&r["ts"], &format!("{ctx}: room ts"));
    ts(&r["_updatedAt"], &format!("{ctx}: room _updatedAt"));
}

/// Creates a public channel as `owner` and returns the `channel` object.
pub async fn create_channel(srv: &Palaver, owner: &Session, name: &str, members: &[&str]) -> Value {
    let body = srv
        .post_ok(
            "channels.create",
            owner,
            json!({ "name": name, "members": members }),
        )
        .await;
    body["channel"].clone()
}

/// Creates a private group as `owner` and returns the `group` object.
pub async fn create_group(srv: &Palaver, owner: &Session, name: &str, members: &[&str]) -> Value {
    let body = srv
        .post_ok(
            "groups.create",
            owner,
            json!({ "name": name, "members": members }),
        )
        .await;
    body["group"].clone()
}

/// Posts `text` to room `rid` and returns the `message` object.
pub async fn post(srv: &Palaver, who: &Session, rid: &str, text: &str) -> Value {
    let body = srv
        .post_ok(
            "chat.postMessage",
            who,
            json!({ "roomId": rid, "text": text }),
        )
        .await;
    body["message"].clone()
}

/// The subscription of `who` to `rid`, from `subscriptions.get`, if any.
pub async fn subscription(srv: &Palaver, who: &Session, rid: &str) -> Option<Value> {
    let body = srv.get_ok("subscriptions.get", who).await;
    body["update"]
        .as_array()
        .unwrap_or_else(|| panic!("subscriptions.get: no update array: {body}"))
        .iter()
        .find(|s| s["rid"] == json!(rid))
        .cloned()
}

/// Lets the clock move on, so consecutive messages get distinct millisecond timestamps.
pub async fn tick() {
    tokio::time::sleep(std::time::Duration::from_millis(4)).await;
}
