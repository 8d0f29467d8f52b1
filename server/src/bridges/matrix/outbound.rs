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
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::content::text_content;
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
    /// Bring the user's puppet's display name and avatar up to date (no room:
    /// a profile is the same in every room).
    Profile {
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

/// A profile change of a user who has a puppet whose name or avatar it leaves
/// behind: the puppet follows.
async fn profile_op(bridge: &MatrixBridge, event: &Event) -> Option<(Op, String)> {
    let Event::UserUpdated { user } = event else {
        return None;
    };
    let link = match bridge.store.matrix_user_by_user(&user.id).await {
        Ok(link) => link?,
        Err(e) => {
            tracing::error!(user_id = %user.id, error = %e, "matrix: cannot read the user's link; profile not bridged");
            return None;
        }
    };
    let name = if user.name.is_empty() {
        &user.username
    } else {
        &user.name
    };
    let behind =
        link.display_name.as_deref() != Some(name.as_str()) || link.avatar != user.avatar_etag;
    if link.remote || !behind {
        return None;
    }
    let op = Op::Profile {
        user_id: user.id.clone(),
    };
    Some((op, format!("profile\u{1f}{}\u{1f}{}", user.id, Ts::now().0)))
}

async fn enqueue(bridge: &MatrixBridge, outbox: &Outbox, event: &Event, last: &mut Ts) {
    let (room_id, op, key) = match op_for(event) {
        Some((room, op, key, actor)) => {
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
            (room.id.clone(), op, key)
        }
        None => match profile_op(bridge, event).await {
            Some((op, key)) => (String::new(), op, key),
            None => return,
        },
    };
    // Strictly increasing creation times: the order of the room's items.
    let now = Ts(Ts::now().0.max(last.0 + 1));
    *last = now;
    let key = format!("{}{key}", room_prefix(&room_id));
    let payload = MatrixPayload { room_id, op };
    let Ok(payload) = serde_json::to_value(&payload) else {
        return;
    };
    let room_id = payload["room_id"].as_str().unwrap_or_default().to_string();
    let item = OutboxItem::new(
        crate::chat::ids::new_id(),
        OutboxKind::Matrix,
        key,
        payload,
        now,
    );
    if let Err(e) = outbox.enqueue(&[item]).await {
        tracing::error!(%room_id, error = %e, "matrix: enqueueing failed; event not bridged");
    }
}

/// Delivers `matrix` items.
pub struct MatrixHandler {
    pub(super) bridge: Arc<MatrixBridge>,
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
        if let Op::Profile { user_id } = &p.op {
            let user = self.user(user_id).await?;
            bridge.puppet(&user).await?;
            return Ok(());
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
                let author = self.user(&message.u.id).await?;
                let mxid = bridge.puppet(&author).await?;
                let parts = self.parts(&message).await?;
                let mentioned = self.mentioned(&message.mentions).await?;
                let thread = match &message.tmid {
                    Some(tmid) => store
                        .matrix_event_by_key(&MatrixEventLink::message_key(tmid))
                        .await
                        .map_err(store_error)?
                        .map(|root| root.event_id),
                    None => None,
                };
                for (n, part) in parts.iter().enumerate() {
                    // The first event stands for the message (edits, redactions,
                    // replies); the others are its further files.
                    let key = match n {
                        0 => MatrixEventLink::message_key(&message.id),
                        n => MatrixEventLink::part_key(&message.id, n),
                    };
                    if store
                        .matrix_event_by_key(&key)
                        .await
                        .map_err(store_error)?
                        .is_some()
                    {
                        continue;
                    }
                    bridge.puppet_in_room(&mxid, mroom).await?;
                    let mut content = self.part_content(&message, part, &mxid).await?;
                    if n == 0 && !mentioned.is_empty() {
                        content["m.mentions"] = json!({ "user_ids": mentioned });
                    }
                    if let Some(root) = &thread {
                        content["m.relates_to"] = json!({
                            "rel_type": "m.thread",
                            "event_id": root,
                            "is_falling_back": true,
                            "m.in_reply_to": { "event_id": root },
                        });
                    }
                    // One transaction id per event: each attempt of the item
                    // repeats the same ones.
                    let txn = match n {
                        0 => item.id.clone(),
                        n => format!("{}.{n}", item.id),
                    };
                    let event_id = bridge
                        .hs
                        .send(&mxid, mroom, "m.room.message", &txn, content)
                        .await?;
                    self.record(&event_id, key, &p.room_id).await?;
                    tracing::info!(room_id = %p.room_id, message_id = %message.id, part = n, event_id, "matrix: message sent");
                }
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
                let mut new = text_content(&text);
                let mut content = text_content(&format!("* {text}"));
                // Matrix notifies from `m.mentions`: the new content names
                // everyone it mentions, the edit only whom the original did not.
                let mentioned = self.mentioned(&message.mentions).await?;
                let before = self.original_mentions(&mxid, mroom, &target.event_id).await;
                let newly: Vec<&String> =
                    mentioned.iter().filter(|m| !before.contains(*m)).collect();
                new["m.mentions"] = json!({ "user_ids": mentioned });
                content["m.mentions"] = json!({ "user_ids": newly });
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
                // The further files of the message go with it (first: the message's
                // event, redacted last, is what a retry finds).
                for n in 1.. {
                    let key = MatrixEventLink::part_key(&message_id, n);
                    let Some(part) = store.matrix_event_by_key(&key).await.map_err(store_error)?
                    else {
                        break;
                    };
                    let txn = format!("{}.{n}", item.id);
                    bridge
                        .hs
                        .redact(&redactor, mroom, &part.event_id, &txn)
                        .await?;
                    store
                        .delete_matrix_event(&part.event_id)
                        .await
                        .map_err(store_error)?;
                }
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
            // Handled above: no room.
            Op::Profile { .. } => {}
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
