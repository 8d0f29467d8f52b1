//! Push devices on MongoDB: collection `push_devices` (`_id` = the device id, plus
//! `value`, the token or endpoint, uniquely indexed), and `push_keys`.

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::{backend, collect, from_doc, is_duplicate, to_doc, Ctx, MongoStore};
use crate::store::push::{PushDevice, PushDeviceFilter, PushStore};
use crate::store::StoreResult;

const DEVICES: &str = "push_devices";
const KEYS: &str = "push_keys";

impl MongoStore {
    fn push_devices(&self) -> Collection<Document> {
        self.coll(DEVICES)
    }

    /// Creates the push devices' indexes (idempotently).
    pub(super) async fn create_push_indexes(&self) -> StoreResult<()> {
        let index = |name: &str, keys: Document, unique: bool| {
            IndexModel::builder()
                .keys(keys)
                .options(
                    IndexOptions::builder()
                        .name(name.to_string())
                        .unique(unique)
                        .build(),
                )
                .build()
        };
        self.push_devices()
            .create_indexes([
                index("uniq_value", doc! { "value": 1 }, true),
                index(
                    "by_user",
                    doc! { "userId": 1, "createdAt": 1, "_id": 1 },
                    false,
                ),
                index("by_auth_token", doc! { "authToken": 1 }, false),
            ])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{DEVICES}", self.database),
                    e,
                )
            })?;
        Ok(())
    }
}

fn filter_doc(filter: &PushDeviceFilter) -> Document {
    match filter {
        PushDeviceFilter::Id(id) => doc! { "_id": id },
        PushDeviceFilter::Value {
            value,
            user_id: None,
        } => doc! { "value": value },
        PushDeviceFilter::Value {
            value,
            user_id: Some(user),
        } => doc! { "value": value, "userId": user },
        PushDeviceFilter::AuthToken(hash) => doc! { "authToken": hash },
        PushDeviceFilter::User(user) => doc! { "userId": user },
    }
}

#[async_trait]
impl PushStore for MongoStore {
    async fn save_push_device(&self, device: &PushDevice) -> StoreResult<()> {
        let value = device.token.value();
        let mut record = to_doc(device, "push device")?;
        record.insert("value", value);
        self.push_devices()
            .delete_many(doc! { "value": value, "_id": { "$ne": &device.id } })
            .await
            .ctx("replace push device token")?;
        self.push_devices()
            .replace_one(doc! { "_id": &device.id }, record)
            .upsert(true)
            .await
            .ctx("save push device")?;
        Ok(())
    }

    async fn push_device(&self, id: &str) -> StoreResult<Option<PushDevice>> {
        self.push_devices()
            .find_one(doc! { "_id": id })
            .await
            .ctx("find push device")?
            .map(|d| from_doc(d, "push device"))
            .transpose()
    }

    async fn push_devices_of_user(&self, user_id: &str) -> StoreResult<Vec<PushDevice>> {
        let cursor = self
            .push_devices()
            .find(doc! { "userId": user_id })
            .sort(doc! { "createdAt": 1, "_id": 1 })
            .await
            .ctx("list push devices")?;
        collect(cursor, "push device").await
    }

    async fn push_devices_of_users(&self, user_ids: &[String]) -> StoreResult<Vec<PushDevice>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let cursor = self
            .push_devices()
            .find(doc! { "userId": { "$in": user_ids } })
            .sort(doc! { "createdAt": 1, "_id": 1 })
            .await
            .ctx("list push devices of users")?;
        collect(cursor, "push device").await
    }

    async fn delete_push_devices(&self, filter: &PushDeviceFilter) -> StoreResult<u64> {
        let result = self
            .push_devices()
            .delete_many(filter_doc(filter))
            .await
            .ctx("delete push devices")?;
        Ok(result.deleted_count)
    }

    async fn push_key(&self, name: &str, candidate: &str) -> StoreResult<String> {
        let keys = self.coll(KEYS);
        if let Err(e) = keys
            .insert_one(doc! { "_id": name, "value": candidate })
            .await
        {
            if !is_duplicate(&e) {
                return Err(backend("insert push key", e));
            }
        }
        let stored = keys
            .find_one(doc! { "_id": name })
            .await
            .ctx("find push key")?
            .and_then(|d| d.get_str("value").ok().map(str::to_string));
        Ok(stored.unwrap_or_else(|| candidate.to_string()))
    }
}
