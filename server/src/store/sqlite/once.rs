//! Single-use keys on SQLite: table `once_keys`.

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension};

use super::{exec, SqliteStore};
use crate::store::once::OnceStore;
use crate::store::{StoreError, StoreResult, Ts};

fn backend(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[async_trait]
impl OnceStore for SqliteStore {
    async fn put_once(
        &self,
        kind: &str,
        key: &str,
        value: &str,
        expires: Ts,
        now: Ts,
    ) -> StoreResult<bool> {
        let (kind, key, value) = (kind.to_string(), key.to_string(), value.to_string());
        self.write(move |conn| {
            // Expired keys go first, so that the table stays small and an expired
            // key can be used again.
            exec(
                conn,
                "DELETE FROM once_keys WHERE expires <= ?1",
                params![now.0],
            )?;
            let added = exec(
                conn,
                "INSERT OR IGNORE INTO once_keys (kind, key, value, expires) VALUES (?1, ?2, ?3, ?4)",
                params![kind, key, value, expires.0],
            )?;
            Ok(added > 0)
        })
        .await
    }

    async fn take_once(&self, kind: &str, key: &str, now: Ts) -> StoreResult<Option<String>> {
        let (kind, key) = (kind.to_string(), key.to_string());
        self.write(move |conn| {
            conn.query_row(
                "DELETE FROM once_keys WHERE kind = ?1 AND key = ?2 AND expires > ?3 RETURNING value",
                params![kind, key, now.0],
                |r| r.get::<_, String>(0),
            )
            .optional()
            .map_err(backend)
        })
        .await
    }
}
