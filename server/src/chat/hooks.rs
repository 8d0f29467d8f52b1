//! Extension points the chat services call into. Defined here so `chat` never
//! depends on the apps engine: the engine implements them and is plugged in at
//! start-up.

use async_trait::async_trait;

use super::error::ChatResult;
use crate::store::{Message, Room, User};

/// Runs before a message is committed: may pass it on changed, or refuse it.
#[async_trait]
pub trait PreSendHook: Send + Sync {
    /// Returns the message to store, or the refusal the sender sees.
    async fn pre_send(&self, sender: &User, room: &Room, message: Message) -> ChatResult<Message>;
}

/// The notification fan-out's durable marker (`notify::worker`): one queue item
/// per posted message, committed with it, so a crash right after the post is
/// acknowledged still notifies everyone once the process is back.
pub trait NoticeQueue: Send + Sync {
    /// The item to commit with `message`.
    fn marker(&self, message: &Message) -> crate::store::outbox::OutboxItem;
    /// The message committed: start its fan-out (wake the worker).
    fn queued(&self);
}
