//! The apps engine's records on MongoDB: `apps` (`_id` = app id), `app_data` (one
//! document per key, with its `size`), `app_data_usage` (per app: `keys` and `bytes`
//! in use), `app_logs` and `app_jobs` (`_id` = job id).
//!
//! Quotas without transactions: `app_data_set` first *reserves* the growth on the
//! app's usage document with one conditional `$inc` (which fails, atomically, when
//! the quota would be exceeded), then writes the key with a compare-and-swap on its
//! previous size; if the key changed in between, the reservation is released and
//! the whole step retried. Usage is therefore never below what is stored, so the
//! quota holds even with several instances writing at once.
//!
//! Jobs are claimed one `findOneAndUpdate` at a time, so one job is leased to one
//! owner only.

use async_trait::async_trait;
use mongodb::bson::spec::BinarySubtype;
use mongodb::bson::{doc, Binary, Bson, Document};
use mongodb::options::{Hint, IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};

use super::{backend, collect, from_doc, is_duplicate, page_limit, to_doc, Ctx, MongoStore};
use crate::store::apps::{
    log_level_rank, AppLogEntry, AppRecord, AppStore, DataQuota, JobRecord, SetOutcome,
};
use crate::store::{Listing, Page, StoreResult, Ts};

const APPS: &str = "apps";
const APP_DATA: &str = "app_data";
const APP_USAGE: &str = "app_data_usage";
const APP_LOGS: &str = "app_logs";
const APP_JOBS: &str = "app_jobs";

/// Tries of the reserve-then-write loop of `app_data_set` before giving up.
const DATA_SET_ATTEMPTS: usize = 16;

/// A range matching exactly the strings that start with `prefix` (MongoDB compares
/// strings by UTF-8 bytes, which is code point order). A range rather than an
/// anchored regex: it uses the index on any server, and SecantusDB answers anchored
/// regexes on indexed fields with nothing.
fn prefix_range(prefix: &str) -> Document {
    let mut range = doc! { "$gte": prefix };
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32);
        if let Some(next) = next {
            chars.push(next);
            range.insert("$lt", chars.into_iter().collect::<String>());
            break;
        }
    }
    range
}

const IDX_APP_LOGS: &str = "by_app_ts_id";
const IDX_APP_LEVEL: &str = "by_app_level";
const IDX_DUE_JOBS: &str = "by_next_run_id";

/// A page of an app's logs, newest first: the app's range of `by_app_ts_id` walked
/// backwards to the limit, the level checked on the way; `skip` (the admin API's)
/// costs one index step per entry. Logs are pruned by age, which bounds the walk
/// and the total (counted on `by_app_level`'s keys).
pub(super) fn app_logs_find(app_id: &str, min_level: i64) -> (Document, Document, &'static str) {
    (
        doc! { "app_id": app_id, "level_rank": { "$gte": min_level } },
        doc! { "ts": -1, "_id": -1 },
        IDX_APP_LOGS,
    )
}

impl MongoStore {
    /// A collection of this store's database by name.
    pub(super) fn coll(&self, name: &str) -> Collection<Document> {
        self.client.database(&self.database).collection(name)
    }

