//! The delivery queue on MongoDB: collection `outbox`, `_id` = item id, a unique
//! index on `(kind, dedupe_key)`. The payload is kept as JSON text, so no field
//! name in it (`$…`, dots) can upset the server.
//!
//! Items are leased one `findOneAndUpdate` at a time: two instances never get the
//! same item; completing and failing match on the lease owner.

use async_trait::async_trait;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::ErrorKind;
use mongodb::options::{Hint, IndexOptions, ReturnDocument};
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};

use super::{backend, collect, from_doc, page_limit, to_doc, Ctx, MongoStore, DUPLICATE_KEY};
use crate::store::outbox::{
    OutboxFailure, OutboxItem, OutboxKind, OutboxState, OutboxStats, OutboxStore,
};
use crate::store::{Listing, Page, StoreError, StoreResult, Ts};

const OUTBOX: &str = "outbox";

/// The stored shape of an item.
#[derive(Serialize, Deserialize)]
struct ItemDoc {
    #[serde(rename = "_id")]
    id: String,
    kind: OutboxKind,
    dedupe_key: String,
    payload: String,
    state: OutboxState,
    attempts: i64,
    next_attempt: i64,
    last_error: Option<String>,
    created_at: i64,
    since: i64,
    lease_owner: Option<String>,
    lease_until: i64,
}

impl ItemDoc {
    fn from_item(i: &OutboxItem) -> StoreResult<ItemDoc> {
        Ok(ItemDoc {
            id: i.id.clone(),
            kind: i.kind,
            dedupe_key: i.dedupe_key.clone(),
            payload: serde_json::to_string(&i.payload)
                .map_err(|e| StoreError::Backend(format!("encoding outbox payload: {e}")))?,
            state: i.state,
            attempts: i64::from(i.attempts),
            next_attempt: i.next_attempt.0,
            last_error: i.last_error.clone(),
            created_at: i.created_at.0,
            since: i.since.0,
            lease_owner: i.lease_owner.clone(),
            lease_until: i.lease_until.0,
        })
    }

    fn into_item(self) -> StoreResult<OutboxItem> {
        Ok(OutboxItem {
            payload: serde_json::from_str(&self.payload)
                .map_err(|e| StoreError::Backend(format!("corrupt outbox payload: {e}")))?,
            id: self.id,
            kind: self.kind,
            dedupe_key: self.dedupe_key,
            state: self.state,
            attempts: self.attempts.clamp(0, u32::MAX as i64) as u32,
            next_attempt: Ts(self.next_attempt),
            last_error: self.last_error,
            created_at: Ts(self.created_at),
            since: Ts(self.since),
            lease_owner: self.lease_owner,
            lease_until: Ts(self.lease_until),
        })
    }
}

fn items(docs: Vec<ItemDoc>) -> StoreResult<Vec<OutboxItem>> {
    docs.into_iter().map(ItemDoc::into_item).collect()
}

const IDX_DUE_ORDER: &str = "by_due_order";
const IDX_STATE_KIND: &str = "by_state_kind_created_id";
const IDX_STATE_ORDER: &str = "by_state_created_id";

/// The dead letters' listing (oldest first) as a find: of a kind a range of
/// `by_state_kind_created_id`, of all kinds of `by_state_created_id`, each in the
/// listing's order and walked to the limit; `skip` costs one index step per item.
/// The total is counted in the same range: the dead letters themselves.
pub(super) fn dead_find(kind: Option<OutboxKind>) -> (Document, Document, &'static str) {
    let index = if kind.is_some() {
        IDX_STATE_KIND
    } else {
        IDX_STATE_ORDER
    };
    (
        dead_filter(None, kind),
        doc! { "created_at": 1, "_id": 1 },
        index,
    )
}

/// The dead items an admin action names: one by id, or all (of a kind).
fn dead_filter(id: Option<&str>, kind: Option<OutboxKind>) -> Document {
    let mut filter = doc! { "state": OutboxState::Dead.as_str() };
    if let Some(id) = id {
        filter.insert("_id", id);
    }
    if let Some(kind) = kind {
        filter.insert("kind", kind.as_str());
    }
    filter
}

impl MongoStore {
    fn outbox(&self) -> Collection<Document> {
        self.coll(OUTBOX)
    }

    /// Creates the queue's indexes (idempotently).
    pub(super) async fn create_outbox_indexes(&self) -> StoreResult<()> {
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
        self.outbox()
            .create_indexes([
                index(
                    doc! { "kind": 1, "dedupe_key": 1 },
                    "uniq_kind_dedupe",
                    true,
                ),
                index(
                    doc! { "kind": 1, "state": 1, "next_attempt": 1 },
                    "by_due",
                    false,
                ),
                index(
                    doc! { "state": 1, "kind": 1, "created_at": 1 },
                    "by_state_created",
                    false,
                ),
                // scale: leases in the order served; the dead letters of a kind and
                // of all kinds in the listing's order.
                index(
                    doc! { "kind": 1, "state": 1, "next_attempt": 1, "created_at": 1 },
                    IDX_DUE_ORDER,
                    false,
                ),
                index(
                    doc! { "state": 1, "kind": 1, "created_at": 1, "_id": 1 },
                    IDX_STATE_KIND,
                    false,
                ),
                index(
                    doc! { "state": 1, "created_at": 1, "_id": 1 },
                    IDX_STATE_ORDER,
                    false,
                ),
            ])
            .await
            .map_err(|e| {
                backend(
                    &format!("creating indexes on {}.{OUTBOX}", self.database),
                    e,
                )
            })?;
        Ok(())
    }
}

