//! The application service API the homeserver calls, and what its events do.
//!
//! A transaction is applied event by event; each event is applied once (its id is
//! recorded with what it became), so a transaction the homeserver sends again,
//! or one interrupted by a crash, creates nothing twice. The transaction id is
//! recorded only once every event in it is applied: an event that cannot be
//! applied for a passing reason (the store) fails the transaction, and the
//! homeserver sends it again.

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::format;
use super::MatrixBridge;
use crate::chat::files::Confirm;
use crate::chat::messages::NewMessage;
use crate::chat::rooms::RoomRef;
use crate::chat::ChatError;
use crate::store::matrix::MatrixEventLink;
use crate::store::{StoreError, Ts};

/// The homeserver-facing routes.
pub fn router(bridge: Arc<MatrixBridge>) -> Router {
    Router::new()
        .route("/_matrix/app/v1/transactions/{txn_id}", put(transaction))
        .route("/_matrix/app/v1/users/{user_id}", get(query_user))
        .route("/_matrix/app/v1/rooms/{alias}", get(query_alias))
        // Pre-v1 paths, which older homeservers still call.
        .route("/transactions/{txn_id}", put(transaction))
        .route("/users/{user_id}", get(query_user))
        .route("/rooms/{alias}", get(query_alias))
        // Every route needs the homeserver's token; unknown paths answer below.
        .route_layer(axum::middleware::from_fn_with_state(
            bridge.clone(),
            homeserver_only,
        ))
        .fallback(|| async {
            matrix_error(StatusCode::NOT_FOUND, "M_UNRECOGNIZED", "Unknown endpoint")
        })
        .with_state(bridge)
}

/// A Matrix error body (axum sets `Content-Length` on every full body).
fn matrix_error(status: StatusCode, errcode: &str, error: &str) -> Response {
    (status, Json(json!({ "errcode": errcode, "error": error }))).into_response()
}

fn ok() -> Response {
    (StatusCode::OK, Json(json!({}))).into_response()
}

/// The homeserver's token (`Authorization: Bearer`, or the older
/// `access_token` query parameter), checked once for every route: a missing one
/// is 401, a wrong one 403, as the application service API says.
async fn homeserver_only(
    State(bridge): State<Arc<MatrixBridge>>,
    request: Request,
    next: Next,
) -> Response {
    let bearer = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let query = request.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
    });
    let Some(token) = bearer.or(query) else {
        return matrix_error(StatusCode::UNAUTHORIZED, "M_UNAUTHORIZED", "Missing token");
    };
    let expected = bridge.registration.hs_token.as_bytes();
    let same = token.len() == expected.len()
        && token
            .bytes()
            .zip(expected.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return matrix_error(StatusCode::FORBIDDEN, "M_FORBIDDEN", "Bad token");
    }
    next.run(request).await
}

async fn transaction(
    State(bridge): State<Arc<MatrixBridge>>,
    Path(txn_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return matrix_error(StatusCode::BAD_REQUEST, "M_NOT_JSON", "Body is not JSON");
    };
    let _one_at_a_time = bridge.txn_lock.lock().await;
    match bridge.store.matrix_txn_done(&txn_id).await {
        Ok(true) => return ok(),
        Ok(false) => {}
        Err(e) => return store_failed(&txn_id, &e),
    }
    let events = body["events"].as_array().cloned().unwrap_or_default();
    for event in &events {
        if let Err(e) = bridge.apply(event).await {
            return store_failed(&txn_id, &e);
        }
    }
    if let Err(e) = bridge.store.mark_matrix_txn(&txn_id, Ts::now()).await {
        return store_failed(&txn_id, &e);
    }
    tracing::debug!(txn_id, events = events.len(), "matrix: transaction applied");
    ok()
}

fn store_failed(txn_id: &str, e: &StoreError) -> Response {
    tracing::warn!(txn_id, error = %e, "matrix: transaction not applied; the homeserver will send it again");
    matrix_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "M_UNKNOWN",
        "Storage failure",
    )
}

async fn query_user(
    State(bridge): State<Arc<MatrixBridge>>,
    Path(user_id): Path<String>,
) -> Response {
    match bridge.open_user(&user_id).await {
        Ok(true) => ok(),
        Ok(false) => matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "No such user"),
        Err(e) => {
            tracing::warn!(user_id, error = %e, "matrix: user query failed");
            matrix_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "M_UNKNOWN",
                "Query failed",
            )
        }
    }
}

