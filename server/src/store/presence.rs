//! Storage of presence: every live realtime connection of every instance, with the
//! instance that holds it and when it expires unless that instance renews it, and
//! the presence fields kept on users.
//!
//! An instance renews its connections on a heartbeat; one that crashed stops, so its
//! connections expire and any instance's sweep removes them. Whole-user updates
//! (`update_user`) never touch the presence fields: only [`PresenceStore`] writes them.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Listing, Page, StoreResult, Ts, User};

/// One live realtime connection of a logged-in user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresenceConn {
    /// The DDP session id (unique across instances).
    #[serde(rename = "_id")]
    pub id: String,
    pub user_id: String,
    pub instance_id: String,
    /// `online` or `away` (the client says which).
    pub status: String,
    pub expires_at: Ts,
}

/// The presence fields of a user to write; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PresenceFields {
    pub status: Option<String>,
    pub status_connection: Option<String>,
    pub status_default: Option<String>,
    pub status_text: Option<String>,
}

/// Which users `users_by_status` lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatusQuery {
    /// Only these statuses (`offline` includes users with none); empty: any.
    pub statuses: Vec<String>,
    /// Only these ids; `None`: everyone.
    pub ids: Option<Vec<String>>,
    /// Only users updated at or after this instant.
    pub updated_since: Option<Ts>,
    /// Substring of the username or name (case-insensitive).
    pub search: Option<String>,
    /// Only active (`true`) or deactivated (`false`) accounts.
    pub active: Option<bool>,
    /// Only users who have (`true`) or have never (`false`) logged in.
    pub has_logged_in: Option<bool>,
    /// Only users of this type (`user`, `bot`).
    pub kind: Option<String>,
    /// Only users holding one of these roles; empty: any. A filter on the walk
    /// the other fields choose (no index of its own).
    pub roles: Vec<String>,
}

#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// Inserts or replaces a connection.
    async fn put_presence_conn(&self, conn: &PresenceConn) -> StoreResult<()>;
    /// Sets a connection's status; `false` if it is not there.
    async fn set_presence_conn_status(&self, id: &str, status: &str) -> StoreResult<bool>;
    /// Removes a connection; `false` if it was not there.
    async fn remove_presence_conn(&self, id: &str) -> StoreResult<bool>;
    /// A user's connections not expired at `now`.
    async fn presence_conns_of(&self, user_id: &str, now: Ts) -> StoreResult<Vec<PresenceConn>>;
    /// Pushes back the expiry of every connection of an instance.
    async fn renew_presence_conns(&self, instance_id: &str, expires_at: Ts) -> StoreResult<u64>;
    /// Removes the connections expired at `now`; returns their users (deduplicated).
    async fn remove_expired_presence_conns(&self, now: Ts) -> StoreResult<Vec<String>>;
    /// Removes every connection of an instance; returns their users (deduplicated).
    async fn remove_instance_presence_conns(&self, instance_id: &str) -> StoreResult<Vec<String>>;
    /// Writes the given presence fields of a user (and `_updatedAt`); `false` if
    /// there is no such user.
    async fn set_user_presence(
        &self,
        user_id: &str,
        fields: &PresenceFields,
        updated_at: Ts,
    ) -> StoreResult<bool>;
    /// Users matching `query`, by username, one page of them.
    async fn users_by_status(&self, query: &StatusQuery, page: Page) -> StoreResult<Listing<User>>;
}

/// Copies the presence fields of `from` onto `to`: a whole-user write keeps what
/// presence stored.
pub fn keep_presence(to: &mut User, from: &User) {
    to.status.clone_from(&from.status);
    to.status_connection.clone_from(&from.status_connection);
    to.status_default.clone_from(&from.status_default);
    to.status_text.clone_from(&from.status_text);
}