#[async_trait]
impl OutboxStore for MongoStore {
    async fn enqueue_outbox(&self, items: &[OutboxItem]) -> StoreResult<u64> {
        if items.is_empty() {
            return Ok(0);
        }
        let mut docs = Vec::with_capacity(items.len());
        for i in items {
            docs.push(to_doc(&ItemDoc::from_item(i)?, "outbox item")?);
        }
        let total = docs.len() as u64;
        match self.outbox().insert_many(docs).ordered(false).await {
            Ok(_) => Ok(total),
            Err(e) => {
                // Items already queued under their dedupe key are skipped on purpose;
                // any other failure is one.
                if let ErrorKind::InsertMany(im) = e.kind.as_ref() {
                    let errors = im.write_errors.as_deref().unwrap_or_default();
                    if im.write_concern_error.is_none()
                        && !errors.is_empty()
                        && errors.iter().all(|we| we.code == DUPLICATE_KEY)
                    {
                        return Ok(total.saturating_sub(errors.len() as u64));
                    }
                }
                Err(e).ctx("enqueue outbox items")
            }
        }
    }

    async fn enqueue_outbox_advancing(
        &self,
        items: &[OutboxItem],
        id: &str,
        owner: &str,
        payload: &serde_json::Value,
    ) -> StoreResult<Option<u64>> {
        let held = doc! { "_id": id, "lease_owner": owner, "state": OutboxState::Pending.as_str() };
        // Not one transaction (a standalone server has none), so the items are queued
        // held (leased to `owner`), the progress recorded, then the items let go. A
        // crash before the progress is recorded leaves them held until after the
        // marker's lease ran out again: whoever redoes the step finds them all still
        // queued, so none is queued again after being delivered (which would deliver
        // it twice); they are delivered once their hold expires.
        let Some(marker) = self
            .outbox()
            .find_one(held.clone())
            .projection(doc! { "lease_until": 1 })
            .await
            .ctx("check an outbox lease")?
        else {
            return Ok(None);
        };
        let marker_until = marker.get_i64("lease_until").unwrap_or(0);
        let now = Ts::now().0;
        let hold_until = Ts(marker_until.max(now) + (marker_until - now).max(1_000));
        let held_items: Vec<OutboxItem> = items
            .iter()
            .map(|i| OutboxItem {
                lease_owner: Some(owner.to_string()),
                lease_until: hold_until,
                ..i.clone()
            })
            .collect();
        let queued = self.enqueue_outbox(&held_items).await?;
        let payload = serde_json::to_string(payload)
            .map_err(|e| StoreError::Backend(format!("encoding outbox payload: {e}")))?;
        let updated = self
            .outbox()
            .update_one(held, doc! { "$set": { "payload": payload } })
            .await
            .ctx("record an outbox item's progress")?;
        if updated.matched_count == 0 {
            // The marker was lost meanwhile: its next holder redoes the step and
            // finds these items queued; they go out when their hold expires.
            return Ok(None);
        }
        let ids: Vec<String> = items.iter().map(|i| i.id.clone()).collect();
        self.release_outbox(&ids, owner).await?;
        Ok(Some(queued))
    }

    async fn lease_outbox(
        &self,
        kind: OutboxKind,
        now: Ts,
        owner: &str,
        lease_until: Ts,
        limit: u32,
    ) -> StoreResult<Vec<OutboxItem>> {
        let mut leased = Vec::new();
        for _ in 0..limit {
            let item = self
                .outbox()
                .find_one_and_update(
                    doc! {
                        "kind": kind.as_str(),
                        "state": OutboxState::Pending.as_str(),
                        "next_attempt": { "$lte": now.0 },
                        "lease_until": { "$lte": now.0 },
                    },
                    doc! { "$set": { "lease_owner": owner, "lease_until": lease_until.0 } },
                )
                .sort(doc! { "next_attempt": 1, "created_at": 1 })
                .hint(Hint::Name(IDX_DUE_ORDER.into()))
                .return_document(ReturnDocument::After)
                .await
                .ctx("lease outbox item")?;
            match item {
                Some(doc) => leased.push(from_doc::<ItemDoc>(doc, "outbox item")?.into_item()?),
                None => break,
            }
        }
        Ok(leased)
    }