async fn query_alias(
    State(bridge): State<Arc<MatrixBridge>>,
    Path(alias): Path<String>,
) -> Response {
    match bridge.open_alias(&alias).await {
        Ok(true) => ok(),
        Ok(false) => matrix_error(StatusCode::NOT_FOUND, "M_NOT_FOUND", "No such room"),
        Err(e) => {
            tracing::warn!(alias, error = %e, "matrix: alias query failed");
            matrix_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "M_UNKNOWN",
                "Query failed",
            )
        }
    }
}

/// The Palaver message id of a Matrix event: derived from the event id, so
/// applying the event again finds the message it already made.
pub fn message_id_for(event_id: &str) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
    Sha256::digest(event_id.as_bytes())
        .iter()
        .take(17)
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

/// The Palaver message of an event link's key: `m:<id>`, or `f:<id>:<n>` for
/// the further files of a message sent as several events.
fn message_of_key(key: &str) -> Option<&str> {
    key.strip_prefix("m:").or_else(|| {
        key.strip_prefix("f:")
            .and_then(|rest| rest.split(':').next())
    })
}

/// The text of a message's content: its HTML made Markdown (user pills made
/// `@username` mentions), else its body.
fn text_of(content: &Value, server_name: &str) -> String {
    let html = (content["format"] == "org.matrix.custom.html")
        .then(|| content["formatted_body"].as_str())
        .flatten();
    let suffix = format!(":{server_name}");
    let username_of = |mxid: &str| {
        mxid.strip_prefix('@')
            .and_then(|m| m.strip_prefix(super::config::PREFIX))
            .and_then(|m| m.strip_suffix(&suffix))
            .map(str::to_string)
            .unwrap_or_else(|| MatrixBridge::remote_username(mxid))
    };
    let text = match html {
        Some(h) => format::html_to_markdown(&format::pills_to_mentions(h, username_of)),
        None => format::strip_reply_fallback(content["body"].as_str().unwrap_or_default()),
    };
    match content["msgtype"].as_str() {
        Some("m.emote") => format!("_{text}_"),
        _ => text,
    }
}

/// Only passing failures (the store) are errors; what the chat refuses is logged
/// and skipped (the homeserver sending it again would change nothing).
fn passing(e: ChatError, event_id: &str) -> Result<(), StoreError> {
    match e {
        ChatError::Store(s @ (StoreError::Backend(_) | StoreError::Full(_))) => Err(s),
        other => {
            tracing::info!(event_id, error = %other, "matrix: event not applied");
            Ok(())
        }
    }
}

impl MatrixBridge {
    /// Applies one event of a transaction, once.
    async fn apply(&self, event: &Value) -> Result<(), StoreError> {
        let (Some(event_id), Some(sender), Some(room_id)) = (
            event["event_id"].as_str(),
            event["sender"].as_str(),
            event["room_id"].as_str(),
        ) else {
            return Ok(());
        };
        if self.is_ours(sender) {
            return Ok(());
        }
        let Some(link) = self.store.matrix_room_by_matrix(room_id).await? else {
            return Ok(());
        };
        if self.store.matrix_event(event_id).await?.is_some() {
            return Ok(());
        }
        let result = match event["type"].as_str().unwrap_or_default() {
            "m.room.message" => {
                self.apply_message(event, event_id, sender, &link.room_id)
                    .await
            }
            "m.reaction" => {
                self.apply_reaction(event, event_id, sender, &link.room_id)
                    .await
            }
            "m.room.redaction" => self.apply_redaction(event, sender, &link.room_id).await,
            "m.room.member" => self.apply_member(event, &link.room_id).await,
            _ => Ok(None),
        };
        let key = match result {
            Ok(Some(key)) => key,
            Ok(None) => format!("x:{event_id}"),
            Err(e) => {
                passing(e, event_id)?;
                format!("x:{event_id}")
            }
        };
        self.store
            .insert_matrix_event(&MatrixEventLink {
                event_id: event_id.to_string(),
                key,
                room_id: link.room_id.clone(),
                created_at: Ts::now(),
            })
            .await?;
        Ok(())
    }

    /// The Palaver message a Matrix event became.
    async fn message_of(&self, event_id: Option<&str>) -> Result<Option<String>, ChatError> {
        let Some(event_id) = event_id else {
            return Ok(None);
        };
        Ok(self
            .store
            .matrix_event(event_id)
            .await?
            .and_then(|l| message_of_key(&l.key).map(str::to_string)))
    }

