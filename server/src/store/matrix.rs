//! The Matrix bridge's memory (see `bridges::matrix`): which Palaver room is which
//! Matrix room, which Palaver user is which Matrix user, which message is which
//! Matrix event, and which homeserver transactions were handled already.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{StoreResult, Ts};

/// A Palaver room bridged to a Matrix room.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRoomLink {
    /// The Palaver room id.
    #[serde(rename = "_id")]
    pub room_id: String,
    /// `!opaque:server`.
    #[serde(rename = "matrixRoomId")]
    pub matrix_room_id: String,
    /// The alias it was bridged by, if any (`#palaver_general:server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Bridged by an admin (a private group may only be bridged so), or opened
    /// through the alias namespace.
    pub explicit: bool,
    #[serde(rename = "createdAt")]
    pub created_at: Ts,
}

/// A Palaver user and their Matrix identity: a Matrix user mirrored into Palaver
/// (`remote`), or the puppet of a Palaver user on Matrix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixUserLink {
    /// The Palaver user id.
    #[serde(rename = "_id")]
    pub user_id: String,
    /// `@localpart:server`.
    pub mxid: String,
    pub remote: bool,
    /// For puppets: the display name last set on Matrix (to set it again only on change).
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub display_name: Option<String>,
    /// What avatar was last synced: for puppets the Palaver `avatarETag` whose
    /// image is the puppet's `avatar_url`; for remote users the `mxc://` URL whose
    /// image is their Palaver avatar. None: no avatar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
}

/// A Matrix event and what it is in Palaver: a message (`key` = `m:<message id>`)
/// or one user's reaction (`r:<message id>:<emoji>:<user id>`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixEventLink {
    #[serde(rename = "_id")]
    pub event_id: String,
    pub key: String,
    #[serde(rename = "roomId")]
    pub room_id: String,
    #[serde(rename = "createdAt")]
    pub created_at: Ts,
}

impl MatrixEventLink {
    pub fn message_key(message_id: &str) -> String {
        format!("m:{message_id}")
    }

    /// The `n`th further event (from 1) of a message sent to Matrix as several
    /// events (one per file).
    pub fn part_key(message_id: &str, n: usize) -> String {
        format!("f:{message_id}:{n}")
    }

    pub fn reaction_key(message_id: &str, emoji: &str, user_id: &str) -> String {
        format!("r:{message_id}:{emoji}:{user_id}")
    }
}

#[async_trait]
pub trait MatrixStore: Send + Sync {
    /// Inserts or replaces the link of `link.room_id`; `Conflict` when
    /// the Matrix room is linked to another Palaver room.
    async fn put_matrix_room(&self, link: &MatrixRoomLink) -> StoreResult<()>;
    async fn matrix_room_by_room(&self, room_id: &str) -> StoreResult<Option<MatrixRoomLink>>;
    async fn matrix_room_by_matrix(
        &self,
        matrix_room_id: &str,
    ) -> StoreResult<Option<MatrixRoomLink>>;
    async fn delete_matrix_room(&self, room_id: &str) -> StoreResult<bool>;
    /// Every link, by creation.
    async fn matrix_rooms(&self) -> StoreResult<Vec<MatrixRoomLink>>;

    /// Inserts or replaces the link of `link.user_id`; `Conflict` when the
    /// Matrix id belongs to another user.
    async fn put_matrix_user(&self, link: &MatrixUserLink) -> StoreResult<()>;
    async fn matrix_user_by_user(&self, user_id: &str) -> StoreResult<Option<MatrixUserLink>>;
    async fn matrix_user_by_mxid(&self, mxid: &str) -> StoreResult<Option<MatrixUserLink>>;

    /// Records an event link unless its event or its key is known; returns whether
    /// it was inserted.
    async fn insert_matrix_event(&self, link: &MatrixEventLink) -> StoreResult<bool>;
    async fn matrix_event(&self, event_id: &str) -> StoreResult<Option<MatrixEventLink>>;
    async fn matrix_event_by_key(&self, key: &str) -> StoreResult<Option<MatrixEventLink>>;
    async fn delete_matrix_event(&self, event_id: &str) -> StoreResult<bool>;

    /// Whether the homeserver's transaction was handled already.
    async fn matrix_txn_done(&self, txn_id: &str) -> StoreResult<bool>;
    /// Records a handled transaction (idempotent).
    async fn mark_matrix_txn(&self, txn_id: &str, at: Ts) -> StoreResult<()>;

    /// Whether a pending `matrix` queue item whose dedupe key starts with `prefix`
    /// comes before (`created_at`, `id`): the bridge delivers a room's events in order.
    async fn matrix_outbox_pending_before(
        &self,
        prefix: &str,
        created_at: Ts,
        id: &str,
    ) -> StoreResult<bool>;
}
