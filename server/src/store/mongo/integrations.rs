//! Integrations (incoming webhooks) on MongoDB: collection `integrations`, `_id` =
//! the integration id, indexed by `_createdAt` for the listing order.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::{backend, collect, from_doc, page_limit, to_doc, write_error, Ctx, MongoStore};
use crate::store::integrations::{Integration, IntegrationHistory, IntegrationStore};
use crate::store::{Listing, Page, StoreResult, Ts};

const INTEGRATIONS: &str = "integrations";
/// Integrations' history, read per integration newest first.
const HISTORY: &str = "integration_history";

impl MongoStore {
    fn integrations(&self) -> Collection<Document> {
        self.coll(INTEGRATIONS)
    }

    fn integration_history_coll(&self) -> Collection<Document> {
        self.coll(HISTORY)
    }

    /// Creates the integrations' index (idempotently).
    pub(super) async fn create_integration_indexes(&self) -> StoreResult<()> {
        let by_created = IndexModel::builder()
            .keys(doc! { "_createdAt": 1, "_id": 1 })
            .options(
                IndexOptions::builder()
                    .name("by_created".to_string())
                    .build(),
            )
            .build();
        self.integrations()
            .create_indexes([by_created])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{INTEGRATIONS}", self.database),
                    e,
                )
            })?;
        let by_time = IndexModel::builder()
            .keys(doc! { "integrationId": 1, "at": -1, "_id": -1 })
            .options(IndexOptions::builder().name("by_time".to_string()).build())
            .build();
        self.integration_history_coll()
            .create_indexes([by_time])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{HISTORY}", self.database),
                    e,
                )
            })?;
        Ok(())
    }
}

#[async_trait]
impl IntegrationStore for MongoStore {
    async fn insert_integration(&self, integration: &Integration) -> StoreResult<()> {
        self.integrations()
            .insert_one(to_doc(integration, "integration")?)
            .await
            .map_err(|e| write_error("insert integration", e, &[], "id"))?;
        Ok(())
    }

    async fn integration(&self, id: &str) -> StoreResult<Option<Integration>> {
        self.integrations()
            .find_one(doc! { "_id": id })
            .await
            .ctx("find integration")?
            .map(|d| from_doc(d, "integration"))
            .transpose()
    }

    async fn list_integrations(&self, page: Page) -> StoreResult<Listing<Integration>> {
        let total = self
            .integrations()
            .count_documents(doc! {})
            .await
            .ctx("count integrations")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .integrations()
            .find(doc! {})
            .sort(doc! { "_createdAt": 1, "_id": 1 })
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list integrations")?;
        Ok(Listing {
            items: collect(cursor, "integration").await?,
            total,
        })
    }

    async fn update_integration(&self, integration: &Integration) -> StoreResult<bool> {
        let result = self
            .integrations()
            .replace_one(
                doc! { "_id": &integration.id },
                to_doc(integration, "integration")?,
            )
            .await
            .ctx("update integration")?;
        Ok(result.matched_count > 0)
    }

    async fn delete_integration(&self, id: &str) -> StoreResult<bool> {
        let result = self
            .integrations()
            .delete_one(doc! { "_id": id })
            .await
            .ctx("delete integration")?;
        Ok(result.deleted_count > 0)
    }

    async fn insert_integration_history(&self, entry: &IntegrationHistory) -> StoreResult<()> {
        self.integration_history_coll()
            .insert_one(to_doc(entry, "integration history")?)
            .await
            .map_err(|e| write_error("insert integration history", e, &[], "id"))?;
        Ok(())
    }

    async fn integration_history(
        &self,
        integration_id: &str,
        page: Page,
    ) -> StoreResult<Listing<IntegrationHistory>> {
        let filter = doc! { "integrationId": integration_id };
        let total = self
            .integration_history_coll()
            .count_documents(filter.clone())
            .await
            .ctx("count integration history")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .integration_history_coll()
            .find(filter)
            .sort(doc! { "at": -1, "_id": -1 })
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list integration history")?;
        Ok(Listing {
            items: collect(cursor, "integration history").await?,
            total,
        })
    }

    async fn prune_integration_history(
        &self,
        integration_id: &str,
        keep: u64,
        before: Ts,
    ) -> StoreResult<u64> {
        let coll = self.integration_history_coll();
        let mut deleted = coll
            .delete_many(doc! { "integrationId": integration_id, "at": { "$lt": before.0 } })
            .await
            .ctx("prune integration history")?
            .deleted_count;
        // The newest entry past `keep`: it and everything older in the same order go.
        let edge = coll
            .find_one(doc! { "integrationId": integration_id })
            .sort(doc! { "at": -1, "_id": -1 })
            .skip(keep)
            .projection(doc! { "at": 1 })
            .await
            .ctx("find the integration history's edge")?;
        if let Some(edge) = edge {
            let at = edge.get("at").cloned().unwrap_or(mongodb::bson::Bson::Null);
            let id = edge.get_str("_id").unwrap_or_default().to_string();
            deleted += coll
                .delete_many(doc! {
                    "integrationId": integration_id,
                    "$or": [
                        { "at": { "$lt": at.clone() } },
                        { "at": at, "_id": { "$lte": id } },
                    ],
                })
                .await
                .ctx("prune integration history")?
                .deleted_count;
        }
        Ok(deleted)
    }

    async fn delete_integration_history(&self, integration_id: &str) -> StoreResult<u64> {
        Ok(self
            .integration_history_coll()
            .delete_many(doc! { "integrationId": integration_id })
            .await
            .ctx("delete integration history")?
            .deleted_count)
    }
}