    /// Creates the apps engine's indexes (idempotently).
    pub(super) async fn create_app_indexes(&self) -> StoreResult<()> {
        let index = |keys: Document, name: &str, unique: bool| {
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
        let plan = [
            (
                APPS,
                vec![index(doc! { "installed_at": 1 }, "by_installed", false)],
            ),
            (
                APP_DATA,
                vec![index(doc! { "app_id": 1, "key": 1 }, "uniq_app_key", true)],
            ),
            (
                APP_LOGS,
                vec![
                    index(doc! { "app_id": 1, "ts": 1 }, "by_app_ts", false),
                    index(doc! { "ts": 1 }, "by_ts", false),
                    // scale: an app's page newest first (`_id` breaking ties), and
                    // its total by level counted on index keys.
                    index(doc! { "app_id": 1, "ts": 1, "_id": 1 }, IDX_APP_LOGS, false),
                    index(doc! { "app_id": 1, "level_rank": 1 }, IDX_APP_LEVEL, false),
                ],
            ),
            (
                APP_JOBS,
                vec![
                    index(doc! { "next_run": 1 }, "by_next_run", false),
                    // scale: due jobs in the order claimed.
                    index(doc! { "next_run": 1, "_id": 1 }, IDX_DUE_JOBS, false),
                    index(doc! { "app_id": 1 }, "by_app", false),
                ],
            ),
        ];
        for (name, models) in plan {
            self.coll(name).create_indexes(models).await.map_err(|e| {
                backend(&format!("creating indexes on {}.{name}", self.database), e)
            })?;
        }
        Ok(())
    }

    /// Reserve the growth, then write; see the module docs.
    async fn write_app_data(
        &self,
        app_id: &str,
        key: &str,
        value: &[u8],
        quota: DataQuota,
        only_if_absent: bool,
    ) -> StoreResult<SetOutcome> {
        let size = i64::try_from(key.len() + value.len()).unwrap_or(i64::MAX);
        let binary = Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: value.to_vec(),
        });
        for _ in 0..DATA_SET_ATTEMPTS {
            let old = self
                .coll(APP_DATA)
                .find_one(doc! { "app_id": app_id, "key": key })
                .projection(doc! { "size": 1 })
                .await
                .ctx("read app data")?
                .map(|d| d.get_i64("size").unwrap_or(0));
            if only_if_absent && old.is_some() {
                return Ok(SetOutcome::Exists);
            }
            let (keys, bytes) = match old {
                None => (1, size),
                Some(old_size) => (0, size - old_size),
            };
            if let Some(quota_name) = self.reserve_app_data(app_id, keys, bytes, quota).await? {
                return Ok(SetOutcome::QuotaExceeded(quota_name));
            }
            let written = match old {
                None => {
                    let inserted = self
                        .coll(APP_DATA)
                        .insert_one(doc! {
                            "app_id": app_id, "key": key, "value": binary.clone(), "size": size,
                        })
                        .await;
                    match inserted {
                        Ok(_) => true,
                        Err(e) if is_duplicate(&e) && only_if_absent => {
                            self.release_app_data(app_id, keys, bytes).await?;
                            return Ok(SetOutcome::Exists);
                        }
                        Err(e) if is_duplicate(&e) => false,
                        Err(e) => {
                            self.release_app_data(app_id, keys, bytes).await?;
                            return Err(backend("set app data", e));
                        }
                    }
                }
                Some(old_size) => {
                    let updated = self
                        .coll(APP_DATA)
                        .update_one(
                            doc! { "app_id": app_id, "key": key, "size": old_size },
                            doc! { "$set": { "value": binary.clone(), "size": size } },
                        )
                        .await;
                    match updated {
                        Ok(r) => r.matched_count > 0,
                        Err(e) => {
                            self.release_app_data(app_id, keys, bytes).await?;
                            return Err(backend("set app data", e));
                        }
                    }
                }
            };
            if written {
                return Ok(SetOutcome::Stored);
            }
            // The key changed under us: give the reservation back and start over.
            self.release_app_data(app_id, keys, bytes).await?;
        }
        Err(backend(
            "set app data",
            format!("key {key:?} of app {app_id} kept changing; gave up"),
        ))
    }

    /// Reserves `keys`/`bytes` more for the app; `None` if that fits, else the
    /// quota that would be exceeded.
    async fn reserve_app_data(
        &self,
        app_id: &str,
        keys: i64,
        bytes: i64,
        quota: DataQuota,
    ) -> StoreResult<Option<&'static str>> {
        let max_keys = i64::try_from(quota.max_keys).unwrap_or(i64::MAX);
        let max_bytes = i64::try_from(quota.max_bytes).unwrap_or(i64::MAX);
        let mut filter = doc! { "_id": app_id };
        if keys > 0 {
            filter.insert("keys", doc! { "$lte": max_keys.saturating_sub(keys) });
        }
        if bytes > 0 {
            filter.insert("bytes", doc! { "$lte": max_bytes.saturating_sub(bytes) });
        }
        let inc = doc! { "$inc": { "keys": keys, "bytes": bytes } };
        for attempt in 0..2 {
            let reserved = self
                .coll(APP_USAGE)
                .update_one(filter.clone(), inc.clone())
                .await
                .ctx("reserve app data quota")?;
            if reserved.matched_count > 0 {
                return Ok(None);
            }
            if attempt == 1 {
                break;
            }
            // Either the app has no usage record yet (its first key) or the quota
            // is exceeded: make sure the record exists, then try once more.
            let created = self
                .coll(APP_USAGE)
                .update_one(
                    doc! { "_id": app_id },
                    doc! { "$setOnInsert": { "keys": 0_i64, "bytes": 0_i64 } },
                )
                .upsert(true)
                .await;
            match created {
                Ok(_) => {}
                // A concurrent first write created it.
                Err(e) if is_duplicate(&e) => {}
                Err(e) => return Err(backend("create app data usage", e)),
            }
        }
        let usage = self
            .coll(APP_USAGE)
            .find_one(doc! { "_id": app_id })
            .await
            .ctx("read app data usage")?
            .unwrap_or_default();
        let used_keys = usage.get_i64("keys").unwrap_or(0);
        if keys > 0 && used_keys.saturating_add(keys) > max_keys {
            Ok(Some("persistence-keys"))
        } else {
            Ok(Some("persistence-bytes"))
        }
    }

    async fn release_app_data(&self, app_id: &str, keys: i64, bytes: i64) -> StoreResult<()> {
        self.coll(APP_USAGE)
            .update_one(
                doc! { "_id": app_id },
                doc! { "$inc": { "keys": -keys, "bytes": -bytes } },
            )
            .await
            .ctx("release app data quota")?;
        Ok(())
    }
}