    async fn complete_outbox_many(&self, ids: &[String], owner: &str) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let deleted = self
            .outbox()
            .delete_many(doc! { "_id": { "$in": ids }, "lease_owner": owner })
            .await
            .ctx("complete outbox items")?;
        Ok(deleted.deleted_count)
    }

    async fn complete_outbox(&self, id: &str, owner: &str) -> StoreResult<bool> {
        let deleted = self
            .outbox()
            .delete_one(doc! { "_id": id, "lease_owner": owner })
            .await
            .ctx("complete outbox item")?;
        Ok(deleted.deleted_count > 0)
    }

    async fn fail_outbox(
        &self,
        id: &str,
        owner: &str,
        error: &str,
        outcome: OutboxFailure,
    ) -> StoreResult<bool> {
        let mut set = doc! {
            "last_error": error,
            "lease_owner": Bson::Null,
            "lease_until": 0i64,
        };
        match outcome {
            OutboxFailure::RetryAt(at) => {
                set.insert("state", OutboxState::Pending.as_str());
                set.insert("next_attempt", at.0);
            }
            OutboxFailure::Dead => {
                set.insert("state", OutboxState::Dead.as_str());
            }
        }
        let result = self
            .outbox()
            .update_one(
                doc! { "_id": id, "lease_owner": owner },
                doc! { "$set": set, "$inc": { "attempts": 1i64 } },
            )
            .await
            .ctx("fail outbox item")?;
        Ok(result.matched_count > 0)
    }

    async fn release_outbox(&self, ids: &[String], owner: &str) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let result = self
            .outbox()
            .update_many(
                doc! { "_id": { "$in": ids }, "lease_owner": owner },
                doc! { "$set": { "lease_owner": Bson::Null, "lease_until": 0i64 } },
            )
            .await
            .ctx("release outbox leases")?;
        Ok(result.modified_count)
    }

    async fn outbox_item(&self, id: &str) -> StoreResult<Option<OutboxItem>> {
        self.outbox()
            .find_one(doc! { "_id": id })
            .await
            .ctx("find outbox item")?
            .map(|d| from_doc::<ItemDoc>(d, "outbox item")?.into_item())
            .transpose()
    }

    async fn dead_outbox(
        &self,
        kind: Option<OutboxKind>,
        page: Page,
    ) -> StoreResult<Listing<OutboxItem>> {
        let (filter, sort, index) = dead_find(kind);
        let total = self
            .outbox()
            .count_documents(filter.clone())
            .hint(Hint::Name(index.into()))
            .await
            .ctx("count dead outbox items")?;
        if page.count == 0 {
            return Ok(Listing {
                items: Vec::new(),
                total,
            });
        }
        let cursor = self
            .outbox()
            .find(filter)
            .sort(sort)
            .hint(Hint::Name(index.into()))
            .skip(page.offset)
            .limit(page_limit(page))
            .await
            .ctx("list dead outbox items")?;
        Ok(Listing {
            items: items(collect(cursor, "outbox item").await?)?,
            total,
        })
    }

    async fn retry_dead_outbox(
        &self,
        id: Option<&str>,
        kind: Option<OutboxKind>,
        now: Ts,
    ) -> StoreResult<u64> {
        let result = self
            .outbox()
            .update_many(
                dead_filter(id, kind),
                doc! { "$set": {
                    "state": OutboxState::Pending.as_str(),
                    "attempts": 0i64,
                    "next_attempt": now.0,
                    "since": now.0,
                    "lease_owner": Bson::Null,
                    "lease_until": 0i64,
                } },
            )
            .await
            .ctx("retry dead outbox items")?;
        Ok(result.modified_count)
    }

    async fn drop_dead_outbox(
        &self,
        id: Option<&str>,
        kind: Option<OutboxKind>,
    ) -> StoreResult<u64> {
        let result = self
            .outbox()
            .delete_many(dead_filter(id, kind))
            .await
            .ctx("drop dead outbox items")?;
        Ok(result.deleted_count)
    }

    async fn outbox_stats(&self, now: Ts) -> StoreResult<Vec<OutboxStats>> {
        let mut out = Vec::with_capacity(OutboxKind::ALL.len());
        for kind in OutboxKind::ALL {
            let pending_filter =
                doc! { "kind": kind.as_str(), "state": OutboxState::Pending.as_str() };
            let pending = self
                .outbox()
                .count_documents(pending_filter.clone())
                .await
                .ctx("count pending outbox items")?;
            let mut leased_filter = pending_filter.clone();
            leased_filter.insert("lease_until", doc! { "$gt": now.0 });
            let leased = self
                .outbox()
                .count_documents(leased_filter)
                .await
                .ctx("count leased outbox items")?;
            let dead = self
                .outbox()
                .count_documents(dead_filter(None, Some(*kind)))
                .await
                .ctx("count dead outbox items")?;
            let oldest = self
                .outbox()
                .find_one(pending_filter)
                .sort(doc! { "created_at": 1 })
                .await
                .ctx("oldest outbox item")?
                .map(|d| from_doc::<ItemDoc>(d, "outbox item"))
                .transpose()?
                .map(|d| Ts(d.created_at));
            out.push(OutboxStats {
                kind: *kind,
                pending,
                leased,
                dead,
                oldest_pending: oldest,
            });
        }
        Ok(out)
    }
}
