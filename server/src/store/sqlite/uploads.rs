//! Upload records on SQLite: table `uploads`, one JSON document per file next to the
//! columns it is looked up by (room, message, expiry, lower-cased name).

use async_trait::async_trait;
use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

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

/// The total and page statements of a room's files (`channels.files`), newest
/// first: the room's range of the partial index `uploads_room_kept` (rid,
/// uploaded_at, id; kept files only), walked in its order and stopped at the
/// `LIMIT`; `OFFSET` (Rocket.Chat's) costs one index step per skipped file. The
/// total Rocket.Chat's response carries is counted in that range (covering, no
/// document read), so it costs the room's file count, never its history; with a
/// name filter (a substring no index serves) each of the room's files is read once.
pub(super) fn room_uploads_statements(named: bool) -> (String, String) {
    let filter = if named {
        "WHERE rid = ?1 AND expires_at IS NULL AND json_extract(doc, '$.typeGroup') IS NULL \
         AND name_key LIKE ?2 ESCAPE '\\'"
    } else {
        "WHERE rid = ?1 AND expires_at IS NULL AND json_extract(doc, '$.typeGroup') IS NULL"
    };
    let n = if named { 3 } else { 2 };
    (
        format!("SELECT count(*) FROM uploads {filter}"),
        format!(
            "SELECT doc FROM uploads {filter} ORDER BY uploaded_at DESC, id DESC \
             LIMIT ?{n} OFFSET ?{}",
            n + 1
        ),
    )
}

/// The expiry sweep: a range of `uploads_expiry_order` in its order.
pub(super) const EXPIRED_UPLOADS: &str = "SELECT doc FROM uploads
     WHERE expires_at IS NOT NULL AND expires_at <= ?1 ORDER BY expires_at, id LIMIT ?2";

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
        self.write_freeing(move |conn| {
            Ok(exec(conn, "DELETE FROM uploads WHERE id = ?1", [&id])? > 0)
        })
        .await
    }

    async fn room_uploads(
        &self,
        rid: &str,
        name: Option<&str>,
        page: Page,
    ) -> StoreResult<Listing<Upload>> {
        let rid = rid.to_string();
        let pattern = name.filter(|n| !n.is_empty()).map(like_pattern);
        self.read(move |conn| {
            let (count_sql, page_sql) = room_uploads_statements(pattern.is_some());
            let mut args: Vec<Value> = vec![rid.into()];
            args.extend(pattern.map(Value::from));
            let total = query_count(conn, &count_sql, params_from_iter(&args))?;
            args.push(limit(page.count).into());
            args.push(limit(page.offset).into());
            let items = query_docs(conn, &page_sql, params_from_iter(&args))?;
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
        self.read(move |conn| query_docs(conn, EXPIRED_UPLOADS, params![now.0, limit(max)]))
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