#[async_trait]
impl AppStore for MongoStore {
    async fn put_app(&self, app: &AppRecord) -> StoreResult<()> {
        self.coll(APPS)
            .replace_one(doc! { "_id": &app.id }, to_doc(app, "app")?)
            .upsert(true)
            .await
            .ctx("put app")?;
        Ok(())
    }

    async fn app(&self, id: &str) -> StoreResult<Option<AppRecord>> {
        self.coll(APPS)
            .find_one(doc! { "_id": id })
            .await
            .ctx("find app")?
            .map(|d| from_doc(d, "app"))
            .transpose()
    }

    async fn apps(&self) -> StoreResult<Vec<AppRecord>> {
        let cursor = self
            .coll(APPS)
            .find(doc! {})
            .sort(doc! { "installed_at": 1, "_id": 1 })
            .await
            .ctx("list apps")?;
        collect(cursor, "app").await
    }

    async fn delete_app(&self, id: &str) -> StoreResult<bool> {
        // What the app owns first, the app record last (a retry completes it).
        for (coll, what) in [
            (self.coll(APP_DATA), "delete app data"),
            (self.coll(APP_LOGS), "delete app logs"),
            (self.coll(APP_JOBS), "delete app jobs"),
        ] {
            coll.delete_many(doc! { "app_id": id }).await.ctx(what)?;
        }
        self.coll(APP_USAGE)
            .delete_one(doc! { "_id": id })
            .await
            .ctx("delete app data usage")?;
        let deleted = self
            .coll(APPS)
            .delete_one(doc! { "_id": id })
            .await
            .ctx("delete app")?;
        Ok(deleted.deleted_count > 0)
    }

