//! The settings audit log on MongoDB: collection `setting_changes`, indexed by time.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::{backend, collect, page_limit, to_doc, write_error, Ctx, MongoStore};
use crate::store::settings_audit::{SettingAuditStore, SettingChange, SettingChangeQuery};
use crate::store::{Listing, Page, StoreResult};

const SETTING_CHANGES: &str = "setting_changes";

impl MongoStore {
    fn setting_changes_coll(&self) -> Collection<Document> {
        self.coll(SETTING_CHANGES)
    }

    /// Creates the audit log's index (idempotently).
    pub(super) async fn create_setting_change_indexes(&self) -> StoreResult<()> {
        let by_ts = IndexModel::builder()
            .keys(doc! { "ts": -1, "_id": -1 })
            .options(IndexOptions::builder().name("by_ts".to_string()).build())
            .build();
        self.setting_changes_coll()
            .create_indexes([by_ts])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{SETTING_CHANGES}", self.database),
                    e,
                )
            })?;
        Ok(())
    }
}

#[async_trait]
impl SettingAuditStore for MongoStore {
    async fn insert_setting_change(&self, change: &SettingChange) -> StoreResult<()> {
        self.setting_changes_coll()
            .insert_one(to_doc(change, "setting change")?)
            .await
            .map_err(|e| write_error("insert setting change", e, &[], "id"))?;
        Ok(())
    }

    async fn setting_changes(
        &self,
        query: &SettingChangeQuery,
        page: Page,
    ) -> StoreResult<Listing<SettingChange>> {
        let mut filter = Document::new();
        if let Some(id) = &query.setting_id {
            filter.insert("setting_id", id);
        }
        if let Some(actor) = &query.actor_id {
            filter.insert("actor._id", actor);
        }
        let mut ts = Document::new();
        if let Some(since) = query.since {
            ts.insert("$gte", since.0);
        }
        if let Some(until) = query.until {
            ts.insert("$lte", until.0);
        }
        if !ts.is_empty() {
            filter.insert("ts", ts);
        }
        let total = self
            .setting_changes_coll()
            .count_documents(filter.clone())
            .await
            .ctx("count setting changes")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let dir = if query.oldest_first { 1 } else { -1 };
        let cursor = self
            .setting_changes_coll()
            .find(filter)
            .sort(doc! { "ts": dir, "_id": dir })
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list setting changes")?;
        let items = collect(cursor, "setting change").await?;
        Ok(Listing { items, total })
    }
}
