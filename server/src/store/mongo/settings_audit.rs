//! The settings audit log on MongoDB: collection `setting_changes`, indexed by time.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::{Hint, IndexOptions};
use mongodb::{Collection, IndexModel};

use super::{backend, collect, page_limit, to_doc, write_error, Ctx, MongoStore};
use crate::store::settings_audit::{SettingAuditStore, SettingChange, SettingChangeQuery};
use crate::store::{Listing, Page, StoreResult};

const SETTING_CHANGES: &str = "setting_changes";
const IDX_SETTING: &str = "by_setting_ts";
const IDX_ACTOR: &str = "by_actor_ts";

/// An audit listing as a find: of a setting a range of `by_setting_ts`, of an
/// actor of `by_actor_ts`, else of `by_ts`, each in time order and walked to the
/// limit; `skip` (the admin API's offset) costs one index step per change. The
/// total is counted in the same range: the changes the filter selects.
pub(super) fn audit_find(query: &SettingChangeQuery) -> (Document, Document, &'static str) {
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
    let index = if query.setting_id.is_some() {
        IDX_SETTING
    } else if query.actor_id.is_some() {
        IDX_ACTOR
    } else {
        "by_ts"
    };
    let dir = if query.oldest_first { 1 } else { -1 };
    (filter, doc! { "ts": dir, "_id": dir }, index)
}

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
        // scale: the audit of one setting and of one actor, each in time order.
        let by_setting = IndexModel::builder()
            .keys(doc! { "setting_id": 1, "ts": -1, "_id": -1 })
            .options(
                IndexOptions::builder()
                    .name(IDX_SETTING.to_string())
                    .build(),
            )
            .build();
        let by_actor = IndexModel::builder()
            .keys(doc! { "actor._id": 1, "ts": -1, "_id": -1 })
            .options(IndexOptions::builder().name(IDX_ACTOR.to_string()).build())
            .build();
        self.setting_changes_coll()
            .create_indexes([by_ts, by_setting, by_actor])
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
        let (filter, sort, index) = audit_find(query);
        let total = self
            .setting_changes_coll()
            .count_documents(filter.clone())
            .hint(Hint::Name(index.into()))
            .await
            .ctx("count setting changes")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .setting_changes_coll()
            .find(filter)
            .sort(sort)
            .hint(Hint::Name(index.into()))
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list setting changes")?;
        let items = collect(cursor, "setting change").await?;
        Ok(Listing { items, total })
    }
}
