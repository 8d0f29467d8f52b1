//! Single-use keys on MongoDB: collection `once_keys`, `_id` = kind and key. The
//! unique `_id` makes `put_once` atomic across instances; `take_once` is one
//! find-and-delete.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::Collection;

use super::{is_duplicate, Ctx, MongoStore};
use crate::store::once::OnceStore;
use crate::store::{StoreResult, Ts};

const ONCE_KEYS: &str = "once_keys";

fn id_of(kind: &str, key: &str) -> String {
    format!("{kind}\u{1f}{key}")
}

impl MongoStore {
    fn once_coll(&self) -> Collection<Document> {
        self.coll(ONCE_KEYS)
    }
}

#[async_trait]
impl OnceStore for MongoStore {
    async fn put_once(
        &self,
        kind: &str,
        key: &str,
        value: &str,
        expires: Ts,
        now: Ts,
    ) -> StoreResult<bool> {
        self.once_coll()
            .delete_many(doc! { "expires": { "$lte": now.0 } })
            .await
            .ctx("purge once keys")?;
        let inserted = self
            .once_coll()
            .insert_one(doc! { "_id": id_of(kind, key), "value": value, "expires": expires.0 })
            .await;
        match inserted {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(e).ctx("put once key"),
        }
    }

    async fn take_once(&self, kind: &str, key: &str, now: Ts) -> StoreResult<Option<String>> {
        let found = self
            .once_coll()
            .find_one_and_delete(doc! { "_id": id_of(kind, key), "expires": { "$gt": now.0 } })
            .await
            .ctx("take once key")?;
        Ok(found.and_then(|d| d.get_str("value").ok().map(str::to_string)))
    }
}
