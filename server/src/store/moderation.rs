//! Storage of message reports: what users flagged for the moderators
//! (`chat.reportMessage`), with a snapshot of the message, room and reporter as
//! they were, so a report stays readable after the message changes or goes.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Listing, Page, StoreResult, Ts};

/// Who reported (Rocket.Chat's `reportedBy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedBy {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
    pub name: String,
}

/// The room of the reported message (Rocket.Chat's `room`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedRoom {
    #[serde(rename = "_id")]
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fname: Option<String>,
    pub t: String,
}

/// One report of one message; field names follow Rocket.Chat's
/// `rocketchat_moderation_reports`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageReport {
    #[serde(rename = "_id")]
    pub id: String,
    /// The message as it was when reported (its REST form).
    pub message: serde_json::Value,
    #[serde(rename = "messageId")]
    pub message_id: String,
    pub description: String,
    pub room: ReportedRoom,
    #[serde(rename = "reportedBy")]
    pub reported_by: ReportedBy,
    pub ts: Ts,
}

#[async_trait]
pub trait ModerationStore: Send + Sync {
    /// Records a report; `Conflict("id")` if the id exists.
    async fn insert_message_report(&self, report: &MessageReport) -> StoreResult<()>;
    /// The reports of one message, newest first (by `ts`, then id).
    async fn message_reports(
        &self,
        message_id: &str,
        page: Page,
    ) -> StoreResult<Listing<MessageReport>>;
}
