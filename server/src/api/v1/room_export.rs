//! `rooms.export`: a room's messages as a file (built in the background, the
//! person mailed a link) or chosen messages by e-mail. The body is checked as
//! Rocket.Chat's schema (`isRoomsExportProps`: one of a file and an e-mail form).

use axum::extract::State;
use chrono::NaiveDate;
use serde_json::{json, Map, Value};

use super::super::error::ApiResult;
use super::super::extract::{Auth, JsonBody};
use super::super::AppState;
use super::ok;
use crate::chat::data_export::{ExportFormat, MailExport};
use crate::chat::ChatError;
use crate::store::Ts;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const FILE_KEYS: &[&str] = &["rid", "type", "format", "dateFrom", "dateTo"];
const EMAIL_KEYS: &[&str] = &[
    "rid",
    "type",
    "toUsers",
    "toEmails",
    "additionalEmails",
    "subject",
    "messages",
];

fn schema(message: impl Into<String>) -> ChatError {
    ChatError::schema(message)
}

fn required<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a Value, ChatError> {
    body.get(key)
        .ok_or_else(|| schema(format!("must have required property '{key}'")))
}

fn string<'a>(body: &'a Map<String, Value>, key: &str) -> Result<&'a str, ChatError> {
    required(body, key)?
        .as_str()
        .ok_or_else(|| schema(format!("must be string (/{key})")))
}

fn only_keys(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), ChatError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(schema(format!("must NOT have additional properties ({k})"))),
        None => Ok(()),
    }
}

/// A `format: "date"` day (`2024-03-15`) as its first millisecond (UTC); absent
/// or null is `None`.
fn day(body: &Map<String, Value>, key: &str) -> Result<Option<Ts>, ChatError> {
    let text = match body.get(key) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s,
        Some(_) => return Err(schema(format!("must be string (/{key})"))),
    };
    let invalid = || schema(format!("must match format \"date\" (/{key})"));
    if text.len() != 10 {
        return Err(invalid());
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| invalid())?;
    let start = date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?.and_utc();
    Ok(Some(Ts(start.timestamp_millis())))
}

pub async fn export(
    State(state): State<AppState>,
    Auth(session): Auth,
    JsonBody(body): JsonBody<Map<String, Value>>,
) -> ApiResult {
    let rid = string(&body, "rid")?;
    match string(&body, "type")? {
        "file" => {
            only_keys(&body, FILE_KEYS)?;
            let format = ExportFormat::parse(string(&body, "format")?)
                .ok_or_else(|| schema("must be equal to one of the allowed values (/format)"))?;
            let from = day(&body, "dateFrom")?.unwrap_or(Ts(0));
            // The `dateTo` day is included (Rocket.Chat adds a day to it).
            let to = Ts(day(&body, "dateTo")?.unwrap_or_else(Ts::now).0 + DAY_MS);
            state
                .chat
                .export_room_file(&session.user, rid, format, from, to)
                .await?;
            ok(json!({}))
        }
        "email" => {
            only_keys(&body, EMAIL_KEYS)?;
            let message_ids = match required(&body, "messages")? {
                Value::Array(a) if a.is_empty() => {
                    return Err(schema("must NOT have fewer than 1 items (/messages)").into())
                }
                Value::Array(_) => super::strings(&body, "messages")?,
                _ => return Err(schema("must be array (/messages)").into()),
            };
            let subject = match body.get("subject") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(_) => return Err(schema("must be string (/subject)").into()),
            };
            let export = MailExport {
                to_users: super::strings(&body, "toUsers")?,
                to_emails: super::strings(&body, "toEmails")?,
                subject,
                message_ids,
            };
            let missing = state
                .chat
                .export_room_mail(&session.user, rid, export)
                .await?;
            ok(json!({ "missing": missing }))
        }
        _ => Err(schema("must be equal to one of the allowed values (/type)").into()),
    }
}