    async fn apply_message(
        &self,
        event: &Value,
        event_id: &str,
        sender: &str,
        rid: &str,
    ) -> Result<Option<String>, ChatError> {
        let content = &event["content"];
        let relates = &content["m.relates_to"];
        let user = self.remote_user(sender, None).await?;
        if relates["rel_type"] == "m.replace" {
            let Some(mid) = self.message_of(relates["event_id"].as_str()).await? else {
                return Ok(None);
            };
            let new = if content["m.new_content"].is_object() {
                &content["m.new_content"]
            } else {
                content
            };
            self.chat
                .update_message(&user, rid, &mid, &text_of(new, &self.config.server_name))
                .await?;
            return Ok(None);
        }
        let tmid = self.thread_of(relates).await?;
        let room = self.chat.room(RoomRef::Id(rid)).await?;
        self.ensure_member(&user, &room).await?;
        let id = message_id_for(event_id);
        let mut msg = text_of(content, &self.config.server_name);
        if let Some(kind @ ("m.image" | "m.file" | "m.video" | "m.audio")) =
            content["msgtype"].as_str()
        {
            match self
                .store_file(&user, rid, content, &id, tmid.clone())
                .await
            {
                Ok(()) => return Ok(Some(MatrixEventLink::message_key(&id))),
                Err(e @ ChatError::Store(StoreError::Backend(_) | StoreError::Full(_))) => {
                    return Err(e)
                }
                Err(e) => {
                    // Not storable here (too large, type refused, media gone): say
                    // what was shared rather than lose the message.
                    tracing::info!(event_id, room_id = %rid, error = %e, "matrix: file not brought over; its name is posted");
                    msg = format!("[{}: {msg}]", kind.trim_start_matches("m."));
                }
            }
        }
        let new = NewMessage {
            id: Some(id.clone()),
            rid: rid.to_string(),
            msg,
            tmid,
            ..Default::default()
        };
        match self.chat.send_message(&user, new).await {
            Ok(_) => {}
            // Applied before a crash, not yet recorded: the message is there.
            Err(ChatError::Store(StoreError::Conflict(_))) => {}
            Err(e) => return Err(e),
        }
        Ok(Some(MatrixEventLink::message_key(&id)))
    }

