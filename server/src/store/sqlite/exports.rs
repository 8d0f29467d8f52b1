//! Data export operations on SQLite: table `export_operations`, one JSON document
//! per operation next to the person, kind and time it is found by.

use async_trait::async_trait;
use rusqlite::params;

use super::{exec, query_doc, to_json, SqliteStore};
use crate::store::exports::{ExportOperation, ExportStore};
use crate::store::StoreResult;

#[async_trait]
impl ExportStore for SqliteStore {
    async fn insert_export(&self, op: &ExportOperation) -> StoreResult<()> {
        let op = op.clone();
        self.write(move |conn| {
            exec(
                conn,
                "INSERT INTO export_operations (id, uid, full, created_at, doc)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    op.id,
                    op.user_id,
                    op.full_export,
                    op.created_at.0,
                    to_json(&op)?
                ],
            )
            .map(drop)
        })
        .await
    }

    async fn export_by_id(&self, id: &str) -> StoreResult<Option<ExportOperation>> {
        let id = id.to_string();
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM export_operations WHERE id = ?1",
                [id],
            )
        })
        .await
    }

    async fn last_export(
        &self,
        user_id: &str,
        full_export: bool,
    ) -> StoreResult<Option<ExportOperation>> {
        let uid = user_id.to_string();
        self.read(move |conn| {
            query_doc(
                conn,
                "SELECT doc FROM export_operations WHERE uid = ?1 AND full = ?2
                 ORDER BY created_at DESC, id DESC LIMIT 1",
                params![uid, full_export],
            )
        })
        .await
    }

    async fn update_export(&self, op: &ExportOperation) -> StoreResult<bool> {
        let op = op.clone();
        self.write(move |conn| {
            let n = exec(
                conn,
                "UPDATE export_operations SET doc = ?2 WHERE id = ?1",
                params![op.id, to_json(&op)?],
            )?;
            Ok(n > 0)
        })
        .await
    }
}
