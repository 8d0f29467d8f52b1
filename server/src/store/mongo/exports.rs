//! Data export operations on MongoDB: collection `export_operations`, indexed by
//! person, kind and creation time.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::{Hint, IndexOptions};
use mongodb::{Collection, IndexModel};

use super::{backend, from_doc, to_doc, write_error, Ctx, MongoStore, IDX_ID};
use crate::store::exports::{ExportOperation, ExportStore};
use crate::store::StoreResult;

const EXPORTS: &str = "export_operations";
const IDX_USER: &str = "by_user_kind_created";

impl MongoStore {
    fn exports_coll(&self) -> Collection<Document> {
        self.coll(EXPORTS)
    }

    /// Creates the operations' index (idempotently).
    pub(super) async fn create_export_indexes(&self) -> StoreResult<()> {
        let by_user = IndexModel::builder()
            .keys(doc! { "userId": 1, "fullExport": 1, "createdAt": -1, "_id": -1 })
            .options(IndexOptions::builder().name(IDX_USER.to_string()).build())
            .build();
        self.exports_coll()
            .create_indexes([by_user])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{EXPORTS}", self.database),
                    e,
                )
            })?;
        Ok(())
    }
}

#[async_trait]
impl ExportStore for MongoStore {
    async fn insert_export(&self, op: &ExportOperation) -> StoreResult<()> {
        self.exports_coll()
            .insert_one(to_doc(op, "export operation")?)
            .await
            .map_err(|e| write_error("insert export operation", e, &[(IDX_ID, "id")], "id"))?;
        Ok(())
    }

    async fn export_by_id(&self, id: &str) -> StoreResult<Option<ExportOperation>> {
        self.exports_coll()
            .find_one(doc! { "_id": id })
            .await
            .ctx("find export operation")?
            .map(|d| from_doc(d, "export operation"))
            .transpose()
    }

    async fn last_export(
        &self,
        user_id: &str,
        full_export: bool,
    ) -> StoreResult<Option<ExportOperation>> {
        self.exports_coll()
            .find_one(doc! { "userId": user_id, "fullExport": full_export })
            .sort(doc! { "createdAt": -1, "_id": -1 })
            .hint(Hint::Name(IDX_USER.into()))
            .await
            .ctx("find last export operation")?
            .map(|d| from_doc(d, "export operation"))
            .transpose()
    }

    async fn update_export(&self, op: &ExportOperation) -> StoreResult<bool> {
        let result = self
            .exports_coll()
            .replace_one(doc! { "_id": &op.id }, to_doc(op, "export operation")?)
            .await
            .ctx("update export operation")?;
        Ok(result.matched_count > 0)
    }
}
