//! The durable delivery queue (outbox): things to deliver to the outside world
//! (outgoing webhooks; later e-mail, push, the Matrix bridge), kept in the store so
//! they survive restarts and are shared by every instance on one database.
//!
//! Guarantees the backends give:
//! - enqueueing is one insert; an item whose `(kind, dedupe_key)` is already queued
//!   (pending or dead) is not inserted again;
//! - a lease (`lease_owner` until `lease_until`) is taken atomically: two instances
//!   never hold the same item at once, and an item whose lease expired (its holder
//!   crashed) is leased again;
//! - `complete` and `fail` act only for the holder of the lease.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Listing, Page, StoreResult, Ts};

/// What an item is, and so which delivery handler works it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum OutboxKind {
    /// A Rocket.Chat outgoing webhook call.
    #[serde(rename = "webhook")]
    Webhook,
    /// A push notification to one device (mobile app or browser).
    #[serde(rename = "push")]
    Push,
    /// An e-mail (`chat::mail::Mail`).
    #[serde(rename = "email")]
    Email,
    /// An event for the Matrix homeserver (`bridges::matrix`).
    #[serde(rename = "matrix")]
    Matrix,
    /// A posted message whose notifications are still to be fanned out
    /// (`notify::worker`): written with the message, so a crash loses none.
    #[serde(rename = "notify")]
    Notify,
    /// A data export to build (`chat::data_export`): a room's messages as a file,
    /// or a person's own data.
    #[serde(rename = "export")]
    Export,
    /// The link previews of a message to read (`chat::link_previews`).
    #[serde(rename = "preview")]
    Preview,
}

impl OutboxKind {
    /// Every kind, for statistics and one worker loop each.
    pub const ALL: &'static [OutboxKind] = &[
        OutboxKind::Webhook,
        OutboxKind::Push,
        OutboxKind::Email,
        OutboxKind::Matrix,
        OutboxKind::Notify,
        OutboxKind::Export,
        OutboxKind::Preview,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Webhook => "webhook",
            OutboxKind::Push => "push",
            OutboxKind::Email => "email",
            OutboxKind::Matrix => "matrix",
            OutboxKind::Notify => "notify",
            OutboxKind::Export => "export",
            OutboxKind::Preview => "preview",
        }
    }

    pub fn parse(name: &str) -> Option<OutboxKind> {
        OutboxKind::ALL.iter().copied().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for OutboxKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an item is in its life: waiting (or being worked), or given up on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutboxState {
    Pending,
    /// Out of attempts, too old, or refused for good: kept for admins to retry or drop.
    Dead,
}

impl OutboxState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxState::Pending => "pending",
            OutboxState::Dead => "dead",
        }
    }

    pub fn parse(name: &str) -> Option<OutboxState> {
        match name {
            "pending" => Some(OutboxState::Pending),
            "dead" => Some(OutboxState::Dead),
            _ => None,
        }
    }
}

/// One thing to deliver.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    #[serde(rename = "_id")]
    pub id: String,
    pub kind: OutboxKind,
    /// Unique per kind while the item is queued: enqueueing the same key again is a
    /// no-op.
    pub dedupe_key: String,
    /// What the handler of the kind needs to deliver it.
    pub payload: serde_json::Value,
    pub state: OutboxState,
    /// Attempts made so far (in the current round: an admin's retry restarts at 0).
    pub attempts: u32,
    /// Not delivered before this time.
    pub next_attempt: Ts,
    pub last_error: Option<String>,
    pub created_at: Ts,
    /// Start of the current round of attempts (creation, or an admin's retry): the
    /// maximum age counts from here.
    pub since: Ts,
    pub lease_owner: Option<String>,
    /// `Ts(0)` when not leased.
    pub lease_until: Ts,
}

impl OutboxItem {
    /// A new pending item, due `now`.
    pub fn new(
        id: String,
        kind: OutboxKind,
        dedupe_key: String,
        payload: serde_json::Value,
        now: Ts,
    ) -> OutboxItem {
        OutboxItem {
            id,
            kind,
            dedupe_key,
            payload,
            state: OutboxState::Pending,
            attempts: 0,
            next_attempt: now,
            last_error: None,
            created_at: now,
            since: now,
            lease_owner: None,
            lease_until: Ts(0),
        }
    }
}

