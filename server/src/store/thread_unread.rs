//! Unread threads on subscriptions (`tunread`, `tunreadUser`, `tunreadGroup`): a
//! thread reply marks its thread unread for the followers in the same commit as the
//! message (see [`super::ThreadReplyEffects`]); these are the ways it becomes read.

use async_trait::async_trait;

use super::{StoreResult, Subscription, Ts};

#[async_trait]
pub trait ThreadUnreadStore: Send + Sync {
    /// Takes thread `tmid` off the member's unread threads, stamping `_updatedAt`.
    /// When it was their last unread thread and the room has no unread message
    /// either, `alert` goes too (Rocket.Chat's `readThread`). The subscription after
    /// the change; `None` when the thread was not unread for them (nothing changed).
    async fn read_thread(
        &self,
        rid: &str,
        user_id: &str,
        tmid: &str,
        at: Ts,
    ) -> StoreResult<Option<Subscription>>;
    /// Takes thread `tmid` off every member's unread threads (the thread is gone);
    /// the ids of the members whose subscription changed.
    async fn forget_thread(&self, rid: &str, tmid: &str, at: Ts) -> StoreResult<Vec<String>>;
}