    async fn app_data_get(&self, app_id: &str, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let found = self
            .coll(APP_DATA)
            .find_one(doc! { "app_id": app_id, "key": key })
            .projection(doc! { "value": 1 })
            .await
            .ctx("get app data")?;
        found
            .map(|d| {
                d.get_binary_generic("value")
                    .cloned()
                    .map_err(|e| backend("get app data", format!("corrupt value: {e}")))
            })
            .transpose()
    }

    async fn app_data_set(
        &self,
        app_id: &str,
        key: &str,
        value: &[u8],
        quota: DataQuota,
    ) -> StoreResult<SetOutcome> {
        self.write_app_data(app_id, key, value, quota, false).await
    }

    async fn app_data_insert(
        &self,
        app_id: &str,
        key: &str,
        value: &[u8],
        quota: DataQuota,
    ) -> StoreResult<SetOutcome> {
        self.write_app_data(app_id, key, value, quota, true).await
    }

    async fn app_data_delete(&self, app_id: &str, key: &str) -> StoreResult<bool> {
        let deleted = self
            .coll(APP_DATA)
            .find_one_and_delete(doc! { "app_id": app_id, "key": key })
            .projection(doc! { "size": 1 })
            .await
            .ctx("delete app data")?;
        let Some(deleted) = deleted else {
            return Ok(false);
        };
        let size = deleted.get_i64("size").unwrap_or(0);
        self.release_app_data(app_id, 1, size).await?;
        Ok(true)
    }

