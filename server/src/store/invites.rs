//! Invite links (Rocket.Chat's `rocketchat_invite`): a token that lets whoever
//! holds it join one room, for a number of days and a number of uses.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{StoreResult, Ts};

/// One invite; field names as Rocket.Chat's `IInvite`. Its `url` is not stored:
/// it depends on settings (`Site_Url`, the URL type) and is made when served.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// The token itself (six random characters, as Rocket.Chat's `Random.id(6)`).
    #[serde(rename = "_id")]
    pub id: String,
    /// Days until it expires; 0: never.
    pub days: i64,
    /// Uses allowed; 0: any number.
    #[serde(rename = "maxUses")]
    pub max_uses: i64,
    pub rid: String,
    /// Who created it.
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(rename = "createdAt")]
    pub created_at: Ts,
    /// `createdAt` plus `days`; `None` when it never expires.
    pub expires: Option<Ts>,
    /// People who joined the room through it.
    pub uses: i64,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
}

impl Invite {
    /// Past its expiry at `now` (Rocket.Chat: `expires <= now`).
    pub fn expired(&self, now: Ts) -> bool {
        self.expires.is_some_and(|e| e.0 <= now.0)
    }

    /// Every use it allows is taken.
    pub fn exhausted(&self) -> bool {
        self.max_uses > 0 && self.uses >= self.max_uses
    }
}

#[async_trait]
pub trait InviteStore: Send + Sync {
    /// `Conflict("id")` if the token exists.
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()>;
    async fn invite_by_id(&self, id: &str) -> StoreResult<Option<Invite>>;
    /// An invite of `user_id` for `rid` with these `max_uses` and `days` that has
    /// not expired at `now` (Rocket.Chat's `findOneByUserRoomMaxUsesAndExpiration`,
    /// which `findOrCreateInvite` hands out again instead of making another): a
    /// range of an index on (room, creator, uses, days).
    async fn reusable_invite(
        &self,
        user_id: &str,
        rid: &str,
        max_uses: i64,
        days: i64,
        now: Ts,
    ) -> StoreResult<Option<Invite>>;
    /// Every invite, oldest first (`listInvites`): a walk of an index on creation.
    async fn invites(&self) -> StoreResult<Vec<Invite>>;
    /// `false` if there was none.
    async fn delete_invite(&self, id: &str) -> StoreResult<bool>;
    /// Deletes a room's invites (the room is gone); returns how many.
    async fn delete_room_invites(&self, rid: &str) -> StoreResult<u64>;
    /// Counts one more use, atomically and only while a use is left (`uses <
    /// maxUses`, or no limit): two people racing for the last use cannot both
    /// have it. The invite after the change; `None` if it is gone or used up.
    async fn claim_invite_use(&self, id: &str, at: Ts) -> StoreResult<Option<Invite>>;
}
