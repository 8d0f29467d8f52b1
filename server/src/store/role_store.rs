//! Storage of roles (Rocket.Chat's `rocketchat_roles`): the named roles users hold
//! globally (`scope: Users`, in the user's `roles`) or per room (`scope:
//! Subscriptions`, in a subscription's `roles`), and the role queries over users and
//! subscriptions.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Listing, Page, StoreResult, Subscription, Ts, User};

/// Where a role is held.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleScope {
    /// On the user (`users.roles`).
    Users,
    /// On a room membership (`subscriptions.roles`).
    Subscriptions,
}

/// A role (Rocket.Chat's `IRole`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Role {
    #[serde(rename = "_id")]
    pub id: String,
    /// Unique.
    pub name: String,
    pub scope: RoleScope,
    #[serde(default)]
    pub description: String,
    /// Built-in: cannot be deleted.
    #[serde(default)]
    pub protected: bool,
    #[serde(default)]
    pub mandatory2fa: bool,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
}

/// A deleted role, kept so that `roles.sync` can report it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedRole {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "_deletedAt")]
    pub deleted_at: Ts,
}

#[async_trait]
pub trait RoleStore: Send + Sync {
    /// Every role, sorted by id.
    async fn roles(&self) -> StoreResult<Vec<Role>>;
    async fn role(&self, id: &str) -> StoreResult<Option<Role>>;
    /// `Conflict("role name")` when the name is taken, `Conflict("id")` for the id.
    async fn insert_role(&self, role: &Role) -> StoreResult<()>;
    /// Replaces a role (same id); `Ok(false)` if there is none.
    async fn update_role(&self, role: &Role) -> StoreResult<bool>;
    /// Deletes a role, recording its removal at `at`; `Ok(false)` if there is none.
    async fn delete_role(&self, id: &str, at: Ts) -> StoreResult<bool>;
    /// Roles deleted after `since`.
    async fn removed_roles(&self, since: Ts) -> StoreResult<Vec<RemovedRole>>;
    /// Users holding the global role, sorted by username.
    async fn users_in_role(&self, role: &str, page: Page) -> StoreResult<Listing<User>>;
    /// Members of the room holding the room role, sorted by username.
    async fn room_members_in_role(&self, rid: &str, role: &str) -> StoreResult<Vec<Subscription>>;
    /// Members of the room holding any room role, sorted by username.
    async fn subscriptions_with_roles(&self, rid: &str) -> StoreResult<Vec<Subscription>>;
    /// Sets a membership's room roles (and `_updatedAt` to `at`); returns it after
    /// the change, `None` if the user is not in the room.
    async fn set_subscription_roles(
        &self,
        rid: &str,
        user_id: &str,
        roles: &[String],
        at: Ts,
    ) -> StoreResult<Option<Subscription>>;
}
