//! Palaver → Matrix: the trigger worker turns this instance's events in bridged
//! rooms into `matrix` queue items; the handler delivers them as the author's
//! puppet.
//!
//! Order: the items of one room carry increasing creation times, the `matrix`
//! worker runs one delivery at a time, and an item waits while an earlier item of
//! its room is still pending (a retry never overtakes). Exactly once: every send
//! or redaction uses the item's id as Matrix transaction id, so an attempt
//! repeated after a crash is the same event to the homeserver.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use super::{format, MatrixBridge};
use crate::chat::Event;
use crate::store::matrix::MatrixEventLink;
use crate::store::outbox::{OutboxItem, OutboxKind};
use crate::store::{Message, Room, Ts, User};
use crate::worker::outbox::policy::{Backoff, DeliveryError, Retry, RetryPolicy};
use crate::worker::outbox::{DeliveryHandler, Outbox};
use crate::worker::Worker;

/// What one item does.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Op {
    /// Post the message (its text as it is at delivery).
    Send {
        message_id: String,
    },
    /// Replace the message's text on Matrix.
    Edit {
        message_id: String,
        text: String,
    },
    Redact {
        message_id: String,
        /// The message's author: their puppet redacts its own event.
        #[serde(default)]
        author_id: String,
    },
    /// A Palaver user's reaction added or taken back.
    React {
        message_id: String,
        /// `:name:`, as Palaver stores it.
        emoji: String,
        user_id: String,
        added: bool,
    },
    Join {
        user_id: String,
    },
    Leave {
        user_id: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MatrixPayload {
    pub room_id: String,
    #[serde(flatten)]
    pub op: Op,
}

/// The dedupe key prefix of a room's items (the order gate's scope).
fn room_prefix(room_id: &str) -> String {
    format!("{room_id}\u{1f}")
}

/// What an event is for Matrix, if anything.
fn op_for(event: &Event) -> Option<(&Room, Op, String, String)> {
    match event {
        Event::MessageSent { room, message } if message.t.is_none() => Some((
            room,
            Op::Send {
                message_id: message.id.clone(),
            },
            format!("send\u{1f}{}", message.id),
            message.u.id.clone(),
        )),
        Event::MessageUpdated { room, message }
            if message.t.is_none() && message.edited_at == Some(message.updated_at) =>
        {
            let by = message.edited_by.as_ref().map_or(&message.u.id, |u| &u.id);
            Some((
                room,
                Op::Edit {
                    message_id: message.id.clone(),
                    text: message.msg.clone(),
                },
                format!("edit\u{1f}{}\u{1f}{}", message.id, message.updated_at.0),
                by.clone(),
            ))
        }
        Event::MessageDeleted { room, message } if message.t.is_none() => Some((
            room,
            Op::Redact {
                message_id: message.id.clone(),
                author_id: message.u.id.clone(),
            },
            format!("redact\u{1f}{}", message.id),
            String::new(),
        )),
        Event::ReactionChanged {
            room,
            message_id,
            emoji,
            user,
            added,
        } => Some((
            room,
            Op::React {
                message_id: message_id.clone(),
                emoji: emoji.clone(),
                user_id: user.id.clone(),
                added: *added,
            },
            format!(
                "react\u{1f}{message_id}\u{1f}{emoji}\u{1f}{}\u{1f}{}",
                user.id,
                Ts::now().0
            ),
            user.id.clone(),
        )),
        Event::UserJoined { room, user } => Some((
            room,
            Op::Join {
                user_id: user.id.clone(),
            },
            format!("join\u{1f}{}\u{1f}{}", user.id, Ts::now().0),
            user.id.clone(),
        )),
        Event::UserLeft { room, user } => Some((
            room,
            Op::Leave {
                user_id: user.id.clone(),
            },
            format!("leave\u{1f}{}\u{1f}{}", user.id, Ts::now().0),
            user.id.clone(),
        )),
        _ => None,
    }
}

/// Starts the trigger worker (this instance's events only: each instance enqueues
/// what happened on it).
pub fn start_triggers(bridge: Arc<MatrixBridge>, outbox: Arc<Outbox>) -> Worker {
    let mut events = bridge.chat.events().subscribe();
    Worker::spawn("matrix-triggers", move |mut stop| async move {
        let mut last = Ts(0);
        loop {
            let next = tokio::select! {
                _ = stop.stopped() => None,
                e = events.recv() => Some(e),
            };
            match next {
                None => break,
                Some(Ok(e)) => enqueue(&bridge, &outbox, &e, &mut last).await,
                Some(Err(RecvError::Lagged(n))) => {
                    tracing::error!(
                        skipped = n,
                        "matrix: fell behind the event bus; events not bridged"
                    );
                }
                Some(Err(RecvError::Closed)) => break,
            }
        }
        while let Ok(e) = events.try_recv() {
            enqueue(&bridge, &outbox, &e, &mut last).await;
        }
    })
}

async fn enqueue(bridge: &MatrixBridge, outbox: &Outbox, event: &Event, last: &mut Ts) {
    let Some((room, op, key, actor)) = op_for(event) else {
        return;
    };
    let linked = match bridge.store.matrix_room_by_room(&room.id).await {
        Ok(l) => l.is_some(),
        Err(e) => {
            tracing::error!(room_id = %room.id, error = %e, "matrix: cannot read the room's link; event not bridged");
            return;
        }
    };
    if !linked {
        return;
    }
    // What Matrix users did came from Matrix: not sent back.
    if !actor.is_empty() && bridge.is_remote(&actor).await.unwrap_or(false) {
        return;
    }
    // Strictly increasing creation times: the order of the room's items.
    let now = Ts(Ts::now().0.max(last.0 + 1));
    *last = now;
    let payload = MatrixPayload {
        room_id: room.id.clone(),
        op,
    };
    let Ok(payload) = serde_json::to_value(&payload) else {
        return;
    };
    let item = OutboxItem::new(
        crate::chat::ids::new_id(),
        OutboxKind::Matrix,
        format!("{}{key}", room_prefix(&room.id)),
        payload,
        now,
    );
    if let Err(e) = outbox.enqueue(&[item]).await {
        tracing::error!(room_id = %room.id, error = %e, "matrix: enqueueing failed; event not bridged");
    }
}

/// Delivers `matrix` items.
pub struct MatrixHandler {
    bridge: Arc<MatrixBridge>,
    backoff_max: Duration,
}

impl MatrixHandler {
    pub fn new(bridge: Arc<MatrixBridge>, outbox: &Outbox) -> MatrixHandler {
        MatrixHandler {
            bridge,
            backoff_max: outbox.config().backoff_max().min(Duration::from_secs(30)),
        }
    }
}

fn store_error(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::transient(format!("storage: {e}"))
}

#[async_trait]
impl DeliveryHandler for MatrixHandler {
    fn kind(&self) -> OutboxKind {
        OutboxKind::Matrix
    }

    /// One at a time: a room's events reach Matrix in order.
    fn concurrency(&self) -> Option<usize> {
        Some(1)
    }

    /// A homeserver that is down gets everything once it is back: retried until
    /// the queue's maximum age, at most `backoff_max` (30 s at most) apart.
    fn policy(&self, _item: &OutboxItem, defaults: &RetryPolicy) -> RetryPolicy {
        RetryPolicy {
            max_attempts: u32::MAX,
            max_age: defaults.max_age,
            backoff: Backoff::Exponential {
                base: Duration::from_millis(250),
                factor: 2,
                max: self.backoff_max,
            },
        }
    }

    async fn deliver(&self, item: &OutboxItem) -> Result<(), DeliveryError> {
        let p: MatrixPayload = serde_json::from_value(item.payload.clone())
            .map_err(|e| DeliveryError::permanent(format!("unreadable matrix item: {e}")))?;
        let bridge = &self.bridge;
        let store = &bridge.store;
        if store
            .matrix_outbox_pending_before(&room_prefix(&p.room_id), item.created_at, &item.id)
            .await
            .map_err(store_error)?
        {
            return Err(DeliveryError {
                message: "waiting for an earlier event of the room".into(),
                retry: Retry::Later {
                    after: Some(Duration::from_millis(50)),
                },
            });
        }
        // Unbridged since: nothing to deliver.
        let Some(link) = store
            .matrix_room_by_room(&p.room_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(());
        };
        let mroom = link.matrix_room_id.as_str();
        match p.op {
            Op::Send { message_id } => {
                let Some(message) = store.message(&message_id).await.map_err(store_error)? else {
                    return Ok(());
                };
                let key = MatrixEventLink::message_key(&message.id);
                if store
                    .matrix_event_by_key(&key)
                    .await
                    .map_err(store_error)?
                    .is_some()
                {
                    return Ok(());
                }
                let author = self.user(&message.u.id).await?;
                let mxid = bridge.puppet(&author).await?;
                bridge.puppet_in_room(&mxid, mroom).await?;
                let mut content = match message.files.first() {
                    Some(file) => self.file_content(&message, file, &mxid).await?,
                    None => text_content(&message.msg),
                };
                let mentioned = self.mentioned(&message).await?;
                if !mentioned.is_empty() {
                    content["m.mentions"] = json!({ "user_ids": mentioned });
                }
                if let Some(tmid) = &message.tmid {
                    if let Some(root) = store
                        .matrix_event_by_key(&MatrixEventLink::message_key(tmid))
                        .await
                        .map_err(store_error)?
                    {
                        content["m.relates_to"] = json!({
                            "rel_type": "m.thread",
                            "event_id": root.event_id,
                            "is_falling_back": true,
                            "m.in_reply_to": { "event_id": root.event_id },
                        });
                    }
                }
                let event_id = bridge
                    .hs
                    .send(&mxid, mroom, "m.room.message", &item.id, content)
                    .await?;
                self.record(&event_id, key, &p.room_id).await?;
                tracing::info!(room_id = %p.room_id, message_id = %message.id, event_id, "matrix: message sent");
            }
            Op::Edit { message_id, text } => {
                let Some(target) = store
                    .matrix_event_by_key(&MatrixEventLink::message_key(&message_id))
                    .await
                    .map_err(store_error)?
                else {
                    return Ok(());
                };
                let Some(message) = store.message(&message_id).await.map_err(store_error)? else {
                    return Ok(());
                };
                let editor = message.edited_by.as_ref().map_or(&message.u.id, |u| &u.id);
                let editor = self.user(editor).await?;
                let mxid = bridge.puppet(&editor).await?;
                bridge.puppet_in_room(&mxid, mroom).await?;
                let new = text_content(&text);
                let mut content = text_content(&format!("* {text}"));
                content["m.new_content"] = new;
                content["m.relates_to"] =
                    json!({ "rel_type": "m.replace", "event_id": target.event_id });
                bridge
                    .hs
                    .send(&mxid, mroom, "m.room.message", &item.id, content)
                    .await?;
            }
            Op::Redact {
                message_id,
                author_id,
            } => {
                let Some(target) = store
                    .matrix_event_by_key(&MatrixEventLink::message_key(&message_id))
                    .await
                    .map_err(store_error)?
                else {
                    return Ok(());
                };
                // A puppet redacts its own event; a Matrix user's event is redacted
                // by the bot (with the power the room gives it).
                let author = store.user_by_id(&author_id).await.map_err(store_error)?;
                let redactor = match author {
                    Some(a) if !bridge.is_remote(&a.id).await.unwrap_or(false) => {
                        bridge.puppet_mxid(&a.username)
                    }
                    _ => bridge.bot_mxid(),
                };
                bridge
                    .hs
                    .redact(&redactor, mroom, &target.event_id, &item.id)
                    .await?;
                store
                    .delete_matrix_event(&target.event_id)
                    .await
                    .map_err(store_error)?;
            }
            Op::React {
                message_id,
                emoji,
                user_id,
                added,
            } => {
                let Some(target) = store
                    .matrix_event_by_key(&MatrixEventLink::message_key(&message_id))
                    .await
                    .map_err(store_error)?
                else {
                    return Ok(());
                };
                let key = MatrixEventLink::reaction_key(&message_id, &emoji, &user_id);
                let known = store.matrix_event_by_key(&key).await.map_err(store_error)?;
                let user = self.user(&user_id).await?;
                let mxid = bridge.puppet(&user).await?;
                match (added, known) {
                    (true, None) => {
                        bridge.puppet_in_room(&mxid, mroom).await?;
                        let content = json!({ "m.relates_to": {
                            "rel_type": "m.annotation",
                            "event_id": target.event_id,
                            "key": format::shortcode_to_reaction(&emoji),
                        }});
                        let event_id = bridge
                            .hs
                            .send(&mxid, mroom, "m.reaction", &item.id, content)
                            .await?;
                        self.record(&event_id, key, &p.room_id).await?;
                    }
                    (false, Some(link)) => {
                        bridge
                            .hs
                            .redact(&mxid, mroom, &link.event_id, &item.id)
                            .await?;
                        store
                            .delete_matrix_event(&link.event_id)
                            .await
                            .map_err(store_error)?;
                    }
                    // Sent already, or never sent: nothing to do.
                    _ => {}
                }
            }
            Op::Join { user_id } => {
                let user = self.user(&user_id).await?;
                let mxid = bridge.puppet(&user).await?;
                bridge.puppet_in_room(&mxid, mroom).await?;
            }
            Op::Leave { user_id } => {
                let user = self.user(&user_id).await?;
                let mxid = bridge.puppet_mxid(&user.username);
                bridge.forget_membership(&mxid, mroom);
                match bridge.hs.leave(&mxid, mroom).await {
                    Ok(()) => {}
                    Err(e) if e.status.is_some_and(|s| (400..500).contains(&s)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}

impl MatrixHandler {
    async fn user(&self, id: &str) -> Result<User, DeliveryError> {
        self.bridge
            .store
            .user_by_id(id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| DeliveryError::permanent(format!("user {id} is gone")))
    }

    /// The Matrix ids of the users a message mentions (puppets and Matrix
    /// users alike), for `m.mentions`: Matrix notifies them.
    async fn mentioned(&self, message: &Message) -> Result<Vec<String>, DeliveryError> {
        let mut ids = Vec::new();
        for m in &message.mentions {
            let link = self
                .bridge
                .store
                .matrix_user_by_user(&m.id)
                .await
                .map_err(store_error)?;
            match link {
                Some(l) => ids.push(l.mxid),
                None if !m.username.is_empty() && m.id != m.username => {
                    ids.push(self.bridge.puppet_mxid(&m.username))
                }
                None => {}
            }
        }
        Ok(ids)
    }

    /// The content of a file message: the file uploaded to the homeserver's
    /// media repository as the author's puppet, then `m.image`/`m.video`/
    /// `m.audio`/`m.file` pointing at it; the text (or description) as caption.
    async fn file_content(
        &self,
        message: &Message,
        file: &Value,
        mxid: &str,
    ) -> Result<Value, DeliveryError> {
        let chat = &self.bridge.chat;
        let file_id = file["_id"].as_str().unwrap_or_default();
        let upload = self
            .bridge
            .store
            .upload(file_id)
            .await
            .map_err(store_error)?;
        let Some(upload) = upload else {
            // Deleted since: the text is all there is to send.
            return Ok(text_content(&message.msg));
        };
        let read = chat
            .open_upload(&upload, None)
            .await
            .map_err(|e| DeliveryError::transient(format!("file storage: {e}")))?;
        let mxc = self
            .bridge
            .hs
            .upload(
                mxid,
                &upload.name,
                &upload.content_type,
                reqwest::Body::wrap_stream(read.body),
                read.size,
            )
            .await?;
        let msgtype = match upload.content_type.split('/').next().unwrap_or_default() {
            "image" => "m.image",
            "video" => "m.video",
            "audio" => "m.audio",
            _ => "m.file",
        };
        let description = message
            .attachments
            .first()
            .and_then(|a| a["description"].as_str())
            .unwrap_or_default();
        let caption = [message.msg.as_str(), description]
            .into_iter()
            .find(|t| !t.trim().is_empty());
        let mut content = match caption {
            Some(c) => text_content(c),
            None => json!({ "body": upload.name }),
        };
        content["msgtype"] = json!(msgtype);
        content["filename"] = json!(upload.name);
        content["url"] = json!(mxc);
        content["info"] = json!({ "mimetype": upload.content_type, "size": upload.size });
        Ok(content)
    }

    /// Records what the message became; a failure retries the item, whose send
    /// the homeserver answers with the same event (same transaction id).
    async fn record(
        &self,
        event_id: &str,
        key: String,
        room_id: &str,
    ) -> Result<(), DeliveryError> {
        let link = MatrixEventLink {
            event_id: event_id.to_string(),
            key,
            room_id: room_id.to_string(),
            created_at: Ts::now(),
        };
        self.bridge
            .store
            .insert_matrix_event(&link)
            .await
            .map(drop)
            .map_err(store_error)
    }
}

/// `m.text` content of a Palaver text: the text as `body`, its HTML when it has
/// formatting.
pub fn text_content(text: &str) -> Value {
    let mut content = json!({ "msgtype": "m.text", "body": text });
    if let Some(html) = format::markdown_to_html(text) {
        content["format"] = json!("org.matrix.custom.html");
        content["formatted_body"] = json!(html);
    }
    content
}
