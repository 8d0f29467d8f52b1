//! Upload records on SQLite: table `uploads`, one JSON document per file next to the
//! columns it is looked up by (room, message, expiry, lower-cased name).

use async_trait::async_trait;
use rusqlite::params;

use super::{exec, like_pattern, query_count, query_doc, query_docs, to_json, SqliteStore};
use crate::store::uploads::{Upload, UploadStore};
use crate::store::{Listing, Page, StoreResult, Ts};

/// The indexed columns of a record, then its document.
type Columns = (
    String,
    String,
    Option<String>,
    Option<i64>,
    i64,
    String,
    String,
);

fn columns(u: &Upload) -> StoreResult<Columns> {
    Ok((
        u.id.clone(),
        u.rid.clone(),
        u.message_id.clone(),
        u.expires_at.map(|t| t.0),
        u.uploaded_at.0,
        u.name.to_lowercase(),
        to_json(u)?,
    ))
}

fn limit(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl UploadStore for SqliteStore {
    async fn insert_upload(&self, upload: &Upload) -> StoreResult<()> {
        let (id, rid, mid, exp, at, name, doc) = columns(upload)?;
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO uploads (id, rid, message_id, expires_at, uploaded_at, name_key, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![id, rid, mid, exp, at, name, doc],
            )
            .map(drop)
        })
        .await
    }

    async fn upload(&self, id: &str) -> StoreResult<Option<Upload>> {
        let id = id.to_string();
        self.read(move |conn| query_doc(conn, "SELECT doc FROM uploads WHERE id = ?1", [&id]))
            .await
    }

    async fn update_upload(&self, upload: &Upload) -> StoreResult<bool> {
        let (id, rid, mid, exp, at, name, doc) = columns(upload)?;
        self.write(move |conn| {
            Ok(exec(
                conn,
                "UPDATE uploads SET rid = ?2, message_id = ?3, expires_at = ?4, uploaded_at = ?5,
                 name_key = ?6, doc = ?7 WHERE id = ?1",
                params![id, rid, mid, exp, at, name, doc],
            )? > 0)
        })
        .await
    }

    async fn delete_upload(&self, id: &str) -> StoreResult<bool> {
        let id = id.to_string();
        self.write(move |conn| Ok(exec(conn, "DELETE FROM uploads WHERE id = ?1", [&id])? > 0))
            .await
    }

    async fn room_uploads(
        &self,
        rid: &str,
        name: Option<&str>,
        page: Page,
    ) -> StoreResult<Listing<Upload>> {
        let rid = rid.to_string();
        let pattern = like_pattern(name.unwrap_or(""));
        self.read(move |conn| {
            let filter = "WHERE rid = ?1 AND expires_at IS NULL AND name_key LIKE ?2 ESCAPE '\\'";
            let total = query_count(
                conn,
                &format!("SELECT count(*) FROM uploads {filter}"),
                params![rid, pattern],
            )?;
            let items = query_docs(
                conn,
                &format!(
                    "SELECT doc FROM uploads {filter} ORDER BY uploaded_at DESC, id DESC \
                     LIMIT ?3 OFFSET ?4"
                ),
                params![rid, pattern, limit(page.count), limit(page.offset)],
            )?;
            Ok(Listing { items, total })
        })
        .await
    }

    async fn all_room_uploads(&self, rid: &str) -> StoreResult<Vec<Upload>> {
        let rid = rid.to_string();
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM uploads WHERE rid = ?1 ORDER BY uploaded_at, id",
                [&rid],
            )
        })
        .await
    }

    async fn message_uploads(&self, message_id: &str) -> StoreResult<Vec<Upload>> {
        let mid = message_id.to_string();
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM uploads WHERE message_id = ?1 ORDER BY uploaded_at, id",
                [&mid],
            )
        })
        .await
    }

    async fn expired_uploads(&self, now: Ts, max: u64) -> StoreResult<Vec<Upload>> {
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM uploads WHERE expires_at IS NOT NULL AND expires_at <= ?1
                 ORDER BY expires_at, id LIMIT ?2",
                params![now.0, limit(max)],
            )
        })
        .await
    }

    async fn uploads_elsewhere(&self, store: &str, max: u64) -> StoreResult<Vec<Upload>> {
        let store = store.to_string();
        self.read(move |conn| {
            query_docs(
                conn,
                "SELECT doc FROM uploads WHERE json_extract(doc, '$.state') = 'stored'
                 AND json_extract(doc, '$.store') <> ?1 ORDER BY uploaded_at, id LIMIT ?2",
                params![store, limit(max)],
            )
        })
        .await
    }

    async fn count_uploads_elsewhere(&self, store: &str) -> StoreResult<u64> {
        let store = store.to_string();
        self.read(move |conn| {
            query_count(
                conn,
                "SELECT count(*) FROM uploads WHERE json_extract(doc, '$.state') = 'stored'
                 AND json_extract(doc, '$.store') <> ?1",
                params![store],
            )
        })
        .await
    }
}
