//! The Matrix bridge's links on MongoDB: collections `matrix_rooms` (`_id` = room
//! id, unique `matrixRoomId`), `matrix_users` (`_id` = user id, unique `mxid`),
//! `matrix_events` (`_id` = event id, unique `key`) and `matrix_txns` (`_id` = txn id).

use async_trait::async_trait;
use mongodb::bson::{doc, Document};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};

use super::{backend, collect, from_doc, is_duplicate, to_doc, write_error, Ctx, MongoStore};
use crate::store::matrix::{MatrixEventLink, MatrixRoomLink, MatrixStore, MatrixUserLink};
use crate::store::{StoreResult, Ts};

const ROOMS: &str = "matrix_rooms";
const USERS: &str = "matrix_users";
const EVENTS: &str = "matrix_events";
const TXNS: &str = "matrix_txns";

fn unique(keys: Document, name: &str) -> IndexModel {
    IndexModel::builder()
        .keys(keys)
        .options(
            IndexOptions::builder()
                .name(name.to_string())
                .unique(true)
                .build(),
        )
        .build()
}

impl MongoStore {
    /// Creates the bridge's indexes (idempotently).
    pub(super) async fn create_matrix_indexes(&self) -> StoreResult<()> {
        let plan = [
            (ROOMS, unique(doc! { "matrixRoomId": 1 }, "by_matrix_room")),
            (USERS, unique(doc! { "mxid": 1 }, "by_mxid")),
            (EVENTS, unique(doc! { "key": 1 }, "by_key")),
        ];
        for (name, index) in plan {
            self.coll(name).create_indexes([index]).await.map_err(|e| {
                backend(&format!("creating indexes on {}.{name}", self.database), e)
            })?;
        }
        Ok(())
    }

    fn matrix(&self, name: &str) -> Collection<Document> {
        self.coll(name)
    }
}

#[async_trait]
impl MatrixStore for MongoStore {
    async fn put_matrix_room(&self, link: &MatrixRoomLink) -> StoreResult<()> {
        self.matrix(ROOMS)
            .replace_one(doc! { "_id": &link.room_id }, to_doc(link, "matrix room")?)
            .upsert(true)
            .await
            .map_err(|e| write_error("put matrix room", e, &[], "matrix room"))?;
        Ok(())
    }

    async fn matrix_room_by_room(&self, room_id: &str) -> StoreResult<Option<MatrixRoomLink>> {
        self.matrix(ROOMS)
            .find_one(doc! { "_id": room_id })
            .await
            .ctx("find matrix room")?
            .map(|d| from_doc(d, "matrix room"))
            .transpose()
    }

    async fn matrix_room_by_matrix(
        &self,
        matrix_room_id: &str,
    ) -> StoreResult<Option<MatrixRoomLink>> {
        self.matrix(ROOMS)
            .find_one(doc! { "matrixRoomId": matrix_room_id })
            .await
            .ctx("find matrix room")?
            .map(|d| from_doc(d, "matrix room"))
            .transpose()
    }

    async fn delete_matrix_room(&self, room_id: &str) -> StoreResult<bool> {
        let r = self
            .matrix(ROOMS)
            .delete_one(doc! { "_id": room_id })
            .await
            .ctx("delete matrix room")?;
        Ok(r.deleted_count > 0)
    }

    async fn matrix_rooms(&self) -> StoreResult<Vec<MatrixRoomLink>> {
        let cursor = self
            .matrix(ROOMS)
            .find(doc! {})
            .sort(doc! { "createdAt": 1, "_id": 1 })
            .await
            .ctx("list matrix rooms")?;
        collect(cursor, "matrix room").await
    }

    async fn put_matrix_user(&self, link: &MatrixUserLink) -> StoreResult<()> {
        self.matrix(USERS)
            .replace_one(doc! { "_id": &link.user_id }, to_doc(link, "matrix user")?)
            .upsert(true)
            .await
            .map_err(|e| write_error("put matrix user", e, &[], "mxid"))?;
        Ok(())
    }

    async fn matrix_user_by_user(&self, user_id: &str) -> StoreResult<Option<MatrixUserLink>> {
        self.matrix(USERS)
            .find_one(doc! { "_id": user_id })
            .await
            .ctx("find matrix user")?
            .map(|d| from_doc(d, "matrix user"))
            .transpose()
    }

    async fn matrix_user_by_mxid(&self, mxid: &str) -> StoreResult<Option<MatrixUserLink>> {
        self.matrix(USERS)
            .find_one(doc! { "mxid": mxid })
            .await
            .ctx("find matrix user")?
            .map(|d| from_doc(d, "matrix user"))
            .transpose()
    }

    async fn insert_matrix_event(&self, link: &MatrixEventLink) -> StoreResult<bool> {
        match self
            .matrix(EVENTS)
            .insert_one(to_doc(link, "matrix event")?)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_duplicate(&e) => Ok(false),
            Err(e) => Err(write_error("insert matrix event", e, &[], "id")),
        }
    }

    async fn matrix_event(&self, event_id: &str) -> StoreResult<Option<MatrixEventLink>> {
        self.matrix(EVENTS)
            .find_one(doc! { "_id": event_id })
            .await
            .ctx("find matrix event")?
            .map(|d| from_doc(d, "matrix event"))
            .transpose()
    }

    async fn matrix_event_by_key(&self, key: &str) -> StoreResult<Option<MatrixEventLink>> {
        self.matrix(EVENTS)
            .find_one(doc! { "key": key })
            .await
            .ctx("find matrix event")?
            .map(|d| from_doc(d, "matrix event"))
            .transpose()
    }

    async fn delete_matrix_event(&self, event_id: &str) -> StoreResult<bool> {
        let r = self
            .matrix(EVENTS)
            .delete_one(doc! { "_id": event_id })
            .await
            .ctx("delete matrix event")?;
        Ok(r.deleted_count > 0)
    }

    async fn matrix_txn_done(&self, txn_id: &str) -> StoreResult<bool> {
        Ok(self
            .matrix(TXNS)
            .find_one(doc! { "_id": txn_id })
            .await
            .ctx("find matrix txn")?
            .is_some())
    }

    async fn mark_matrix_txn(&self, txn_id: &str, at: Ts) -> StoreResult<()> {
        match self
            .matrix(TXNS)
            .insert_one(doc! { "_id": txn_id, "at": at.0 })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_duplicate(&e) => Ok(()),
            Err(e) => Err(write_error("mark matrix txn", e, &[], "id")),
        }
    }

    async fn matrix_outbox_pending_before(
        &self,
        prefix: &str,
        created_at: Ts,
        id: &str,
    ) -> StoreResult<bool> {
        let pattern = format!("^{}", regex_quote(prefix));
        let filter = doc! {
            "kind": "matrix",
            "state": "pending",
            "dedupe_key": { "$regex": pattern },
            "$or": [
                { "created_at": { "$lt": created_at.0 } },
                { "created_at": created_at.0, "_id": { "$lt": id } },
            ],
        };
        // The room's keys are a prefix range of the queue's unique (kind,
        // dedupe_key) index: the work is the room's queued items, not the queue.
        Ok(self
            .coll("outbox")
            .find_one(filter)
            .hint(mongodb::options::Hint::Name("uniq_kind_dedupe".into()))
            .await
            .ctx("earlier matrix outbox item")?
            .is_some())
    }
}

fn regex_quote(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if "\\.^$|?*+()[]{}".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
