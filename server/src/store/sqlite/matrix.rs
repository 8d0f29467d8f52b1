//! The Matrix bridge's links on SQLite: tables `matrix_rooms`, `matrix_users`,
//! `matrix_events` (a JSON document beside its unique keys) and `matrix_txns`.

use async_trait::async_trait;
use rusqlite::params;

use super::{exec, query_count, query_doc, query_docs, to_json, SqliteStore};
use crate::store::matrix::{MatrixEventLink, MatrixRoomLink, MatrixStore, MatrixUserLink};
use crate::store::{StoreResult, Ts};

#[async_trait]
impl MatrixStore for SqliteStore {
    async fn put_matrix_room(&self, link: &MatrixRoomLink) -> StoreResult<()> {
        let (rid, mrid, at, doc) = (
            link.room_id.clone(),
            link.matrix_room_id.clone(),
            link.created_at.0,
            to_json(link)?,
        );
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO matrix_rooms (room_id, matrix_room_id, created_at, doc) \
                 VALUES (?1, ?2, ?3, ?4) ON CONFLICT(room_id) DO UPDATE SET \
                 matrix_room_id = excluded.matrix_room_id, doc = excluded.doc",
                params![rid, mrid, at, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn matrix_room_by_room(&self, room_id: &str) -> StoreResult<Option<MatrixRoomLink>> {
        let id = room_id.to_string();
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM matrix_rooms WHERE room_id = ?1",
                [&id],
            )
        })
        .await
    }

    async fn matrix_room_by_matrix(
        &self,
        matrix_room_id: &str,
    ) -> StoreResult<Option<MatrixRoomLink>> {
        let id = matrix_room_id.to_string();
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM matrix_rooms WHERE matrix_room_id = ?1",
                [&id],
            )
        })
        .await
    }

    async fn delete_matrix_room(&self, room_id: &str) -> StoreResult<bool> {
        let id = room_id.to_string();
        self.write(move |conn| {
            Ok(exec(conn, "DELETE FROM matrix_rooms WHERE room_id = ?1", [&id])? > 0)
        })
        .await
    }

    async fn matrix_rooms(&self) -> StoreResult<Vec<MatrixRoomLink>> {
        self.read(|conn| {
            query_docs(
                conn,
                "SELECT doc FROM matrix_rooms ORDER BY created_at, room_id",
                [],
            )
        })
        .await
    }

    async fn put_matrix_user(&self, link: &MatrixUserLink) -> StoreResult<()> {
        let (uid, mxid, doc) = (link.user_id.clone(), link.mxid.clone(), to_json(link)?);
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO matrix_users (user_id, mxid, doc) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(user_id) DO UPDATE SET mxid = excluded.mxid, doc = excluded.doc",
                params![uid, mxid, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn matrix_user_by_user(&self, user_id: &str) -> StoreResult<Option<MatrixUserLink>> {
        let id = user_id.to_string();
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM matrix_users WHERE user_id = ?1",
                [&id],
            )
        })
        .await
    }

    async fn matrix_user_by_mxid(&self, mxid: &str) -> StoreResult<Option<MatrixUserLink>> {
        let id = mxid.to_string();
        self.read(move |conn| {
            query_doc(conn, "SELECT doc FROM matrix_users WHERE mxid = ?1", [&id])
        })
        .await
    }

    async fn insert_matrix_event(&self, link: &MatrixEventLink) -> StoreResult<bool> {
        let (eid, key, doc) = (link.event_id.clone(), link.key.clone(), to_json(link)?);
        self.write(move |conn| {
            Ok(exec(
                conn,
                "INSERT OR IGNORE INTO matrix_events (event_id, key, doc) VALUES (?1, ?2, ?3)",
                params![eid, key, doc],
            )? > 0)
        })
        .await
    }

    async fn matrix_event(&self, event_id: &str) -> StoreResult<Option<MatrixEventLink>> {
        let id = event_id.to_string();
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM matrix_events WHERE event_id = ?1",
                [&id],
            )
        })
        .await
    }

    async fn matrix_event_by_key(&self, key: &str) -> StoreResult<Option<MatrixEventLink>> {
        let key = key.to_string();
        self.read(move |conn| {
            query_doc(conn, "SELECT doc FROM matrix_events WHERE key = ?1", [&key])
        })
        .await
    }

    async fn delete_matrix_event(&self, event_id: &str) -> StoreResult<bool> {
        let id = event_id.to_string();
        self.write(move |conn| {
            Ok(exec(conn, "DELETE FROM matrix_events WHERE event_id = ?1", [&id])? > 0)
        })
        .await
    }

    async fn matrix_txn_done(&self, txn_id: &str) -> StoreResult<bool> {
        let id = txn_id.to_string();
        self.read(move |conn| {
            Ok(query_count(
                conn,
                "SELECT count(*) FROM matrix_txns WHERE txn_id = ?1",
                [&id],
            )? > 0)
        })
        .await
    }

    async fn mark_matrix_txn(&self, txn_id: &str, at: Ts) -> StoreResult<()> {
        let id = txn_id.to_string();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT OR IGNORE INTO matrix_txns (txn_id, at) VALUES (?1, ?2)",
                params![id, at.0],
            )
            .map(drop)
        })
        .await
    }

    async fn matrix_outbox_pending_before(
        &self,
        prefix: &str,
        created_at: Ts,
        id: &str,
    ) -> StoreResult<bool> {
        let (prefix, id) = (prefix.to_string(), id.to_string());
        self.read(move |conn| {
            // An empty prefix (every room) has no successor: a key never starts
            // with the last code point.
            let end = super::apps::prefix_end(&prefix).unwrap_or_else(|| char::MAX.to_string());
            Ok(query_count(
                conn,
                MATRIX_PENDING_BEFORE,
                params![created_at.0, id, prefix, end],
            )? > 0)
        })
        .await
    }
}

/// Whether a room's Matrix item older than the given one is still pending: a range
/// of the queue's unique (kind, dedupe_key) index over the room's keys (the prefix
/// up to its successor), stopping at the first
/// hit, so the cost is at most the room's queued items, not the queue.
pub(super) const MATRIX_PENDING_BEFORE: &str = "SELECT EXISTS (SELECT 1 FROM outbox
     WHERE kind = 'matrix' AND dedupe_key >= ?3 AND dedupe_key < ?4 AND state = 'pending'
       AND (created_at < ?1 OR (created_at = ?1 AND id < ?2)))";
