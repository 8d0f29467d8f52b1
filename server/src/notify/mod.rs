//! Notifications for people who are not looking: who is notified of a message and
//! through which channel (e-mail, mobile push, Web Push), decided off the posting
//! request and delivered through the durable queue (`worker::outbox`).
//!
//! The recipient rules produce one [`Notice`] per person and channel; the channels
//! turn it into deliveries. Push channels plug in behind [`PushSink`], so the rules
//! never depend on how a device is reached.

pub mod email;
mod email_export;
mod email_missed;
pub mod rules;
pub mod worker;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::store::outbox::OutboxItem;
use crate::store::RoomType;

/// Why a person is notified of a message, as Rocket.Chat's notification rules decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeReason {
    /// A message in a direct conversation.
    Direct,
    /// `@username`.
    Mention,
    /// `@all`.
    All,
    /// `@here`.
    Here,
    /// A reply in a thread the person follows.
    Thread,
    /// Every message: the person's preference for the room is `all`.
    Everything,
}

/// One message, for one person, through one channel: what a sink needs to tell them,
/// without reading the store again.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// The person notified.
    pub user_id: String,
    pub rid: String,
    pub room_type: RoomType,
    /// The room's name as the person sees it (for a direct message: the sender's).
    pub room_name: String,
    pub message_id: String,
    /// The thread the message belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tmid: Option<String>,
    pub sender_id: String,
    pub sender_username: String,
    pub sender_name: String,
    /// The message's text as posted (sinks escape or shorten it for their medium).
    pub text: String,
    pub reason: NoticeReason,
}

/// Where push notices go: mobile devices (gateway, FCM, APNs) and browsers (Web Push).
/// `items` answers the deliveries of the notices, one per registered device or
/// subscription, deduplicated by message and device; the caller queues them (the
/// fan-out, with its progress, in one write). It never waits for the outside world.
#[async_trait]
pub trait PushSink: Send + Sync {
    async fn items(&self, notices: &[Notice]) -> Result<Vec<OutboxItem>, PushSinkError>;
}

/// A push notice that could not be queued.
#[derive(Debug, thiserror::Error)]
#[error("could not queue a push notification: {0}")]
pub struct PushSinkError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

pub mod push;