    async fn app_data_keys(
        &self,
        app_id: &str,
        prefix: &str,
        limit: u32,
    ) -> StoreResult<Vec<String>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut filter = doc! { "app_id": app_id };
        if !prefix.is_empty() {
            filter.insert("key", prefix_range(prefix));
        }
        let cursor = self
            .coll(APP_DATA)
            .find(filter)
            .sort(doc! { "key": 1 })
            .limit(i64::from(limit))
            .projection(doc! { "_id": 0, "key": 1 })
            .await
            .ctx("list app data keys")?;
        let docs: Vec<Document> = collect(cursor, "app data").await?;
        docs.iter()
            .map(|d| {
                d.get_str("key")
                    .map(str::to_string)
                    .map_err(|e| backend("list app data keys", format!("corrupt key: {e}")))
            })
            .collect()
    }

    async fn append_app_logs(&self, entries: &[AppLogEntry]) -> StoreResult<()> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut docs = Vec::with_capacity(entries.len());
        for entry in entries {
            let mut doc = to_doc(entry, "app log entry")?;
            doc.insert("level_rank", log_level_rank(&entry.level));
            docs.push(doc);
        }
        self.coll(APP_LOGS)
            .insert_many(docs)
            .await
            .ctx("append app logs")?;
        Ok(())
    }

    async fn app_logs(
        &self,
        app_id: &str,
        min_level: i64,
        page: Page,
    ) -> StoreResult<Listing<AppLogEntry>> {
        let (filter, sort, index) = app_logs_find(app_id, min_level);
        let total = self
            .coll(APP_LOGS)
            .count_documents(filter.clone())
            .hint(Hint::Name(IDX_APP_LEVEL.into()))
            .await
            .ctx("count app logs")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .coll(APP_LOGS)
            .find(filter)
            .sort(sort)
            .hint(Hint::Name(index.into()))
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list app logs")?;
        Ok(Listing {
            items: collect(cursor, "app log entry").await?,
            total,
        })
    }

    async fn prune_app_logs(&self, before: Ts) -> StoreResult<u64> {
        let deleted = self
            .coll(APP_LOGS)
            .delete_many(doc! { "ts": { "$lt": before.0 } })
            .await
            .ctx("prune app logs")?;
        Ok(deleted.deleted_count)
    }

    async fn put_job(&self, job: &JobRecord) -> StoreResult<()> {
        self.coll(APP_JOBS)
            .replace_one(doc! { "_id": &job.id }, to_doc(job, "job")?)
            .upsert(true)
            .await
            .ctx("put job")?;
        Ok(())
    }

    async fn delete_job(&self, app_id: &str, id: &str) -> StoreResult<bool> {
        let deleted = self
            .coll(APP_JOBS)
            .delete_one(doc! { "_id": id, "app_id": app_id })
            .await
            .ctx("delete job")?;
        Ok(deleted.deleted_count > 0)
    }

    async fn delete_app_jobs(&self, app_id: &str) -> StoreResult<u64> {
        let deleted = self
            .coll(APP_JOBS)
            .delete_many(doc! { "app_id": app_id })
            .await
            .ctx("delete app jobs")?;
        Ok(deleted.deleted_count)
    }

    async fn app_jobs(&self, app_id: &str) -> StoreResult<Vec<JobRecord>> {
        let cursor = self
            .coll(APP_JOBS)
            .find(doc! { "app_id": app_id })
            .sort(doc! { "next_run": 1, "_id": 1 })
            .await
            .ctx("list app jobs")?;
        collect(cursor, "job").await
    }

    async fn count_app_jobs(&self, app_id: &str) -> StoreResult<u64> {
        self.coll(APP_JOBS)
            .count_documents(doc! { "app_id": app_id })
            .await
            .ctx("count app jobs")
    }

    async fn claim_due_jobs(
        &self,
        now: Ts,
        owner: &str,
        lease_until: Ts,
        limit: u32,
    ) -> StoreResult<Vec<JobRecord>> {
        let mut claimed = Vec::new();
        for _ in 0..limit {
            // One atomic claim per job: two claimers never get the same one.
            let job = self
                .coll(APP_JOBS)
                .find_one_and_update(
                    doc! {
                        "next_run": { "$lte": now.0 },
                        "$or": [
                            { "lease_until": Bson::Null },
                            { "lease_until": { "$lte": now.0 } },
                        ],
                    },
                    doc! { "$set": { "lease_owner": owner, "lease_until": lease_until.0 } },
                )
                .sort(doc! { "next_run": 1, "_id": 1 })
                .hint(Hint::Name(IDX_DUE_JOBS.into()))
                .return_document(ReturnDocument::After)
                .await
                .ctx("claim job")?;
            match job {
                Some(job) => claimed.push(from_doc(job, "job")?),
                None => break,
            }
        }
        Ok(claimed)
    }

    async fn finish_job(&self, id: &str, owner: &str, next_run: Option<Ts>) -> StoreResult<()> {
        let mine = doc! { "_id": id, "lease_owner": owner };
        match next_run {
            Some(next) => {
                self.coll(APP_JOBS)
                    .update_one(
                        mine,
                        doc! { "$set": {
                            "next_run": next.0,
                            "lease_owner": Bson::Null,
                            "lease_until": Bson::Null,
                        } },
                    )
                    .await
                    .ctx("reschedule job")?;
            }
            None => {
                self.coll(APP_JOBS)
                    .delete_one(mine)
                    .await
                    .ctx("delete finished job")?;
            }
        }
        Ok(())
    }

    async fn release_job_leases(&self, owner: &str) -> StoreResult<u64> {
        let released = self
            .coll(APP_JOBS)
            .update_many(
                doc! { "lease_owner": owner },
                doc! { "$set": { "lease_owner": Bson::Null, "lease_until": Bson::Null } },
            )
            .await
            .ctx("release job leases")?;
        Ok(released.modified_count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_ranges() {
        assert_eq!(
            prefix_range("user:"),
            doc! { "$gte": "user:", "$lt": "user;" }
        );
        assert_eq!(
            prefix_range("a\u{10FFFF}"),
            doc! { "$gte": "a\u{10FFFF}", "$lt": "b" }
        );
        assert_eq!(
            prefix_range("\u{D7FF}"),
            doc! { "$gte": "\u{D7FF}", "$lt": "\u{E000}" }
        );
        assert_eq!(prefix_range("\u{10FFFF}"), doc! { "$gte": "\u{10FFFF}" });
    }
}
