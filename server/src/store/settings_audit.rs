//! Storage of the settings audit log: one record per change of a workspace setting
//! (who, when, the value before and after, secrets already redacted by the caller).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Listing, Page, StoreResult, Ts};

/// Who changed a setting.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeActor {
    #[serde(rename = "_id")]
    pub id: String,
    pub username: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub useragent: Option<String>,
}

/// One change of one setting.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SettingChange {
    #[serde(rename = "_id")]
    pub id: String,
    pub setting_id: String,
    pub ts: Ts,
    pub actor: ChangeActor,
    pub previous: serde_json::Value,
    pub current: serde_json::Value,
}

/// Which changes to list; every bound is optional and inclusive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SettingChangeQuery {
    pub setting_id: Option<String>,
    pub actor_id: Option<String>,
    pub since: Option<Ts>,
    pub until: Option<Ts>,
    /// Oldest first instead of the default newest first.
    pub oldest_first: bool,
}

#[async_trait]
pub trait SettingAuditStore: Send + Sync {
    async fn insert_setting_change(&self, change: &SettingChange) -> StoreResult<()>;
    /// Changes matching `query`, ordered by time (ties by id), one page of them.
    async fn setting_changes(
        &self,
        query: &SettingChangeQuery,
        page: Page,
    ) -> StoreResult<Listing<SettingChange>>;
}