    /// The thread a Matrix message belongs to in Palaver: the root of an
    /// `m.thread` relation, or, for a plain reply (`m.in_reply_to`), the thread of
    /// the message replied to (itself when it is no thread reply).
    async fn thread_of(&self, relates: &Value) -> Result<Option<String>, ChatError> {
        if relates["rel_type"] == "m.thread" {
            return self.message_of(relates["event_id"].as_str()).await;
        }
        let Some(mid) = self
            .message_of(relates["m.in_reply_to"]["event_id"].as_str())
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .store
            .message(&mid)
            .await?
            .map(|m| m.tmid.unwrap_or(m.id)))
    }

    /// A Matrix file (`url` = `mxc://…`) downloaded through the application
    /// service and posted as a Palaver upload, by the same path as a user's
    /// upload (limits, types, storage), under the message id of the event.
    async fn store_file(
        &self,
        user: &crate::store::User,
        rid: &str,
        content: &Value,
        message_id: &str,
        tmid: Option<String>,
    ) -> Result<(), ChatError> {
        use futures::StreamExt;
        let Some(url) = content["url"].as_str() else {
            return Err(ChatError::invalid("an encrypted or url-less file"));
        };
        let body = content["body"].as_str().unwrap_or_default();
        // Matrix v1.10: with `filename`, `body` is a caption unless they are equal.
        let (name, caption) = match content["filename"].as_str() {
            Some(f) if !f.is_empty() && f != body => (f, body),
            _ => (body, ""),
        };
        let name = if name.trim().is_empty() { "file" } else { name };
        let media = self
            .hs
            .download(url)
            .await
            .map_err(super::homeserver_error)?;
        let content_type = content["info"]["mimetype"]
            .as_str()
            .map(str::to_string)
            .or(media.content_type)
            .unwrap_or_else(|| "application/octet-stream".into());
        let stream = media
            .response
            .bytes_stream()
            .map(|r| r.map_err(std::io::Error::other))
            .boxed();
        let upload = self
            .chat
            .upload_file(user, rid, name, &content_type, stream)
            .await?;
        let confirm = Confirm {
            msg: caption.to_string(),
            tmid,
            ..Confirm::default()
        };
        let posted = self
            .chat
            .confirm_upload_as(user, rid, &upload.id, confirm, Some(message_id.to_string()))
            .await;
        match posted {
            Ok(_) => Ok(()),
            Err(e) => {
                self.chat.discard_upload(&upload).await;
                match e {
                    // Applied before a crash, not yet recorded: the message is there.
                    ChatError::Store(StoreError::Conflict(_)) => Ok(()),
                    e => Err(e),
                }
            }
        }
    }

    async fn apply_reaction(
        &self,
        event: &Value,
        event_id: &str,
        sender: &str,
        rid: &str,
    ) -> Result<Option<String>, ChatError> {
        let relates = &event["content"]["m.relates_to"];
        if relates["rel_type"] != "m.annotation" {
            return Ok(None);
        }
        let Some(mid) = self.message_of(relates["event_id"].as_str()).await? else {
            return Ok(None);
        };
        let Some(emoji) = relates["key"]
            .as_str()
            .and_then(format::reaction_to_shortcode)
        else {
            tracing::info!(
                event_id,
                "matrix: a reaction Palaver has no emoji for; skipped"
            );
            return Ok(None);
        };
        let user = self.remote_user(sender, None).await?;
        let room = self.chat.room(RoomRef::Id(rid)).await?;
        self.ensure_member(&user, &room).await?;
        self.chat.react(&user, &mid, &emoji, Some(true)).await?;
        Ok(Some(MatrixEventLink::reaction_key(&mid, &emoji, &user.id)))
    }

    async fn apply_redaction(
        &self,
        event: &Value,
        sender: &str,
        rid: &str,
    ) -> Result<Option<String>, ChatError> {
        let redacts = event["redacts"]
            .as_str()
            .or_else(|| event["content"]["redacts"].as_str());
        let Some(redacts) = redacts else {
            return Ok(None);
        };
        let Some(target) = self.store.matrix_event(redacts).await? else {
            return Ok(None);
        };
        let user = self.remote_user(sender, None).await?;
        if let Some(mid) = target.key.strip_prefix("m:") {
            self.chat.delete_message(&user, rid, mid).await?;
        } else if let Some(rest) = target.key.strip_prefix("r:") {
            // r:<message id>:<emoji>:<user id>; the emoji is `:name:`.
            let mut parts = rest.splitn(2, ':');
            let mid = parts.next().unwrap_or_default();
            let emoji_and_user = parts.next().unwrap_or_default();
            if let Some(end) = emoji_and_user[1..].find(':') {
                let emoji = &emoji_and_user[..end + 2];
                self.chat.react(&user, mid, emoji, Some(false)).await?;
            }
        }
        self.store.delete_matrix_event(redacts).await?;
        Ok(None)
    }

    async fn apply_member(&self, event: &Value, rid: &str) -> Result<Option<String>, ChatError> {
        let Some(member) = event["state_key"].as_str() else {
            return Ok(None);
        };
        if self.is_ours(member) {
            return Ok(None);
        }
        let content = &event["content"];
        match content["membership"].as_str() {
            Some("join") => {
                let user = self
                    .remote_user(member, content["displayname"].as_str())
                    .await?;
                let room = self.chat.room(RoomRef::Id(rid)).await?;
                self.ensure_member(&user, &room).await?;
                // A profile change is a member event too (`join` again).
                self.sync_remote_avatar(&user, member, content["avatar_url"].as_str())
                    .await?;
            }
            Some("leave" | "ban") => {
                if let Some(link) = self.store.matrix_user_by_mxid(member).await? {
                    if let Some(user) = self.store.user_by_id(&link.user_id).await? {
                        if self.store.subscription(rid, &user.id).await?.is_some() {
                            self.chat.leave_room(&user, rid).await?;
                        }
                    }
                }
            }
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_and_valid() {
        let a = message_id_for("$abc:example.org");
        assert_eq!(a, message_id_for("$abc:example.org"));
        assert_ne!(a, message_id_for("$abd:example.org"));
        assert_eq!(a.len(), 17);
        assert!(crate::chat::ids::is_valid_client_id(&a));
    }

    #[test]
    fn text_prefers_html() {
        let c = json!({"msgtype": "m.text", "body": "**hi**", "format": "org.matrix.custom.html", "formatted_body": "<strong>hi</strong> &lt;x&gt;"});
        assert_eq!(text_of(&c, "example.org"), "*hi* <x>");
        let c = json!({"msgtype": "m.emote", "body": "waves"});
        assert_eq!(text_of(&c, "example.org"), "_waves_");
        let c = json!({"msgtype": "m.text", "body": "admin: hi", "format": "org.matrix.custom.html",
            "formatted_body": "<a href=\"https://matrix.to/#/@palaver_admin:example.org\">Admin</a>: hi <a href=\"https://matrix.to/#/@bob:other.org\">Bob</a>"});
        assert_eq!(text_of(&c, "example.org"), "@admin: hi @bob_other.org");
    }
}
