//! Message reports on MongoDB: collection `moderation_reports`, indexed by message
//! and time.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::{Hint, IndexOptions};
use mongodb::{Collection, IndexModel};

use super::{backend, collect, page_limit, to_doc, write_error, Ctx, MongoStore};
use crate::store::moderation::{MessageReport, ModerationStore};
use crate::store::{Listing, Page, StoreResult};

const REPORTS: &str = "moderation_reports";
const IDX_MESSAGE: &str = "by_message_ts";

impl MongoStore {
    fn reports_coll(&self) -> Collection<Document> {
        self.coll(REPORTS)
    }

    /// Creates the reports' index (idempotently).
    pub(super) async fn create_report_indexes(&self) -> StoreResult<()> {
        let by_message = IndexModel::builder()
            .keys(doc! { "messageId": 1, "ts": -1, "_id": -1 })
            .options(
                IndexOptions::builder()
                    .name(IDX_MESSAGE.to_string())
                    .build(),
            )
            .build();
        self.reports_coll()
            .create_indexes([by_message])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{REPORTS}", self.database),
                    e,
                )
            })?;
        Ok(())
    }
}

#[async_trait]
impl ModerationStore for MongoStore {
    async fn insert_message_report(&self, report: &MessageReport) -> StoreResult<()> {
        self.reports_coll()
            .insert_one(to_doc(report, "message report")?)
            .await
            .map_err(|e| write_error("insert message report", e, &[], "id"))?;
        Ok(())
    }

    async fn message_reports(
        &self,
        message_id: &str,
        page: Page,
    ) -> StoreResult<Listing<MessageReport>> {
        let filter = doc! { "messageId": message_id };
        let total = self
            .reports_coll()
            .count_documents(filter.clone())
            .hint(Hint::Name(IDX_MESSAGE.into()))
            .await
            .ctx("count message reports")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .reports_coll()
            .find(filter)
            .sort(doc! { "ts": -1, "_id": -1 })
            .hint(Hint::Name(IDX_MESSAGE.into()))
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list message reports")?;
        let items = collect(cursor, "message report").await?;
        Ok(Listing { items, total })
    }
}
