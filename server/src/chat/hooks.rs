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
