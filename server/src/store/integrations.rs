//! Storage of Rocket.Chat integrations (incoming webhooks).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Listing, Page, StoreResult, Ts};

/// Rocket.Chat's `type` of an incoming webhook, the only kind Palaver runs.
pub const WEBHOOK_INCOMING: &str = "webhook-incoming";

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
    /// Always [`WEBHOOK_INCOMING`] for now.
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
    #[serde(rename = "_createdBy")]
    pub created_by: CreatedBy,
    #[serde(rename = "_createdAt")]
    pub created_at: Ts,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
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
}
