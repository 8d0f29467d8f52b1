//! Storage of Rocket.Chat integrations (incoming and outgoing webhooks).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Listing, Page, StoreResult, Ts};

/// Rocket.Chat's `type` of an incoming webhook.
pub const WEBHOOK_INCOMING: &str = "webhook-incoming";
/// Rocket.Chat's `type` of an outgoing webhook.
pub const WEBHOOK_OUTGOING: &str = "webhook-outgoing";

/// What only an outgoing webhook has (Rocket.Chat's field names at the API edge).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingHook {
    /// Rocket.Chat's trigger event (`sendMessage`).
    pub event: String,
    /// Where each triggering event is POSTed.
    pub urls: Vec<String>,
    /// The message must start with one of these (contain one, with
    /// `trigger_word_anywhere`); none means every message.
    pub trigger_words: Vec<String>,
    pub trigger_word_anywhere: bool,
    /// Edits trigger too.
    pub run_on_edits: bool,
    /// Where replies go instead of the triggering room.
    pub target_room: Option<String>,
    pub retry_failed_calls: bool,
    /// Retries after the first attempt.
    pub retry_count: u32,
    /// `powers-of-ten`, `powers-of-two` or `increments-of-two`.
    pub retry_delay: String,
    pub impersonate_user: bool,
}

/// Who created an integration (`_createdBy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedBy {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
}

/// An integration as stored; field names follow Rocket.Chat's `rocketchat_integrations`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Integration {
    #[serde(rename = "_id")]
    pub id: String,
    /// [`WEBHOOK_INCOMING`] or [`WEBHOOK_OUTGOING`].
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub enabled: bool,
    /// Where messages go: `#channel`, `@username` or a room id (one or more).
    pub channel: Vec<String>,
    /// The user messages are posted as (id is authoritative, the name is for display).
    #[serde(rename = "userId")]
    pub user_id: String,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Avatar URL shown on the messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// The secret in the hook URL. Kept as is: Rocket.Chat shows it to admins again
    /// (`integrations.get`), so it cannot be stored hashed.
    pub token: String,
    /// Whether a payload may name another `channel` than the configured one.
    #[serde(rename = "overrideDestinationChannelEnabled")]
    pub override_channel: bool,
    /// Rocket.Chat's `scriptEnabled`. Palaver runs no scripts: it is kept only with
    /// an empty `script` (what Rocket.Chat, too, treats as no script).
    #[serde(rename = "scriptEnabled", default)]
    pub script_enabled: bool,
    #[serde(rename = "_createdBy")]
    pub created_by: CreatedBy,
    #[serde(rename = "_createdAt")]
    pub created_at: Ts,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
    /// Set for outgoing webhooks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outgoing: Option<OutgoingHook>,
}

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    /// Inserts an integration; `Conflict("id")` if the id exists.
    async fn insert_integration(&self, integration: &Integration) -> StoreResult<()>;
    async fn integration(&self, id: &str) -> StoreResult<Option<Integration>>;
    /// Integrations in creation order (then id).
    async fn list_integrations(&self, page: Page) -> StoreResult<Listing<Integration>>;
    /// Replaces an integration (same id); `Ok(false)` if it does not exist.
    async fn update_integration(&self, integration: &Integration) -> StoreResult<bool>;
    /// `Ok(false)` if it did not exist.
    async fn delete_integration(&self, id: &str) -> StoreResult<bool>;

    /// Records one entry of an integration's history.
    async fn insert_integration_history(&self, entry: &IntegrationHistory) -> StoreResult<()>;
    /// An integration's history, newest first (by `at`, then id).
    async fn integration_history(
        &self,
        integration_id: &str,
        page: Page,
    ) -> StoreResult<Listing<IntegrationHistory>>;
    /// Keeps an integration's `keep` newest entries not older than `before`;
    /// returns how many were deleted.
    async fn prune_integration_history(
        &self,
        integration_id: &str,
        keep: u64,
        before: Ts,
    ) -> StoreResult<u64>;
    /// Deletes an integration's whole history (the integration was removed).
    async fn delete_integration_history(&self, integration_id: &str) -> StoreResult<u64>;
}

/// One entry of an integration's history: an outgoing webhook's delivery attempt
/// (request, response status, body excerpt, error), or an incoming webhook's call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationHistory {
    #[serde(rename = "_id")]
    pub id: String,
    pub integration_id: String,
    /// The integration's kind ([`WEBHOOK_INCOMING`] or [`WEBHOOK_OUTGOING`]).
    #[serde(rename = "type")]
    pub kind: String,
    /// The triggering event (outgoing), or `incoming`.
    pub event: String,
    /// Where it ended, in Rocket.Chat's step names (`after-http-call`, …).
    pub step: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The start of the body sent (outgoing) or received (incoming), as text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The start of the response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_word: Option<String>,
    /// The queue item (outgoing): every attempt of one call shares it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_id: Option<String>,
    /// 1 for the first attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Whether it will be tried again.
    #[serde(default)]
    pub retrying: bool,
    pub at: Ts,
}
