//! Upload records on MongoDB: collection `uploads`, `_id` = the file id, indexed by
//! room, message and expiry.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::{Hint, IndexOptions};
use mongodb::{Collection, IndexModel};

use super::{
    backend, collect, from_doc, page_limit, substring, to_doc, write_error, Ctx, MongoStore,
};
use crate::store::uploads::{Upload, UploadStore};
use crate::store::{Listing, Page, StoreResult, Ts};

const UPLOADS: &str = "uploads";
const IDX_ROOM_FILES: &str = "by_room_uploaded_id";
const IDX_EXPIRY_ID: &str = "by_expiry_id";

/// A room's kept files newest first (`channels.files`): its range of
/// `by_room_uploaded_id` walked to the limit (files still expiring, a handful, are
/// skipped on the way); `skip` costs one index step per skipped file. The total is
/// counted in the same range: the room's files, never its history. A name
/// substring is checked on each of the room's files.
pub(super) fn room_uploads_find(
    rid: &str,
    name: Option<&str>,
) -> (Document, Document, &'static str) {
    // Thumbnails and avatars (`typeGroup`) are not the room's files.
    let mut filter = doc! {
        "rid": rid,
        "expiresAt": { "$exists": false },
        "typeGroup": { "$exists": false },
    };
    if let Some(name) = name.filter(|n| !n.is_empty()) {
        filter.insert("name", substring(name));
    }
    (filter, doc! { "uploadedAt": -1, "_id": -1 }, IDX_ROOM_FILES)
}

impl MongoStore {
    fn uploads(&self) -> Collection<Document> {
        self.coll(UPLOADS)
    }

    /// Creates the uploads' indexes (idempotently).
    pub(super) async fn create_upload_indexes(&self) -> StoreResult<()> {
        let index = |keys: Document, name: &str| {
            IndexModel::builder()
                .keys(keys)
                .options(IndexOptions::builder().name(name.to_string()).build())
                .build()
        };
        self.uploads()
            .create_indexes([
                index(doc! { "rid": 1, "uploadedAt": -1 }, "by_room"),
                index(doc! { "messageId": 1 }, "by_message"),
                index(doc! { "expiresAt": 1 }, "by_expiry"),
                // scale: a room's files newest first and the expiry sweep, each in
                // its order (`_id` breaking ties).
                index(
                    doc! { "rid": 1, "uploadedAt": -1, "_id": -1 },
                    IDX_ROOM_FILES,
                ),
                index(doc! { "expiresAt": 1, "_id": 1 }, IDX_EXPIRY_ID),
            ])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{UPLOADS}", self.database),
                    e,
                )
            })?;
        Ok(())
    }
}

#[async_trait]
impl UploadStore for MongoStore {
    async fn insert_upload(&self, upload: &Upload) -> StoreResult<()> {
        self.uploads()
            .insert_one(to_doc(upload, "upload")?)
            .await
            .map_err(|e| write_error("insert upload", e, &[], "id"))?;
        Ok(())
    }

    async fn upload(&self, id: &str) -> StoreResult<Option<Upload>> {
        self.uploads()
            .find_one(doc! { "_id": id })
            .await
            .ctx("find upload")?
            .map(|d| from_doc(d, "upload"))
            .transpose()
    }

    async fn update_upload(&self, upload: &Upload) -> StoreResult<bool> {
        let result = self
            .uploads()
            .replace_one(doc! { "_id": &upload.id }, to_doc(upload, "upload")?)
            .await
            .ctx("update upload")?;
        Ok(result.matched_count > 0)
    }

    async fn delete_upload(&self, id: &str) -> StoreResult<bool> {
        let result = self
            .uploads()
            .delete_one(doc! { "_id": id })
            .await
            .ctx("delete upload")?;
        Ok(result.deleted_count > 0)
    }

    async fn room_uploads(
        &self,
        rid: &str,
        name: Option<&str>,
        page: Page,
    ) -> StoreResult<Listing<Upload>> {
        let (filter, sort, index) = room_uploads_find(rid, name);
        let total = self
            .uploads()
            .count_documents(filter.clone())
            .hint(Hint::Name(index.into()))
            .await
            .ctx("count uploads")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .uploads()
            .find(filter)
            .sort(sort)
            .hint(Hint::Name(index.into()))
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list uploads")?;
        Ok(Listing {
            items: collect(cursor, "upload").await?,
            total,
        })
    }

    async fn all_room_uploads(&self, rid: &str) -> StoreResult<Vec<Upload>> {
        let cursor = self
            .uploads()
            .find(doc! { "rid": rid })
            .sort(doc! { "uploadedAt": 1, "_id": 1 })
            .await
            .ctx("list room uploads")?;
        collect(cursor, "upload").await
    }

    async fn message_uploads(&self, message_id: &str) -> StoreResult<Vec<Upload>> {
        let cursor = self
            .uploads()
            .find(doc! { "messageId": message_id })
            .sort(doc! { "uploadedAt": 1, "_id": 1 })
            .await
            .ctx("list message uploads")?;
        collect(cursor, "upload").await
    }

    async fn expired_uploads(&self, now: Ts, max: u64) -> StoreResult<Vec<Upload>> {
        let cursor = self
            .uploads()
            .find(doc! { "expiresAt": { "$lte": now.0 } })
            .sort(doc! { "expiresAt": 1, "_id": 1 })
            .hint(Hint::Name(IDX_EXPIRY_ID.into()))
            .limit(i64::try_from(max).unwrap_or(i64::MAX))
            .await
            .ctx("list expired uploads")?;
        collect(cursor, "upload").await
    }

    async fn uploads_elsewhere(&self, store: &str, max: u64) -> StoreResult<Vec<Upload>> {
        let cursor = self
            .uploads()
            .find(doc! { "state": "stored", "store": { "$ne": store } })
            .sort(doc! { "uploadedAt": 1, "_id": 1 })
            .limit(i64::try_from(max).unwrap_or(i64::MAX))
            .await
            .ctx("list uploads to migrate")?;
        collect(cursor, "upload").await
    }

    async fn count_uploads_elsewhere(&self, store: &str) -> StoreResult<u64> {
        self.uploads()
            .count_documents(doc! { "state": "stored", "store": { "$ne": store } })
            .await
            .ctx("count uploads to migrate")
    }
}