/// How a failed attempt ends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OutboxFailure {
    /// Try again at this time (the lease is released).
    RetryAt(Ts),
    /// Give up: the item goes to the dead letters.
    Dead,
}

/// The queue of one kind at a glance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OutboxStats {
    pub kind: OutboxKind,
    /// Pending items (leased ones included).
    pub pending: u64,
    /// Pending items that are leased right now.
    pub leased: u64,
    pub dead: u64,
    /// Creation time of the oldest pending item.
    pub oldest_pending: Option<Ts>,
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Inserts the items in one write; an item whose `(kind, dedupe_key)` is queued
    /// already is skipped. Returns how many were inserted.
    async fn enqueue_outbox(&self, items: &[OutboxItem]) -> StoreResult<u64>;
    /// Queues `items` (as [`OutboxStore::enqueue_outbox`]) and records the
    /// progress of the item `id`, which `owner` holds, as its new `payload`: a
    /// handler that turns one item into many (the notification fan-out) resumes
    /// where it left off after a crash, and never queues again what it queued (and
    /// what may have been delivered since). `Ok(None)`: `owner` no longer holds
    /// the item, and nothing was written. SQLite does both in one transaction;
    /// MongoDB queues the items held by `owner`, records the progress, then lets
    /// them go, so a crash in between never makes a redo queue again (and deliver
    /// twice) an item delivered meanwhile.
    async fn enqueue_outbox_advancing(
        &self,
        items: &[OutboxItem],
        id: &str,
        owner: &str,
        payload: &serde_json::Value,
    ) -> StoreResult<Option<u64>>;
    /// Leases up to `limit` pending items of `kind` due at `now` that nobody holds
    /// (or whose lease expired) to `owner` until `lease_until`, oldest due first.
    async fn lease_outbox(
        &self,
        kind: OutboxKind,
        now: Ts,
        owner: &str,
        lease_until: Ts,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>>;
    /// Deletes a delivered item; `Ok(false)` (and nothing done) if `owner` does not
    /// hold it.
    async fn complete_outbox(&self, id: &str, owner: &str) -> StoreResult<bool>;
    /// [`OutboxStore::complete_outbox`] for many items in one write; returns how
    /// many `owner` held (and so deleted).
    async fn complete_outbox_many(&self, ids: &[String], owner: &str) -> StoreResult<u64>;
    /// Records a failed attempt (`attempts + 1`, `last_error`) and reschedules the
    /// item or makes it dead, releasing the lease; `Ok(false)` if `owner` does not
    /// hold it.
    async fn fail_outbox(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        outcome: OutboxFailure,
    ) -> StoreResult<bool>;
    /// Gives back `owner`'s leases of these items untouched (a stopping instance's
    /// unfinished work); returns how many.
    async fn release_outbox(&self, ids: &[String], owner: &str) -> StoreResult<u64>;
    /// One item by id, any state.
    async fn outbox_item(&self, id: &str) -> StoreResult<Option<OutboxItem>>;
    /// Dead items (of one kind or all), oldest first.
    async fn dead_outbox(
        &self,
        kind: Option<OutboxKind>,
        page: Page,
    ) -> StoreResult<Listing<OutboxItem>>;
    /// Makes dead items pending again, due `now`, with a fresh round of attempts:
    /// the one with `id`, or every dead item (of `kind`, if given). Returns how many.
    async fn retry_dead_outbox(
        &self,
        id: Option<&str>,
        kind: Option<OutboxKind>,
        now: Ts,
    ) -> StoreResult<u64>;
    /// Deletes dead items: the one with `id`, or every dead item (of `kind`, if
    /// given). Pending items are never dropped. Returns how many.
    async fn drop_dead_outbox(
        &self,
        id: Option<&str>,
        kind: Option<OutboxKind>,
    ) -> StoreResult<u64>;
    /// Counts per kind (every kind of [`OutboxKind::ALL`], in that order).
    async fn outbox_stats(&self, now: Ts) -> StoreResult<Vec<OutboxStats>>;
}
