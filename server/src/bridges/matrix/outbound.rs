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
use crate::store::{Room, Ts, User};
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
                let mut content = text_content(&message.msg);
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
