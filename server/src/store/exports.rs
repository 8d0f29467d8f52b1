//! Data export operations (Rocket.Chat's `rocketchat_export_operations`): a
//! person's request to download their own data (`users.requestDataDownload`),
//! worked by the export worker from `pending` to `completed` with the file made.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{StoreResult, Ts};

/// Where an export operation is (a subset of Rocket.Chat's statuses).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportStatus {
    /// Queued, not started.
    Pending,
    /// Being built.
    Exporting,
    /// The file is made (`fileId`).
    Completed,
}

/// One request of a person for their data; field names as Rocket.Chat's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportOperation {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(rename = "userId")]
    pub user_id: String,
    pub status: ExportStatus,
    /// Every message of the person's rooms (JSON), not only their own (HTML).
    #[serde(rename = "fullExport")]
    pub full_export: bool,
    #[serde(rename = "createdAt")]
    pub created_at: Ts,
    #[serde(rename = "_updatedAt")]
    pub updated_at: Ts,
    /// The file made, once completed.
    #[serde(rename = "fileId", default, skip_serializing_if = "Option::is_none")]
    pub file_id: Option<String>,
}

#[async_trait]
pub trait ExportStore: Send + Sync {
    /// `Conflict("id")` if the id exists.
    async fn insert_export(&self, op: &ExportOperation) -> StoreResult<()>;
    async fn export_by_id(&self, id: &str) -> StoreResult<Option<ExportOperation>>;
    /// The person's latest operation of this kind (`full_export`): a range of an
    /// index on (user, kind, creation).
    async fn last_export(
        &self,
        user_id: &str,
        full_export: bool,
    ) -> StoreResult<Option<ExportOperation>>;
    /// Rewrites an operation (status, file); `false` if there is none.
    async fn update_export(&self, op: &ExportOperation) -> StoreResult<bool>;
}
