//! Integrations (incoming webhooks) on MongoDB: collection `integrations`, `_id` =
//! the integration id, indexed by `_createdAt` for the listing order.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::{backend, collect, from_doc, page_limit, to_doc, write_error, Ctx, MongoStore};
use crate::store::integrations::{Integration, IntegrationStore};
use crate::store::{Listing, Page, StoreResult};

const INTEGRATIONS: &str = "integrations";

impl MongoStore {
    fn integrations(&self) -> Collection<Document> {
        self.coll(INTEGRATIONS)
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
}
